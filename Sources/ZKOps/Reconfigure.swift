import Foundation
import ZKClient
import ZKCore
import ZKProtocol

/// The super user zkops authenticates as for `reconfig` (the servers get its digest in zoo.cfg as
/// `DigestAuthenticationProvider.superDigest`, a key Apache also reads, as a system property).
public enum SuperUser {
    public static let name = "super"

    /// The digest line for zoo.cfg: `super:base64(sha1("super:secret"))`.
    public static func digest(secret: String) -> String { DigestAuth.digest("\(name):\(secret)") }

    /// The secret kept next to the inventory (`.zkops/<inventory>.super`, mode 0600), created with
    /// 32 random hex characters the first time.
    public static func loadOrCreate(inventoryPath: String) throws -> String {
        let url = URL(fileURLWithPath: inventoryPath).standardizedFileURL
        let dir = url.deletingLastPathComponent().appendingPathComponent(".zkops")
        let file = dir.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".super")
        if let d = FileManager.default.contents(atPath: file.path) {
            let s = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard s.count >= 16 else { throw MembershipError("\(file.path) holds no usable secret (delete it to make a new one)") }
            return s
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var rng = SystemRandomNumberGenerator()
        let secret = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
        guard FileManager.default.createFile(atPath: file.path, contents: Data((secret + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw MembershipError("cannot create \(file.path)")
        }
        return secret
    }
}

/// Runs async client code from zkops' synchronous, thread-per-host world.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// A live server zkops can talk to as a client.
public struct ClientEndpoint: Sendable, Equatable, Codable {
    public var address: String
    public var port: Int
    public init(address: String, port: Int) { self.address = address; self.port = port }
}

/// Runs `body` in a session with `endpoint`, closed afterwards whatever happens, and parses the
/// config text it returns.
private func withSession(_ endpoint: ClientEndpoint, timeout: Double = 10,
                         _ body: @escaping @Sendable (ZooKeeperClient) async throws -> String) throws -> EnsembleConfig {
    let text: String = try blocking {
        let zk = try await ZooKeeperClient.connect(host: endpoint.address, port: endpoint.port,
                                                   sessionTimeout: .milliseconds(Int64(timeout * 1000)))
        do {
            let text = try await body(zk)
            await zk.close()
            return text
        } catch {
            await zk.close()
            throw error
        }
    }
    return try EnsembleConfig.parse(text)
}

/// Reads `/zookeeper/config` from `endpoint`.
public func readLiveConfig(_ endpoint: ClientEndpoint, timeout: Double = 10) throws -> EnsembleConfig {
    try withSession(endpoint, timeout: timeout) { zk in try await zk.getConfig().0 }
}

/// Issues the plan's `reconfig` through `endpoint` as the super user and returns the new config.
/// NewConfigNoQuorum (the new servers not synced with the leader yet) is retried until `timeout`.
public func applyReconfig(_ plan: MembershipPlan, via endpoint: ClientEndpoint, secret: String, timeout: Double,
                          progress: @Sendable (String) -> Void) throws -> EnsembleConfig {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        do {
            return try withSession(endpoint) { zk in
                try await zk.addAuth(scheme: "digest", auth: Array("\(SuperUser.name):\(secret)".utf8))
                return try await zk.reconfig(joining: plan.joining.map(\.line), leaving: plan.leaving,
                                             fromConfig: plan.fromVersion ?? -1).0
            }
        } catch let e as ZooKeeperError where e.code == .newConfigNoQuorum && Date() < deadline {
            progress("  reconfig: the new servers are not synced with the leader yet (NewConfigNoQuorum); retrying")
            Thread.sleep(forTimeInterval: 0.25)
        } catch let e as ZooKeeperError {
            let hint: String
            switch e.code {
            case .noAuth: hint = " (the servers do not know zkops' super digest: deploy their zoo.cfg first)"
            case .reconfigDisabled: hint = " (reconfigEnabled=false on the servers)"
            case .badVersion: hint = " (the membership changed since zkops read it: run again)"
            case .reconfigInProgress: hint = " (another reconfig is under way: run again)"
            default: hint = ""
            }
            throw MembershipError("reconfig via \(endpoint.address):\(endpoint.port) failed: \(e)\(hint)")
        }
    }
}

/// How zkops talks to a running ensemble as a client (ZKClient; a stub in tests).
public protocol EnsembleClient: Sendable {
    /// The live membership, from `/zookeeper/config`.
    func readConfig(_ endpoint: ClientEndpoint) throws -> EnsembleConfig
    /// Applies `plan` by reconfig and returns the new membership.
    func reconfig(_ plan: MembershipPlan, via endpoint: ClientEndpoint, secret: String, timeout: Double,
                  progress: @Sendable (String) -> Void) throws -> EnsembleConfig
}

/// The real one, over ZKClient. Call it from plain threads (zkops' own), not from a Swift
/// concurrency thread: it waits for async work.
public struct ZKEnsembleClient: EnsembleClient {
    public init() {}
    public func readConfig(_ endpoint: ClientEndpoint) throws -> EnsembleConfig { try readLiveConfig(endpoint) }
    public func reconfig(_ plan: MembershipPlan, via endpoint: ClientEndpoint, secret: String, timeout: Double,
                         progress: @Sendable (String) -> Void) throws -> EnsembleConfig {
        try applyReconfig(plan, via: endpoint, secret: secret, timeout: timeout, progress: progress)
    }
}

/// The membership part of a deploy, decided before any host is touched.
public struct MembershipStep: Sendable, Codable {
    public var live: EnsembleConfig
    public var plan: MembershipPlan
    /// Where the config was read, and where the reconfig goes.
    public var endpoint: ClientEndpoint
}

/// Reads the live membership and compares it with the inventory. Nil when no member serves
/// (a first deploy: there is nothing to reconfigure), when a server runs standalone, or when
/// nothing differs. Throws (a gate: nothing was changed) when the change would be unsafe.
public func prepareMembership(_ inventory: Inventory, context: OpsContext) throws -> MembershipStep? {
    let probes = probeAll(inventory, context: context)
    let serving = probes.filter { ["leader", "follower", "observer"].contains($0.mode) }
    if probes.contains(where: { $0.mode == "standalone" }) { return nil }
    // The leader first: a reconfig sent elsewhere is forwarded to it anyway.
    guard let via = serving.first(where: { $0.mode == "leader" }) ?? serving.first else { return nil }
    let endpoint = ClientEndpoint(address: via.address, port: via.clientPort)
    let live: EnsembleConfig
    do {
        live = try context.ensemble.readConfig(endpoint)
    } catch {
        throw MembershipError("cannot read the live membership from \(via.name) (\(endpoint.address):\(endpoint.port)): \(error)")
    }
    guard !live.servers.isEmpty else { return nil }
    let plan = planMembership(inventory: inventory.hosts, live: live)
    guard !plan.isEmpty else { return nil }
    // Who is up, asked of every live member by its own address (some may be absent from the inventory).
    let liveProbes = inParallel(live.servers) { s -> (Int, Bool) in
        guard let port = s.clientPort else { return (s.id, false) }
        let spec = HostSpec(name: "server.\(s.id)", address: s.address, id: s.id, role: s.role, connection: .ssh,
                            server: { var x = ServerSettings(); x.clientPort = port; return x }(), ssh: SSHSettings())
        let p = probe(spec, client: context.fourLetter)
        return (s.id, ["leader", "follower", "observer"].contains(p.mode))
    }
    let alive = Set(liveProbes.filter(\.1).map(\.0))
    if let why = membershipRefusal(plan, live: live, alive: alive) {
        throw MembershipError("refused: " + why)
    }
    return MembershipStep(live: live, plan: plan, endpoint: endpoint)
}

/// A joiner's first dynamic file: the live membership plus itself (Apache's procedure for
/// adding a server), so it finds the leader and syncs before the reconfig makes it a member.
public func joinerDynamicFile(_ step: MembershipStep, joiner: HostSpec) -> String {
    var servers = step.live.servers.filter { $0.id != joiner.id }
    servers.append(ServerLine(joiner))
    return EnsembleConfig(servers: servers, version: nil).text
}

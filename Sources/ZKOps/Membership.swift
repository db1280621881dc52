import Foundation

/// One `server.N=` line of a dynamic config:
/// `address:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]`.
public struct ServerLine: Sendable, Equatable, Codable {
    public var id: Int
    public var address: String
    public var quorumPort: Int
    public var electionPort: Int
    public var role: Role
    /// nil when the line has no client part.
    public var clientPort: Int?

    public init(id: Int, address: String, quorumPort: Int, electionPort: Int, role: Role, clientPort: Int?) {
        self.id = id; self.address = address; self.quorumPort = quorumPort; self.electionPort = electionPort
        self.role = role; self.clientPort = clientPort
    }

    /// The line a host of the inventory stands for.
    public init(_ host: HostSpec) {
        self.init(id: host.id, address: host.address, quorumPort: host.server.quorumPort,
                  electionPort: host.server.electionPort, role: host.role, clientPort: host.server.clientPort)
    }

    /// Parses the value of `server.<id>=`; nil when it is not a server spec.
    public init?(id: Int, spec: String) {
        let halves = spec.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let peer = halves[0].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard peer.count == 3 || peer.count == 4, !peer[0].isEmpty,
              let q = Int(peer[1]), let e = Int(peer[2]) else { return nil }
        var role = Role.participant
        if peer.count == 4 {
            guard let r = Role(rawValue: peer[3].lowercased()) else { return nil }
            role = r
        }
        var client: Int?
        if halves.count == 2, !halves[1].isEmpty {
            // `[address:]port`; the address is where the server listens, not part of membership.
            guard let p = Int(halves[1].split(separator: ":").last ?? "") else { return nil }
            client = p
        }
        self.init(id: id, address: peer[0], quorumPort: q, electionPort: e, role: role, clientPort: client)
    }

    /// The spec as zkops renders it and `reconfig` takes it (without the `server.N=`).
    public var spec: String {
        "\(address):\(quorumPort):\(electionPort):\(role.rawValue)" + (clientPort.map { ";\($0)" } ?? "")
    }

    /// `server.N=spec`.
    public var line: String { "server.\(id)=\(spec)" }
}

/// A dynamic configuration as the ensemble publishes it in `/zookeeper/config`.
public struct EnsembleConfig: Sendable, Equatable, Codable {
    public var servers: [ServerLine]
    /// The `version=` (a zxid, hex on the wire); nil when the text has none.
    public var version: Int64?

    public init(servers: [ServerLine], version: Int64?) {
        self.servers = servers.sorted { $0.id < $1.id }
        self.version = version
    }

    /// Reads the text of `/zookeeper/config` or a `zoo.cfg.dynamic.*` file. Lines that are not
    /// server lines or `version=` are ignored; a malformed server line is an error.
    public static func parse(_ text: String) throws -> EnsembleConfig {
        var servers: [ServerLine] = []
        var version: Int64?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if key == "version" {
                guard let v = Int64(value, radix: 16) else { throw MembershipError("config version '\(value)' is not hex") }
                version = v
            } else if key.hasPrefix("server."), let id = Int(key.dropFirst("server.".count)) {
                guard let s = ServerLine(id: id, spec: value) else { throw MembershipError("malformed config line \(line)") }
                servers.append(s)
            }
        }
        return EnsembleConfig(servers: servers, version: version)
    }

    public var participants: [ServerLine] { servers.filter { $0.role == .participant } }
    public func server(_ id: Int) -> ServerLine? { servers.first { $0.id == id } }
    /// The config text (server lines only), as a joiner's first dynamic file holds it.
    public var text: String { servers.map(\.line).joined(separator: "\n") + "\n" }
}

/// A membership problem: a config zkops cannot read, or a change it refuses to make.
public struct MembershipError: Error, Sendable, CustomStringConvertible, Codable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How the live membership must change to become the inventory's. Pure data.
public struct MembershipPlan: Sendable, Equatable, Codable {
    /// Servers to add, or whose line changes (role, address, ports): `reconfig` joining.
    public var joining: [ServerLine]
    /// Server ids to remove: `reconfig` leaving.
    public var leaving: [Int]
    /// Ids of `joining` that are already members (a changed line, not a new server).
    public var changed: [Int]
    /// The config version the change is based on (`reconfig -v`).
    public var fromVersion: Int64?

    public var isEmpty: Bool { joining.isEmpty && leaving.isEmpty }
    /// New servers (not yet members): these must be started before the reconfig.
    public var added: [ServerLine] { joining.filter { !changed.contains($0.id) } }

    /// `+ server.4=…`, `~ server.3=…`, `- server.2`, as `zkops plan` prints them.
    public var lines: [String] {
        joining.map { (changed.contains($0.id) ? "~ " : "+ ") + $0.line } + leaving.map { "- server.\($0)" }
    }
}

/// Compares the live membership with the inventory's hosts. Pure.
public func planMembership(inventory: [HostSpec], live: EnsembleConfig) -> MembershipPlan {
    let wanted = inventory.map(ServerLine.init).sorted { $0.id < $1.id }
    var joining: [ServerLine] = []
    var changed: [Int] = []
    for w in wanted {
        guard let have = live.server(w.id) else { joining.append(w); continue }
        // A line without a client port says nothing about it: do not count that as a change.
        var h = have
        if h.clientPort == nil { h.clientPort = w.clientPort }
        if h != w { joining.append(w); changed.append(w.id) }
    }
    let wantedIds = Set(wanted.map(\.id))
    let leaving = live.servers.map(\.id).filter { !wantedIds.contains($0) }
    return MembershipPlan(joining: joining, leaving: leaving, changed: changed, fromVersion: live.version)
}

/// Why a membership change must not be made now, or nil when it is safe. Pure.
///
/// `alive` holds the ids of the live members that answer and serve (leader, follower or
/// observer). New servers are expected to come up (they are started and synced before the
/// `reconfig`, and the server itself refuses with NewConfigNoQuorum if they are not).
public func membershipRefusal(_ plan: MembershipPlan, live: EnsembleConfig, alive: Set<Int>) -> String? {
    guard !plan.isEmpty else { return nil }
    let oldVoters = live.participants.map(\.id)
    let oldAlive = oldVoters.filter(alive.contains)
    if oldAlive.count * 2 <= oldVoters.count {
        return "the ensemble has no quorum now (\(oldAlive.count) of \(oldVoters.count) voters up): "
            + "a membership change needs the current majority; fix the ensemble first"
    }
    // The membership after the change.
    var after: [Int: ServerLine] = [:]
    for s in live.servers where !plan.leaving.contains(s.id) { after[s.id] = s }
    for s in plan.joining { after[s.id] = s }
    let newVoters = after.values.filter { $0.role == .participant }.map(\.id).sorted()
    if newVoters.isEmpty {
        return "the change would remove the last participant (voting member): keep at least one"
    }
    let newIds = Set(plan.added.map(\.id))
    let newAlive = newVoters.filter { alive.contains($0) || newIds.contains($0) }
    if newAlive.count * 2 <= newVoters.count {
        let down = newVoters.filter { !alive.contains($0) && !newIds.contains($0) }.map { "server.\($0)" }
        return "the change would leave no majority alive: \(newAlive.count) of \(newVoters.count) voters of the new "
            + "config are up (down: \(down.joined(separator: ", ")))"
    }
    return nil
}

import Foundation
import Testing
@testable import ZKOps
import ZKSSH

/// An in-memory host: files, a running flag, and a log of what was done to it.
final class FakeHost: @unchecked Sendable {
    let lock = NSLock()
    var name = ""
    /// Shared across hosts: the order of starts and stops.
    var journal: Journal?
    var files: [String: Data] = [:]
    var running = false
    var log: [String] = []
    var unreachable = false

    func record(_ s: String) { lock.withLock { log.append(s) } }
}

final class Journal: @unchecked Sendable {
    private let lock = NSLock()
    private var _lines: [String] = []
    func append(_ s: String) { lock.withLock { _lines.append(s) } }
    var lines: [String] { lock.withLock { _lines } }
}

/// Interprets exactly the commands deploy sends.
final class FakeConnection: HostConnection {
    let host: FakeHost
    init(_ host: FakeHost) { self.host = host }

    /// The apply script (applyHost): install the archive's files, then mark or start.
    func exec(_ command: String, stdin: Data, timeout: Double?) throws -> ExecResult {
        guard let script = ApplyScript.decode(command: command) else {
            return ExecResult(status: 127, stdout: Data(), stderr: Data("fake: stdin for \(command)".utf8))
        }
        return try apply(script, archive: stdin)
    }

    func apply(_ script: ApplyScript, archive: Data) throws -> ExecResult {
        let members = archive.isEmpty ? [] : try Ustar.members(archive)
        return host.lock.withLock {
            for (f, m) in zip(script.files, members) {
                precondition(m.name == String(script.staged(f).dropFirst()), "archive order")
                host.files[f.path] = m.data
                host.log.append("write \(f.path)")
            }
            if let d = script.staleDynamicDir {
                for k in host.files.keys where k.hasPrefix(d + "/zoo.cfg.dynamic.") || k == d + "/zoo.cfg.bak" { host.files[k] = nil }
            }
            switch script.action {
            case .none: break
            case .markRestart:
                host.files[script.restartMarker] = Data()
                host.log.append("touch \(script.restartMarker)")
            case .start:
                host.running = true
                host.log.append("start")
                host.journal?.append("\(host.name) start")
                host.files[script.restartMarker] = nil
            }
            return ExecResult(status: 0, stdout: Data(), stderr: Data())
        }
    }

    func exec(_ command: String, timeout: Double?) throws -> ExecResult {
        func ok(_ s: String = "") -> ExecResult { ExecResult(status: 0, stdout: Data(s.utf8), stderr: Data()) }
        if let script = ApplyScript.decode(command: command) { return try apply(script, archive: Data()) }
        let words = command.split(separator: " ").map(String.init)
        // The facts script (gatherFacts): answer each query from the in-memory files.
        if let list = FactsScript.decode(command: command) {
            return host.lock.withLock { ok(FactsScript.encode(list.queries.map(answer), nonce: list.nonce)) }
        }
        return host.lock.withLock {
            switch words.first {
            case "sha256sum":
                let paths = words.dropFirst(2).prefix { $0 != "2>/dev/null;" }
                return ok(paths.compactMap { p in host.files[p].map { SHA256.hex($0) + "  " + p } }.joined(separator: "\n"))
            case "cat":
                guard let d = host.files[words[2]] else { return ExecResult(status: 1, stdout: Data(), stderr: Data("No such file".utf8)) }
                return ok(String(decoding: d, as: UTF8.self))
            case "sh":
                switch words[2] {
                case "status": return ExecResult(status: host.running ? 0 : 3, stdout: Data(), stderr: Data())
                case "start":
                    host.running = true
                    host.log.append("start")
                    host.journal?.append("\(host.name) start")
                    if let r = words.firstIndex(of: "&&"), words[r + 1] == "rm" { host.files[words[r + 3]] = nil }
                    return ok("started")
                case "stop":
                    host.running = false
                    host.log.append("stop")
                    host.journal?.append("\(host.name) stop")
                    return ok("stopped")
                default: return ExecResult(status: 2, stdout: Data(), stderr: Data("usage".utf8))
                }
            case "mkdir":
                return ok()
            case "rm":
                for w in words.dropFirst(2) { host.files[w] = nil }
                return ok()
            case "touch":
                host.files[words[1]] = Data()
                host.log.append("touch \(words[1])")
                return ok()
            case "test":
                return ExecResult(status: host.files[words[2]] == nil ? 1 : 0, stdout: Data(), stderr: Data())
            default:
                return ExecResult(status: 127, stdout: Data(), stderr: Data("fake: unknown command \(command)".utf8))
            }
        }
    }

    /// One facts query, answered as the shell would on a roomy host with nothing else listening.
    private func answer(_ q: FactQuery) -> FactAnswer {
        switch q {
        case let .hashes(paths, _):
            return FactAnswer(text: paths.compactMap { p in host.files[p].map { SHA256.hex($0) + "  " + p + "\n" } }.joined(), ok: true)
        case let .file(path):
            return host.files[path].map { FactAnswer(text: String(decoding: $0, as: UTF8.self), ok: true) } ?? FactAnswer()
        case let .dynamicFile(zooCfg, fallback):
            let pointer = host.files[zooCfg].flatMap { ZooConfig.parse(String(decoding: $0, as: UTF8.self))["dynamicConfigFile"] } ?? fallback
            let d = host.files[pointer]
            return FactAnswer(text: pointer, ok: d != nil, extra: d.map { String(decoding: $0, as: UTF8.self) } ?? "")
        case let .launcher(path, marker):
            guard host.files[path] != nil else { return FactAnswer() }
            return FactAnswer(text: "\(host.running ? 0 : 3) \(host.files[marker] != nil ? 1 : 0)\n", ok: true)
        case let .test(command):
            let path = command.split(separator: " ").last.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "'")) } ?? ""
            return FactAnswer(ok: host.files[path] != nil)
        case .listeningPorts:
            return FactAnswer(text: "", ok: true)
        case let .freeSpace(path):
            return FactAnswer(text: "fakefs 10000000 0 10000000 0% \(path)\n", ok: true)
        case .java:
            return FactAnswer(text: "/usr/bin/java\n", ok: true)
        case .directory:
            return FactAnswer(ok: true)
        case .zstd:
            return FactAnswer(ok: false)
        }
    }

    func write(_ data: Data, to path: String, mode: Int32) throws {
        host.lock.withLock {
            host.files[path] = data
            host.log.append("write \(path)")
        }
    }

    func close() {}
}

struct FakeFactory: ConnectionFactory {
    let hosts: [String: FakeHost]
    func connect(_ host: HostSpec) throws -> any HostConnection {
        let h = hosts[host.name]!
        if h.unreachable { throw OpsError(host: host.name, step: "connect", "Connection refused") }
        return FakeConnection(h)
    }
}

/// Answers 4lw like a healthy Apache ensemble made of the running fake hosts.
struct FakeFourLetter: FourLetterClient {
    let inventory: Inventory
    let hosts: [String: FakeHost]
    func send(_ word: String, address: String, port: Int, timeout: Double) throws -> String {
        guard let h = inventory.hosts.first(where: { $0.address == address && $0.server.clientPort == port }),
              hosts[h.name]!.lock.withLock({ hosts[h.name]!.running }) else {
            throw ProbeError(endpoint: "\(address):\(port)", message: "Connection refused")
        }
        let running = inventory.hosts.filter { x in hosts[x.name]!.lock.withLock { hosts[x.name]!.running } }
        let leader = running.first!.name
        let mode = h.name == leader ? "leader" : "follower"
        switch word {
        case "ruok": return "imok"
        case "srvr": return "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nConnections: 0\nOutstanding: 0\nZxid: 0x100000000\nMode: \(mode)\nNode count: 5\n"
        case "mntr": return "zk_server_state\t\(mode)\nzk_synced_followers\t\(running.count - 1)\n"
        default: return ""
        }
    }
}

@Suite struct DeployWithFakes {
    func setup() throws -> (Inventory, [String: FakeHost], OpsContext, DeployInputs) {
        let inv = try inventory(threeHosts)
        let journal = Journal()
        let hosts = Dictionary(uniqueKeysWithValues: inv.hosts.map { h in
            let f = FakeHost()
            f.name = h.name
            f.journal = journal
            return (h.name, f)
        })
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("fake-zkserver-\(UUID().uuidString)")
        try Data("#!/bin/true\n".utf8).write(to: bin)
        let ctx = OpsContext(connections: FakeFactory(hosts: hosts), fourLetter: FakeFourLetter(inventory: inv, hosts: hosts),
                             ensemble: SameMembership(inventory: inv))
        return (inv, hosts, ctx, try DeployInputs.prepare(inv, binary: bin.path))
    }

    @Test func firstDeployWritesStartsAndProvesQuorum() throws {
        let (inv, hosts, ctx, inputs) = try setup()
        let r = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        #expect(r.ok, "\(r.failures)")
        #expect(r.verdict?.health == .healthy)
        #expect(!r.unchanged)
        for (_, h) in hosts {
            #expect(h.running)
            #expect(h.files["/opt/zookeeper/bin/zkserver"] != nil)
            #expect(h.files["/opt/zookeeper/conf/zoo.cfg"] != nil)
            #expect(h.log.filter { $0 == "start" }.count == 1)
        }
        #expect(String(decoding: hosts["b"]!.files["/var/lib/zookeeper/myid"]!, as: UTF8.self) == "2\n")
    }

    @Test func secondDeployChangesNothing() throws {
        let (inv, hosts, ctx, inputs) = try setup()
        _ = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        for h in hosts.values { h.log.removeAll() }
        let r = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        #expect(r.ok)
        #expect(r.unchanged)
        #expect(hosts.values.allSatisfy { $0.log.isEmpty })
        #expect(r.hosts.allSatisfy { $0.plan?.action == ServerAction.none })
    }

    @Test func anUnreachableHostLeavesEveryHostUnchanged() throws {
        let (inv, hosts, ctx, inputs) = try setup()
        hosts["c"]!.unreachable = true
        let r = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        #expect(!r.ok)
        #expect(r.failures.map(\.host) == ["c"])
        #expect(r.failures[0].step == "connect")
        #expect(hosts.values.allSatisfy { $0.log.isEmpty && $0.files.isEmpty })
    }

    @Test func quorumTimeoutNamesTheHost() throws {
        let (inv, hosts, ctx, inputs) = try setup()
        _ = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        // Server on c dies, and deploy sees it running = false → restarts it; make it refuse.
        final class Dead: FourLetterClient, @unchecked Sendable {
            let inner: FakeFourLetter
            init(_ i: FakeFourLetter) { inner = i }
            func send(_ w: String, address: String, port: Int, timeout: Double) throws -> String {
                if address == "10.0.0.3" { throw ProbeError(endpoint: address, message: "Connection refused") }
                return try inner.send(w, address: address, port: port, timeout: timeout)
            }
        }
        var ctx2 = ctx
        ctx2.fourLetter = Dead(FakeFourLetter(inventory: inv, hosts: hosts))
        let r = deploy(inv, inputs: inputs, timeout: 2, context: ctx2)
        #expect(!r.ok)
        #expect(r.verdict?.health == .degraded)
        #expect(r.failures.contains { $0.host == "c" && $0.step == "verify quorum" })
    }

    @Test func changedConfigRollsFollowersFirstLeaderLast() throws {
        let (inv, hosts, ctx, inputs) = try setup()
        _ = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        let journal = hosts["a"]!.journal!
        let mark = journal.lines.count
        var changed = inv
        for i in changed.hosts.indices { changed.hosts[i].server.tickTime = 3000 }
        let r = deploy(changed, inputs: try DeployInputs.prepare(changed, binary: inputs.artifacts["a"]![0].localPath), timeout: 5, context: ctx)
        #expect(r.ok, "\(r.failures)")
        #expect(r.hosts.allSatisfy { $0.done.last == "restarted" })
        // The fake's leader is "a" (first running host): it goes last, one host at a time.
        #expect(Array(journal.lines[mark...]) == ["b stop", "b start", "c stop", "c start", "a stop", "a start"])
        #expect(hosts.values.allSatisfy { $0.files["/opt/zookeeper/run/restart-pending"] == nil })
        // Nothing left to do afterwards.
        let again = deploy(changed, inputs: try DeployInputs.prepare(changed, binary: inputs.artifacts["a"]![0].localPath), timeout: 5, context: ctx)
        #expect(again.unchanged)
    }

    @Test func aPendingRestartIsFinishedByTheNextDeploy() throws {
        let (inv, hosts, ctx, inputs) = try setup()
        _ = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        hosts["b"]!.files["/opt/zookeeper/run/restart-pending"] = Data()
        let r = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        #expect(r.ok)
        #expect(r.hosts.first { $0.host == "b" }?.done == ["restarted"])
        #expect(r.hosts.first { $0.host == "a" }?.done == [])
    }

    @Test func reportEncodesAsJSON() throws {
        let (inv, _, ctx, inputs) = try setup()
        let r = deploy(inv, inputs: inputs, timeout: 5, context: ctx)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any]
        #expect((json?["hosts"] as? [Any])?.count == 3)
        #expect(((json?["verdict"] as? [String: Any])?["health"] as? String) == "healthy")
    }
}

/// The live membership is the inventory's: deploys here change no membership.
struct SameMembership: EnsembleClient {
    let inventory: Inventory
    func readConfig(_ endpoint: ClientEndpoint) throws -> EnsembleConfig {
        EnsembleConfig(servers: inventory.hosts.map(ServerLine.init), version: 1)
    }
    func reconfig(_ plan: MembershipPlan, via endpoint: ClientEndpoint, secret: String, timeout: Double,
                  progress: @Sendable (String) -> Void) throws -> EnsembleConfig {
        throw MembershipError("no reconfig expected in these tests")
    }
}

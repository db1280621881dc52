import ArgumentParser
import NIOCore
import NIOPosix
import ZKClient
import ZKProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A raw-protocol, pipelined ZooKeeper load generator.
///
/// Each client is one session that keeps `--outstanding` requests in flight: a new request is
/// written as each reply arrives. Requests are pre-encoded frames with the xid patched in, and
/// replies are read only as far as their header, so the load generator costs the (shared) CPU
/// as little as possible. Setup and cleanup use the ZKClient async API.
@main
struct ZKBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zkbench",
        abstract: "Pipelined load against a ZooKeeper server: ops/s, latency, server CPU per op.",
        discussion: """
            get and set use --nodes pre-created nodes under --root (reused across runs); create makes \
            persistent sequential nodes under a fresh parent, deleted afterwards when --cleanup says so; \
            mixed is 80% get, 20% set.
            """)

    enum Op: String, ExpressibleByArgument, CaseIterable, Sendable, Codable {
        case get, set, create, mixed
    }

    enum Cleanup: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// Delete created nodes when there are at most 50,000 of them.
        case auto
        case always
        case never
    }

    @Option(name: .customLong("server"), help: "host:port; repeat to spread the clients over several servers.")
    var servers: [String] = ["127.0.0.1:2181"]

    @Option(help: "Sessions (connections).")
    var clients = 8

    @Option(help: "Requests each client keeps in flight.")
    var outstanding = 16

    @Option(help: "get, set, create or mixed (80% get / 20% set).")
    var op: Op = .get

    @Option(help: "Bytes of data per set/create and per pre-created node.")
    var valueBytes = 100

    @Option(help: "Measured duration, seconds.")
    var seconds = 10.0

    @Option(help: "Unmeasured load before the measured part, seconds.")
    var warmup = 2.0

    @Option(help: "Pre-created nodes for get/set/mixed.")
    var nodes = 1000

    @Option(help: "Parent of everything zkbench creates.")
    var root = "/zkbench"

    @Option(name: .customLong("pid"), help: "Server process to measure CPU time and RSS of; repeatable (summed).")
    var pids: [Int32] = []

    @Option(help: "Delete the nodes a create run made: auto (if at most 50,000), always, never.")
    var cleanup: Cleanup = .auto

    @Option(help: "Client event-loop threads.")
    var threads = 1

    @Option(help: "Session timeout to request, ms.")
    var sessionTimeoutMs: Int32 = 30_000

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        guard clients > 0, outstanding > 0, nodes > 0, threads > 0 else {
            throw ValidationError("--clients, --outstanding, --nodes and --threads must be positive")
        }
        guard seconds > 0, warmup >= 0 else { throw ValidationError("--seconds must be positive, --warmup not negative") }
        guard valueBytes >= 0, valueBytes <= 1 << 20 else { throw ValidationError("--value-bytes must be in 0...1048576") }
        guard root.hasPrefix("/"), !root.hasSuffix("/") else { throw ValidationError("--root must be an absolute path") }
        _ = try endpoints()
    }

    private func endpoints() throws -> [(host: String, port: Int)] {
        try servers.map { s in
            guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]) else {
                throw ValidationError("--server \(s): expected host:port")
            }
            return (String(s[..<colon]), port)
        }
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            try await run(on: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    private func run(on group: MultiThreadedEventLoopGroup) async throws {
        let endpoints = try endpoints()
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: valueBytes)

        // Setup through the async client on the first server.
        let setup = try await ZooKeeperClient.connect(host: endpoints[0].host, port: endpoints[0].port,
                                                      sessionTimeout: .seconds(30), eventLoopGroup: group)
        try await ensure(setup, root)
        let dataParent = root + "/data"
        var createParent = ""
        if op == .create {
            createParent = try await setup.create(path: root + "/create-", mode: .persistentSequential)
        } else {
            try await ensure(setup, dataParent)
            try await precreate(setup, parent: dataParent, value: value)
        }
        // Followers must have the nodes before the load starts.
        for e in endpoints.dropFirst() {
            let c = try await ZooKeeperClient.connect(host: e.host, port: e.port, eventLoopGroup: group)
            try await c.sync(path: root)
            await c.close()
        }

        // Connect the load sessions.
        var channels: [any Channel] = []
        var finished: [EventLoopFuture<ClientStats>] = []
        for i in 0..<clients {
            let e = endpoints[i % endpoints.count]
            let templates = makeTemplates(client: i, dataParent: dataParent, createParent: createParent, value: value)
            let loop = group.next()
            let ready = loop.makePromise(of: Void.self)
            let done = loop.makePromise(of: ClientStats.self)
            let timeout = sessionTimeoutMs, outstanding = outstanding, startAt = i * templates.count / clients
            do {
                let channel = try await ClientBootstrap(group: loop)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .connectTimeout(.seconds(10))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let ops = channel.pipeline.syncOperations
                            try ops.addHandler(ByteToMessageHandler(ClientFrameDecoder()))
                            try ops.addHandler(BenchHandler(timeoutMs: timeout, templates: templates, startAt: startAt,
                                                            outstanding: outstanding, ready: ready, finished: done))
                        }
                    }
                    .connect(host: e.host, port: e.port).get()
                channels.append(channel)
                finished.append(done.futureResult)
                try await ready.futureResult.get()
            } catch {
                ready.fail(error)
                done.fail(error)
                for c in channels { c.close(promise: nil) }
                throw ZooKeeperError(.connectionLoss, "load client \(i) to \(e.host):\(e.port)", cause: error)
            }
        }

        // Run: warmup, then the measured window, sampling the server's CPU at its edges.
        let begin = NIODeadline.now()
        let warmupTime: TimeAmount = .nanoseconds(Int64(warmup * 1_000_000_000))
        let measuredTime: TimeAmount = .nanoseconds(Int64(seconds * 1_000_000_000))
        let measureFrom: NIODeadline = begin + warmupTime
        let end: NIODeadline = measureFrom + measuredTime
        for c in channels { c.pipeline.fireUserInboundEventTriggered(StartLoad(measureFrom: measureFrom, end: end)) }
        try await sleep(until: measureFrom)
        let cpuBefore = cpuSeconds()
        try await sleep(until: end)
        let cpuAfter = cpuSeconds()
        let rss = pids.isEmpty ? nil : pids.compactMap { ProcStats.rssKiB(pid: $0) }.reduce(0, +)

        // Drain: each client finishes once its in-flight replies are back and closeSession is answered.
        let open = channels
        let drainDeadline = group.next().scheduleTask(in: .seconds(15)) {
            for c in open { c.close(promise: nil) }
        }
        var all: [ClientStats] = []
        for f in finished { all.append(try await f.get()) }
        drainDeadline.cancel()
        for c in channels { try? await c.closeFuture.get() }

        var result = BenchResult(op: op, servers: servers, clients: clients, outstanding: outstanding,
                                 valueBytes: valueBytes, seconds: seconds, warmup: warmup, stats: all)
        if let before = cpuBefore, let after = cpuAfter {
            result.serverCpuSeconds = after - before
            result.serverCpuUsPerOp = result.ops > 0 ? (after - before) * 1e6 / Double(result.ops) : nil
        }
        result.serverRssKiB = rss
        result.pids = pids

        if op == .create { result.created = try await removeCreated(setup, parent: createParent) }
        await setup.close()

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(result.humanReadable)
        }
        if result.ops == 0 { throw ExitCode(2) }
    }

    // MARK: - Requests

    /// The request frames a client cycles through (xid 0, patched per send).
    private func makeTemplates(client: Int, dataParent: String, createParent: String, value: [UInt8]) -> [ByteBuffer] {
        func frame(_ request: ZKRequest) -> ByteBuffer {
            var b = ByteBuffer()
            b.writeFrame { b in
                RequestHeader(xid: 0, type: request.opcode.rawValue).write(to: &b)
                request.write(to: &b)
            }
            return b
        }
        switch op {
        case .get:
            return (0..<nodes).map { frame(.getData(path: nodePath(dataParent, $0), watch: false)) }
        case .set:
            return (0..<nodes).map { frame(.setData(path: nodePath(dataParent, $0), data: value, version: -1)) }
        case .mixed:
            return (0..<nodes).map { i in
                i % 5 == 4 ? frame(.setData(path: nodePath(dataParent, i), data: value, version: -1))
                           : frame(.getData(path: nodePath(dataParent, i), watch: false))
            }
        case .create:
            let request = CreateRequest(path: "\(createParent)/c\(client)-", data: value, acl: ACL.openUnsafe,
                                        flags: CreateMode.persistentSequential.rawValue)
            return [frame(.create(request, .create))]
        }
    }

    private func nodePath(_ parent: String, _ i: Int) -> String {
        let digits = String(i)
        let pad = String(repeating: "0", count: max(0, 6 - digits.count))
        return "\(parent)/n\(pad)\(digits)"
    }

    // MARK: - Setup and cleanup

    /// Creates `path` and its missing ancestors.
    private func ensure(_ zk: ZooKeeperClient, _ path: String) async throws(ZooKeeperError) {
        let parts = path.split(separator: "/").map(String.init)
        for n in 1...parts.count {
            try await createIfMissing(zk, "/" + parts[0..<n].joined(separator: "/"))
        }
    }

    private func createIfMissing(_ zk: ZooKeeperClient, _ path: String) async throws(ZooKeeperError) {
        do {
            try await zk.create(path: path)
        } catch {
            if error.code != .nodeExists { throw error }
        }
    }

    /// Makes the `nodes` data nodes hold a `valueBytes` value, 64 requests at a time.
    private func precreate(_ zk: ZooKeeperClient, parent: String, value: [UInt8]) async throws {
        let count = nodes, workers = min(64, nodes)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask {
                    for i in stride(from: w, to: count, by: workers) {
                        let path = nodePath(parent, i)
                        do {
                            try await zk.create(path: path, data: value)
                        } catch let error as ZooKeeperError where error.code == .nodeExists {
                            try await zk.setData(path: path, data: value)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Deletes what a create run made (per `--cleanup`); returns how many nodes it had made.
    private func removeCreated(_ zk: ZooKeeperClient, parent: String) async throws -> Int {
        guard let stat = try await zk.exists(path: parent) else { return 0 }
        let count = Int(stat.numChildren)
        guard cleanup == .always || (cleanup == .auto && count <= 50_000) else { return count }
        let children = try await zk.getChildren(path: parent)
        let workers = 64
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask {
                    for i in stride(from: w, to: children.count, by: workers) {
                        let child: String = children[i]
                        try await zk.delete(path: "\(parent)/\(child)")
                    }
                }
            }
            try await group.waitForAll()
        }
        try await zk.delete(path: parent)
        return count
    }

    // MARK: - Helpers

    private func cpuSeconds() -> Double? {
        guard !pids.isEmpty else { return nil }
        var total = 0.0
        for pid in pids {
            guard let s = ProcStats.cpuSeconds(pid: pid) else { return nil }
            total += s
        }
        return total
    }

    private func sleep(until deadline: NIODeadline) async throws {
        let ns = deadline.uptimeNanoseconds &- NIODeadline.now().uptimeNanoseconds
        if Int64(bitPattern: ns) > 0 { try await Task.sleep(nanoseconds: ns) }
    }
}

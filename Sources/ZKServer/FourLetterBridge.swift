import ZKCore
#if canImport(Glibc)
import Glibc
#endif

/// Connects the four-letter-word formatters to the live server state. Runs on the server loop.
enum FourLetterBridge {
    static func isFourLetterWord(_ w: String) -> Bool { FourLetterWords.isFourLetterWord(Array(w.utf8)) }

    static func render(_ word: String, core: ServerCore, connection: WatcherID?, config: ServerConfig,
                       whitelist: Set<String>) -> String {
        guard whitelist.contains(word) else { return FourLetterWords.refusal(word) }
        switch word {
        case "crst": for c in core.connections.values { c.resetStats() }
        case "srst": core.stats.reset()
        default: break
        }
        return FourLetterWords.render(word, snapshot(core, asking: connection, config: config), whitelist: whitelist)
    }

    static func snapshot(_ core: ServerCore, asking: WatcherID?, config: ServerConfig) -> FourLetterSnapshot {
        var s = FourLetterSnapshot(version: ZKServerVersion.full, config: config, environment: .current())
        let st = core.stats
        s.minLatency = st.latency.minOrZero
        s.maxLatency = st.latency.max
        s.avgLatency = st.latency.average
        s.packetsReceived = st.packetsReceived
        s.packetsSent = st.packetsSent
        let monoNow = Clock.monotonicMillis()
        let wallNow = Clock.wallMillis()
        var conns: [FourLetterSnapshot.Connection] = []
        for c in core.connections.values.sorted(by: { $0.id < $1.id }) {
            var x = FourLetterSnapshot.Connection(remoteHost: c.remoteAddress, remotePort: c.remotePort)
            x.interestOps = c.id == asking ? 0 : 1
            x.queued = c.machine.queuedCount
            x.received = c.traffic.packetsReceived
            x.sent = c.traffic.packetsSent
            x.sessionId = c.sessionId
            x.lastOperation = c.lastOp
            x.establishedMillis = c.established
            x.sessionTimeout = Int(c.timeout)
            x.lastCxid = Int64(c.lastCxid)
            x.lastZxid = c.lastZxid
            x.lastResponseMillis = c.lastResponseTime
            x.lastLatency = c.lastLatency
            x.minLatency = c.traffic.latency.minOrZero
            x.avgLatency = c.traffic.latency.count == 0 ? 0 : c.traffic.latency.total / c.traffic.latency.count
            x.maxLatency = c.traffic.latency.max
            conns.append(x)
        }
        s.connections = conns
        s.connectionCount = conns.count
        s.outstandingRequests = core.outstanding
        let tree = core.tree
        s.zxid = tree.lastZxid
        s.nodeCount = tree.nodeCount
        s.ephemeralsCount = tree.ephemerals.values.reduce(0) { $0 + $1.count }
        s.globalSessions = tree.sessions.count
        s.approximateDataSize = Int64(tree.approximateDataSize)
        s.watchCount = core.watches.totalWatches()
        s.uptimeMillis = monoNow - core.startedAt
        s.openFileDescriptors = Int64(countOpenFDs())
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 { s.maxFileDescriptors = Int64(rl.rlim_cur) }

        let sessionOf: (WatcherID) -> Int64 = { core.connections[$0]?.sessionId ?? 0 }
        let dataKinds = WatchManager.dataManagerKinds
        let byWatcher = core.watches.pathsByWatcher(kinds: dataKinds)
        s.watchSummary = .init(connections: byWatcher.count, paths: core.watches.watchedPaths(kinds: dataKinds),
                               total: core.watches.totalWatches(kinds: dataKinds))
        s.watchesBySession = byWatcher.sorted { $0.key < $1.key }.map { .init(sessionId: sessionOf($0.key), paths: $0.value) }
        s.watchesByPath = core.watches.watchersByPath(kinds: dataKinds).sorted { $0.key < $1.key }
            .map { .init(path: $0.key, sessionIds: $0.value.map(sessionOf)) }
        s.ephemeralsBySession = tree.ephemerals.sorted { $0.key < $1.key }.map { .init(sessionId: $0.key, paths: $0.value.sorted()) }
        var buckets: [Int64: [Int64]] = [:]
        let tick = Int64(max(1, config.tickTime))
        for (sid, deadline) in core.sessions.deadline {
            let wall = (wallNow + (deadline - monoNow)) / tick * tick + tick
            buckets[wall, default: []].append(sid)
        }
        s.sessionBuckets = buckets.sorted { $0.key < $1.key }.map { .init(expiresAtMillis: $0.key, sessionIds: $0.value.sorted()) }
        s.dataDirSize = directorySize(config.dataDir + "/version-2")
        s.logDirSize = directorySize(config.dataLogDir + "/version-2")
        s.clientPort = config.clientListenPort
        s.serving = core.serving
        core.orderer.fill(&s)
        return s
    }

    static func countOpenFDs() -> Int {
        guard let d = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(d) }
        var n = 0
        while readdir(d) != nil { n += 1 }
        return max(0, n - 3)  // ".", ".." and the directory's own fd
    }

    static func directorySize(_ path: String) -> Int64 {
        guard let d = opendir(path) else { return 0 }
        defer { closedir(d) }
        var total: Int64 = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            var st = stat()
            if stat(path + "/" + name, &st) == 0 { total += Int64(st.st_size) }
        }
        return total
    }
}

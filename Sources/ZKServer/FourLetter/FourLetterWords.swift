/// Four-letter words: recognition and Apache ZooKeeper 3.8's exact reply formats.
///
/// A client sends four ASCII bytes instead of a length-prefixed ConnectRequest; the server
/// answers once and closes. Rendering is pure: commands that reset statistics (`crst`, `srst`)
/// or set the trace mask (`stmk`) only return text here; the caller does the reset first.
public enum FourLetterWords {
    /// Every command Apache 3.8 knows (what `4lw.commands.whitelist=*` enables).
    public static let all: Set<String> = ServerConfig.allFourLetterWords

    /// Sent by a telnet client on ctrl-C (`0xfff4fffd`): Apache just closes the connection.
    public static let telnetClose: [UInt8] = [0xff, 0xf4, 0xff, 0xfd]

    /// Printed instead of the reply by most commands while the server is not serving.
    public static let notServing = "This ZooKeeper instance is not currently serving requests\n"

    /// True when the first four bytes of a connection are a known four-letter word.
    ///
    /// Unknown words are *not* four-letter words: Apache reads them as a packet length (e.g.
    /// `xyzw` = 2021227127 bytes), rejects it and closes the connection without a reply.
    public static func isFourLetterWord(_ first4: [UInt8]) -> Bool {
        guard first4.count == 4, first4.allSatisfy({ $0 >= 0x61 && $0 <= 0x7a }) else { return false }
        return all.contains(String(decoding: first4, as: UTF8.self))
    }

    /// Apache's refusal for a known word that is not whitelisted.
    public static func refusal(_ cmd: String) -> String {
        "\(cmd) is not executed because it is not in the whitelist.\n"
    }

    /// The reply to `cmd`. Unknown words give "" (the caller closes without replying);
    /// known words not in `whitelist` give `refusal(cmd)`.
    public static func render(_ cmd: String, _ s: FourLetterSnapshot, whitelist: Set<String>) -> String {
        guard all.contains(cmd) else { return "" }
        guard whitelist.contains(cmd) else { return refusal(cmd) }
        switch cmd {
        case "ruok": return "imok"
        case "envi": return envi(s)
        case "gtmk", "stmk": return String(s.traceMask)
        case "isro": return s.serving ? (s.mode == .readOnly ? "ro" : "rw") : "null"
        default: break
        }
        guard s.serving else { return notServing }
        switch cmd {
        case "srvr": return stat(s, clients: false)
        case "stat": return stat(s, clients: true)
        case "mntr": return mntr(s)
        case "conf": return conf(s)
        case "cons": return cons(s)
        case "crst": return "Connection stats reset.\n"
        case "srst": return "Server stats reset.\n"
        case "dirs": return "datadir_size: \(s.dataDirSize)\nlogdir_size: \(s.logDirSize)\n"
        case "wchs": return wchs(s)
        case "wchc": return wchc(s)
        case "wchp": return wchp(s)
        case "dump": return dump(s)
        case "hash": return s.digestLog.map { "\(hex($0.zxid)):\($0.digest)\n" }.joined()
        default: return ""
        }
    }

    // MARK: Formatters

    static func stat(_ s: FourLetterSnapshot, clients: Bool) -> String {
        var o = "Zookeeper version: \(s.version)\n"
        if s.mode == .readOnly { o += "READ-ONLY mode; serving only read-only clients\n" }
        if clients {
            o += "Clients:\n"
            for c in s.connections { o += connection(c, brief: true) + "\n" }
            o += "\n"
        }
        o += "Latency min/avg/max: \(s.minLatency)/\(javaDouble(s.avgLatency))/\(s.maxLatency)\n"
        o += "Received: \(s.packetsReceived)\n"
        o += "Sent: \(s.packetsSent)\n"
        o += "Connections: \(s.connectionCount)\n"
        o += "Outstanding: \(s.outstandingRequests)\n"
        o += "Zxid: 0x\(hex(s.zxid))\n"
        o += "Mode: \(s.mode.rawValue)\n"
        o += "Node count: \(s.nodeCount)\n"
        if s.mode == .leader {
            let l = s.leader ?? FourLetterSnapshot.LeaderStats()
            o += "Proposal sizes last/min/max: \(l.lastProposalSize)/\(l.minProposalSize)/\(l.maxProposalSize)\n"
        }
        return o
    }

    /// Apache `ServerCnxn.dumpConnectionInfo`.
    static func connection(_ c: FourLetterSnapshot.Connection, brief: Bool) -> String {
        var o = " /\(QuorumServerSpec.bracketed(c.remoteHost)):\(c.remotePort)"
        o += "[\(c.interestOps == 0 ? "0" : String(c.interestOps, radix: 16))]"
        o += "(queued=\(c.queued),recved=\(c.received),sent=\(c.sent)"
        if !brief, c.sessionId != 0 {
            o += ",sid=0x\(hex(c.sessionId)),lop=\(c.lastOperation),est=\(c.establishedMillis),to=\(c.sessionTimeout)"
            if c.lastCxid >= 0 { o += ",lcxid=0x\(hex(c.lastCxid))" }
            o += ",lzxid=0x\(hex(c.lastZxid)),lresp=\(c.lastResponseMillis),llat=\(c.lastLatency)"
            o += ",minlat=\(c.minLatency),avglat=\(c.avgLatency),maxlat=\(c.maxLatency)"
        }
        return o + ")"
    }

    static func cons(_ s: FourLetterSnapshot) -> String {
        s.connections.map { connection($0, brief: false) + "\n" }.joined() + "\n"
    }

    /// Apache prints the gauges in its metrics map's hash order; this is the leader's order,
    /// which contains the standalone and follower orders as subsequences.
    static func mntr(_ s: FourLetterSnapshot) -> String {
        let leader = s.mode == .leader ? (s.leader ?? FourLetterSnapshot.LeaderStats()) : nil
        var lines: [(String, String)] = []
        func add(_ k: String, _ v: some CustomStringConvertible) { lines.append((k, v.description)) }
        func addL(_ k: String, _ v: (FourLetterSnapshot.LeaderStats) -> some CustomStringConvertible) {
            if let leader { add(k, v(leader)) }
        }
        add("version", s.version)
        add("server_state", s.mode.rawValue)
        if let p = s.peerState { add("peer_state", p) }
        add("ephemerals_count", s.ephemeralsCount)
        add("num_alive_connections", s.connectionCount)
        add("avg_latency", javaDouble(s.avgLatency))
        addL("min_proposal_size") { $0.minProposalSize }
        add("outstanding_requests", s.outstandingRequests)
        add("znode_count", s.nodeCount)
        add("global_sessions", s.globalSessions)
        add("non_mtls_remote_conn_count", s.nonMtlsRemoteConnCount)
        add("last_client_response_size", s.lastClientResponseSize)
        add("packets_sent", s.packetsSent)
        add("packets_received", s.packetsReceived)
        addL("max_proposal_size") { $0.maxProposalSize }
        add("max_client_response_size", s.maxClientResponseSize)
        addL("synced_followers") { $0.syncedFollowers }
        add("connection_drop_probability", "0.0")
        add("watch_count", s.watchCount)
        addL("synced_non_voting_followers") { $0.syncedNonVotingFollowers }
        addL("synced_observers") { $0.syncedObservers }
        add("auth_failed_count", s.authFailedCount)
        add("min_latency", s.minLatency)
        add("max_file_descriptor_count", s.maxFileDescriptors)
        add("approximate_data_size", s.approximateDataSize)
        add("open_file_descriptor_count", s.openFileDescriptors)
        addL("last_proposal_size") { $0.lastProposalSize }
        addL("pending_syncs") { $0.pendingSyncs }
        addL("leader_uptime") { $0.leaderUptimeMillis }
        add("local_sessions", s.localSessions)
        add("uptime", s.uptimeMillis)
        add("max_latency", s.maxLatency)
        add("outstanding_tls_handshake", 0)
        addL("learners") { $0.learners }
        add("min_client_response_size", s.minClientResponseSize)
        add("non_mtls_local_conn_count", s.nonMtlsLocalConnCount)
        if let q = s.quorumSize { add("quorum_size", q) }
        for (k, v) in s.extraMetrics { lines.append((k, v)) }
        return lines.map { "zk_\($0.0)\t\($0.1)\n" }.joined()
    }

    /// Apache `ZooKeeperServer.dumpConf`, plus `QuorumZooKeeperServer`'s quorum part.
    static func conf(_ s: FourLetterSnapshot) -> String {
        let c = s.config
        var o = ""
        o += "clientPort=\(s.clientPort ?? 0)\n"
        o += "secureClientPort=-1\n"
        o += "dataDir=\(versionDir(c.dataDir))\n"
        o += "dataDirSize=\(s.dataDirSize)\n"
        o += "dataLogDir=\(versionDir(c.dataLogDir))\n"
        o += "dataLogSize=\(s.logDirSize)\n"
        o += "tickTime=\(c.tickTime)\n"
        o += "maxClientCnxns=\(c.maxClientCnxns)\n"
        o += "minSessionTimeout=\(c.minSessionTimeout)\n"
        o += "maxSessionTimeout=\(c.maxSessionTimeout)\n"
        o += "clientPortListenBacklog=\(c.clientPortListenBacklog)\n"
        o += "serverId=\(c.myid ?? 0)\n"
        guard s.mode != .standalone else { return o }
        let me = s.members.first { $0.id == c.myid } ?? c.myServer
        o += "initLimit=\(c.initLimit)\n"
        o += "syncLimit=\(c.syncLimit)\n"
        o += "electionAlg=3\n"
        o += "electionPort=\(me?.electionPort ?? -1)\n"
        o += "quorumPort=\(me?.quorumPort ?? -1)\n"
        o += "peerType=\(me?.role == .observer ? 1 : 0)\n"
        o += "membership: \n"
        o += DynamicConfig.renderConfigData(servers: s.members, version: s.configVersion)
        return o
    }

    static func versionDir(_ dir: String) -> String {
        (dir.hasSuffix("/") ? String(dir.dropLast()) : dir) + "/version-2"
    }

    static func envi(_ s: FourLetterSnapshot) -> String {
        let e = s.environment
        let pairs: [(String, String)] = [
            ("zookeeper.version", s.version),
            ("host.name", e.hostName),
            ("java.version", e.runtimeVersion),
            ("java.vendor", e.runtimeVendor),
            ("java.home", e.runtimeHome),
            ("java.class.path", e.classPath),
            ("java.library.path", e.libraryPath),
            ("java.io.tmpdir", e.tmpDir),
            ("java.compiler", e.compiler),
            ("os.name", e.osName),
            ("os.arch", e.osArch),
            ("os.version", e.osVersion),
            ("user.name", e.userName),
            ("user.home", e.userHome),
            ("user.dir", e.userDir),
            ("os.memory.free", "\(e.memoryFreeMB)MB"),
            ("os.memory.max", "\(e.memoryMaxMB)MB"),
            ("os.memory.total", "\(e.memoryTotalMB)MB"),
        ]
        return "Environment:\n" + pairs.map { "\($0.0)=\($0.1)\n" }.joined()
    }

    static func wchs(_ s: FourLetterSnapshot) -> String {
        let w = s.watchSummary
        return "\(w.connections) connections watching \(w.paths) paths\nTotal watches:\(w.total)\n"
    }

    static func wchc(_ s: FourLetterSnapshot) -> String {
        var o = ""
        for e in s.watchesBySession {
            o += "0x\(hex(e.sessionId))\n"
            for p in e.paths { o += "\t\(p)\n" }
        }
        return o + "\n"
    }

    static func wchp(_ s: FourLetterSnapshot) -> String {
        var o = ""
        for e in s.watchesByPath {
            o += "\(e.path)\n"
            for id in e.sessionIds { o += "\t0x\(hex(id))\n" }
        }
        return o + "\n"
    }

    static func dump(_ s: FourLetterSnapshot) -> String {
        var o = "SessionTracker dump:\n"
        let sessionTotal = s.sessionBuckets.reduce(0) { $0 + $1.sessionIds.count }
        o += "Session Sets (\(s.sessionBuckets.count))/(\(sessionTotal)):\n"
        for b in s.sessionBuckets.sorted(by: { $0.expiresAtMillis < $1.expiresAtMillis }) {
            o += "\(b.sessionIds.count) expire at \(javaDate(b.expiresAtMillis)):\n"
            for id in b.sessionIds { o += "\t0x\(hex(id))\n" }
        }
        o += "ephemeral nodes dump:\n"
        o += "Sessions with Ephemerals (\(s.ephemeralsBySession.count)):\n"
        for e in s.ephemeralsBySession {
            o += "0x\(hex(e.sessionId)):\n"
            for p in e.paths { o += "\t\(p)\n" }
        }
        o += "Connections dump:\n"
        if let buckets = s.connectionBuckets {
            let total = buckets.reduce(0) { $0 + $1.connections.count }
            o += "Connections Sets (\(buckets.count))/(\(total)):\n"
            for b in buckets.sorted(by: { $0.expiresAtMillis < $1.expiresAtMillis }) {
                o += "\(b.connections.count) expire at \(javaDate(b.expiresAtMillis)):\n"
                for c in b.connections {
                    o += "\tip: /\(QuorumServerSpec.bracketed(c.host)):\(c.port) sessionId: 0x\(hex(c.sessionId))\n"
                }
            }
        }
        return o
    }

    // MARK: Java-compatible value formatting

    /// `Long.toHexString`: lowercase, two's complement for negatives.

    /// A latency average as Apache prints it: rounded to 4 decimals, Java `Double.toString`
    /// style (always a fractional part: `4.0`, `1.6154`).
    static func javaDouble(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "Infinity" : "-Infinity") }
        let rounded = (v * 10_000).rounded() / 10_000
        let text = "\(rounded)"
        return text.contains(".") || text.contains("e") ? text : text + ".0"
    }

    /// Java `Date.toString()` in UTC: `Sat Nov 28 17:34:53 UTC 2026`.
    static func javaDate(_ millis: Int64) -> String {
        let secs = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let wd = weekdays[Int(((days % 7) + 7) % 7)]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(wd) \(months[m - 1]) \(two(Int64(d))) \(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60)) UTC \(y)"
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

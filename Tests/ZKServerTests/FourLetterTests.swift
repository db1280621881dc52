import Foundation
import Testing
@testable import ZKServer

/// Apache 3.8 replies captured from a real server (see Golden4lw/README.md).
private func golden(_ name: String) throws -> String {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden4lw")
    return try String(contentsOf: dir.appendingPathComponent("apache-\(name).txt"), encoding: .utf8)
}

private let apacheVersion = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC"
private let all = FourLetterWords.all

/// Keys of `key<sep>value` lines, in order.
private func keys(_ text: String, _ sep: Character) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        line.firstIndex(of: sep).map { String(line[..<$0]) } ?? String(line)
    }
}

/// The standalone server the goldens came from: two kazoo sessions, one ephemeral, three data
/// watches, the asking connection itself.
private func standaloneSnapshot() throws -> FourLetterSnapshot {
    let cfg = try ServerConfig.parse(text: "tickTime=2000\ndataDir=/tmp/config-zk/sa/data\nclientPort=23181\nclientPortAddress=127.0.0.1\n",
                                     file: "zoo.cfg", readFile: { _ in nil })
    var env = FourLetterEnvironment()
    env.hostName = "localhost"
    env.runtimeVersion = "17.0.15"
    env.runtimeVendor = "Debian"
    env.runtimeHome = "/usr/lib/jvm/java-17-openjdk-amd64"
    env.classPath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
    env.libraryPath = "/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib"
    env.osArch = "amd64"
    env.osVersion = "6.18.44-fc-v669"
    env.userName = "root"
    env.userHome = "/root"
    env.userDir = "/tmp/config-zk/sa"
    env.memoryFreeMB = 368
    env.memoryMaxMB = 6028
    env.memoryTotalMB = 388
    var s = FourLetterSnapshot(version: apacheVersion, config: cfg, environment: env)
    s.minLatency = 0; s.avgLatency = 1.4; s.maxLatency = 5
    s.packetsReceived = 19; s.packetsSent = 18
    s.connectionCount = 3
    s.zxid = 6
    s.nodeCount = 8
    var me = FourLetterSnapshot.Connection(remoteHost: "127.0.0.1", remotePort: 58516)
    me.interestOps = 0; me.received = 1
    var a = FourLetterSnapshot.Connection(remoteHost: "127.0.0.1", remotePort: 58440)
    a.received = 3; a.sent = 3; a.sessionId = 0x10000127c6a0001; a.lastOperation = "PING"
    a.establishedMillis = 1795887282570; a.sessionTimeout = 10000; a.lastCxid = 1; a.lastZxid = 6
    a.lastResponseMillis = 1227740
    var b = FourLetterSnapshot.Connection(remoteHost: "127.0.0.1", remotePort: 58436)
    b.received = 12; b.sent = 12; b.sessionId = 0x10000127c6a0000; b.lastOperation = "PING"
    b.establishedMillis = 1795887282522; b.sessionTimeout = 10000; b.lastCxid = 0xa; b.lastZxid = 6
    b.lastResponseMillis = 1227700; b.avgLatency = 1; b.maxLatency = 5
    s.connections = [me, a, b]
    s.watchSummary = .init(connections: 2, paths: 2, total: 3)
    s.watchesBySession = [.init(sessionId: 0x10000127c6a0001, paths: ["/app/a"]),
                          .init(sessionId: 0x10000127c6a0000, paths: ["/app/b", "/app/a"])]
    s.watchesByPath = [.init(path: "/app/b", sessionIds: [0x10000127c6a0000]),
                       .init(path: "/app/a", sessionIds: [0x10000127c6a0001, 0x10000127c6a0000])]
    s.sessionBuckets = [.init(expiresAtMillis: 1795887293000, sessionIds: []),
                        .init(expiresAtMillis: 1795887295000, sessionIds: [0x10000127c6a0000, 0x10000127c6a0001])]
    s.ephemeralsBySession = [.init(sessionId: 0x10000127c6a0000, paths: ["/app/eph"])]
    s.connectionBuckets = [
        .init(expiresAtMillis: 1795887307000, connections: [(host: "127.0.0.1", port: 58584, sessionId: 0)]),
        .init(expiresAtMillis: 1795887297000, connections: [(host: "127.0.0.1", port: 58440, sessionId: 0x10000127c6a0001),
                                                            (host: "127.0.0.1", port: 58436, sessionId: 0x10000127c6a0000)]),
    ]
    s.dataDirSize = 67109337
    s.logDirSize = 67109337
    s.ephemeralsCount = 1; s.globalSessions = 2; s.watchCount = 4; s.approximateDataSize = 68
    return s
}

/// Server 2 of the loopback ensemble, leading, with client addresses on its server lines.
private func leaderSnapshot() throws -> FourLetterSnapshot {
    let dyn = "server.1=127.0.0.1:24281:24381:participant;127.0.0.1:24181\nserver.2=127.0.0.1:24282:24382:participant;127.0.0.1:24182\nserver.3=127.0.0.1:24283:24383:participant;0.0.0.0:24183"
    let cfg = try ServerConfig.parse(
        text: "dataDir=/tmp/config-zk/e2/data\ninitLimit=10\nsyncLimit=5\ndynamicConfigFile=/tmp/config-zk/e2/zoo.cfg.dynamic.100000000\n",
        file: "/tmp/config-zk/e2/zoo.cfg",
        readFile: { ["/tmp/config-zk/e2/zoo.cfg.dynamic.100000000": dyn, "/tmp/config-zk/e2/data/myid": "2\n"][$0] })
    var s = FourLetterSnapshot(version: apacheVersion, config: cfg, environment: FourLetterEnvironment())
    s.mode = .leader
    s.peerState = "leading - broadcast"
    s.quorumSize = 3
    var l = FourLetterSnapshot.LeaderStats()
    l.learners = 1; l.syncedFollowers = 1; l.lastProposalSize = 48; l.minProposalSize = 48; l.maxProposalSize = 93
    s.leader = l
    s.minLatency = 0; s.avgLatency = 4; s.maxLatency = 12
    s.packetsReceived = 15; s.packetsSent = 14
    s.connectionCount = 3
    s.zxid = 0x100000006
    s.nodeCount = 8
    var a = FourLetterSnapshot.Connection(remoteHost: "127.0.0.1", remotePort: 49942)
    a.received = 11; a.sent = 11; a.sessionId = 0x2000013e5090000; a.lastOperation = "GETC"
    a.establishedMillis = 1795887384830; a.sessionTimeout = 10000; a.lastCxid = 0xa; a.lastZxid = 0x100000005
    a.lastResponseMillis = 1326914; a.lastLatency = 1; a.avgLatency = 4; a.maxLatency = 12
    var b = FourLetterSnapshot.Connection(remoteHost: "127.0.0.1", remotePort: 49946)
    b.received = 2; b.sent = 2; b.sessionId = 0x2000013e5090001; b.lastOperation = "GETD"
    b.establishedMillis = 1795887384915; b.sessionTimeout = 10000; b.lastCxid = 1; b.lastZxid = 0x100000006
    b.lastResponseMillis = 1326932; b.lastLatency = 3; b.avgLatency = 3; b.maxLatency = 3
    var me = FourLetterSnapshot.Connection(remoteHost: "127.0.0.1", remotePort: 49994)
    me.interestOps = 0; me.received = 1
    s.connections = [a, b, me]
    s.dataDirSize = 67109523
    s.logDirSize = 67109523
    return s
}

@Suite struct FourLetterTests {
    @Test func recognition() {
        #expect(FourLetterWords.isFourLetterWord(Array("ruok".utf8)))
        #expect(FourLetterWords.isFourLetterWord(Array("mntr".utf8)))
        #expect(FourLetterWords.isFourLetterWord(Array("hash".utf8)))
        #expect(!FourLetterWords.isFourLetterWord(Array("xyzw".utf8)))
        #expect(!FourLetterWords.isFourLetterWord(Array("RUOK".utf8)))
        #expect(!FourLetterWords.isFourLetterWord([0, 0, 0, 44]))
        #expect(!FourLetterWords.isFourLetterWord(Array("ruo".utf8)))
        #expect(FourLetterWords.all == ["ruok", "stmk", "gtmk", "conf", "cons", "crst", "dirs", "dump", "envi",
                                        "srvr", "stat", "srst", "mntr", "wchc", "wchp", "wchs", "isro", "hash"])
    }

    @Test func whitelistRefusalIsExact() throws {
        let s = try standaloneSnapshot()
        #expect(FourLetterWords.render("ruok", s, whitelist: ["srvr"]) == (try golden("refused-ruok")))
        #expect(FourLetterWords.render("mntr", s, whitelist: ["srvr"]) == "mntr is not executed because it is not in the whitelist.\n")
        #expect(FourLetterWords.render("isro", s, whitelist: ["srvr"]) == "isro is not executed because it is not in the whitelist.\n")
        // Unknown words get no reply at all: Apache reads them as a bogus length and closes.
        #expect(FourLetterWords.render("xyzw", s, whitelist: all) == "")
    }

    @Test func simpleRepliesAreExact() throws {
        let s = try standaloneSnapshot()
        for cmd in ["ruok", "crst", "srst", "isro", "gtmk", "dirs", "wchs", "wchc", "wchp"] {
            #expect(FourLetterWords.render(cmd, s, whitelist: all) == (try golden(cmd)), "\(cmd)")
        }
        var ro = s
        ro.mode = .readOnly
        #expect(FourLetterWords.render("isro", ro, whitelist: all) == "ro")
        var empty = s
        empty.watchSummary = .init()
        empty.watchesBySession = []
        #expect(FourLetterWords.render("wchs", empty, whitelist: all) == "0 connections watching 0 paths\nTotal watches:0\n")
        #expect(FourLetterWords.render("wchc", empty, whitelist: all) == "\n")
    }

    @Test func srvrStatConsDumpMatchApacheExactly() throws {
        var s = try standaloneSnapshot()
        #expect(FourLetterWords.render("srvr", s, whitelist: all) == (try golden("srvr")))
        #expect(FourLetterWords.render("dump", s, whitelist: all) == (try golden("dump")))
        // cons was taken a moment later, stat later still: adjust the counters they saw.
        s.connections[0].remotePort = 58516
        #expect(FourLetterWords.render("cons", s, whitelist: all) == (try golden("cons")))
        s.connections[0].remotePort = 58484
        s.packetsReceived = 20; s.packetsSent = 19
        #expect(FourLetterWords.render("stat", s, whitelist: all) == (try golden("stat")))
    }

    @Test func consAfterResetDropsLcxid() throws {
        var s = try standaloneSnapshot()
        for i in [1, 2] {
            s.connections[i].received = 0; s.connections[i].sent = 0; s.connections[i].lastOperation = "NA"
            s.connections[i].lastCxid = -1; s.connections[i].lastZxid = -1; s.connections[i].lastResponseMillis = 0
            s.connections[i].avgLatency = 0; s.connections[i].maxLatency = 0
        }
        s.connections[0].remotePort = 58658
        s.connections = [s.connections[1], s.connections[0], s.connections[2]]
        #expect(FourLetterWords.render("cons", s, whitelist: all) == (try golden("cons-after-crst")))
    }

    @Test func confAndEnviMatchApache() throws {
        let s = try standaloneSnapshot()
        #expect(FourLetterWords.render("conf", s, whitelist: all) == (try golden("conf")))
        #expect(FourLetterWords.render("envi", s, whitelist: all) == (try golden("envi")))
        // The live environment keeps Apache's keys and order.
        var live = s
        live.environment = FourLetterEnvironment.current()
        let ours = FourLetterWords.render("envi", live, whitelist: all)
        #expect(keys(ours, "=") == keys(try golden("envi"), "="))
        #expect(live.environment.userDir.hasPrefix("/") && !live.environment.osVersion.isEmpty)
        #expect(live.environment.memoryMaxMB > 0)
    }

    @Test func leaderRepliesMatchApache() throws {
        var s = try leaderSnapshot()
        #expect(FourLetterWords.render("srvr", s, whitelist: all) == (try golden("stat-leader")).replacingOccurrences(
            of: "Clients:\n /127.0.0.1:49942[1](queued=0,recved=11,sent=11)\n /127.0.0.1:49946[1](queued=0,recved=2,sent=2)\n /127.0.0.1:49962[0](queued=0,recved=1,sent=0)\n\n", with: "")
            .replacingOccurrences(of: "Received: 16\nSent: 15", with: "Received: 15\nSent: 14"))
        #expect(FourLetterWords.render("conf", s, whitelist: all) == (try golden("conf-leader")))
        #expect(FourLetterWords.render("cons", s, whitelist: all) == (try golden("cons-leader")))
        // Before any proposal a leader prints -1/-1/-1.
        s.leader = nil
        #expect(FourLetterWords.render("srvr", s, whitelist: all).hasSuffix("Proposal sizes last/min/max: -1/-1/-1\n"))
    }

    @Test func followerReplies() throws {
        var s = try leaderSnapshot()
        s.mode = .follower
        s.leader = nil
        s.peerState = "following - broadcast"
        s.zxid = 0
        s.nodeCount = 5
        s.connectionCount = 1
        s.packetsReceived = 2; s.packetsSent = 1; s.avgLatency = 0; s.maxLatency = 0
        #expect(FourLetterWords.render("srvr", s, whitelist: all) == (try golden("srvr-follower")))
        // The first ensemble had no client addresses on its server lines.
        let dyn = "server.1=127.0.0.1:24281:24381\nserver.2=127.0.0.1:24282:24382\nserver.3=127.0.0.1:24283:24383"
        s.config = try ServerConfig.parse(text: "dataDir=/tmp/config-zk/e1/data\nclientPort=24181\ninitLimit=10\nsyncLimit=5\n" + dyn,
                                          file: "zoo.cfg", readFile: { $0 == "/tmp/config-zk/e1/data/myid" ? "1" : nil })
        s.members = s.config.servers
        s.configVersion = 0x100000000
        s.clientPort = 24181
        s.dataDirSize = 645; s.logDirSize = 645
        #expect(FourLetterWords.render("conf", s, whitelist: all) == (try golden("conf-follower")))
    }

    /// Apache prints ~500 mntr lines; we print its gauges (in Apache's order) and whatever
    /// `extraMetrics` holds. Our keys must be Apache's keys, in Apache's order.
    @Test func mntrKeysFollowApacheOrder() throws {
        func gaugeKeys(_ text: String) -> [String] {
            let k = keys(text, "\t").filter { !$0.isEmpty }
            return Array(k.prefix { $0 != "zk_proposal_count" })
        }
        func isSubsequence(_ a: [String], of b: [String]) -> Bool {
            var it = b.makeIterator()
            return a.allSatisfy { x in while let y = it.next() { if y == x { return true } }; return false }
        }
        let st = try standaloneSnapshot()
        var lead = try leaderSnapshot()
        var follow = lead
        follow.mode = .follower; follow.leader = nil; follow.peerState = "following - broadcast"
        for (s, name) in [(st, "mntr"), (lead, "mntr-leader"), (follow, "mntr-follower")] {
            let ours = FourLetterWords.render("mntr", s, whitelist: all)
            let apache = try golden(name)
            #expect(gaugeKeys(ours) == gaugeKeys(apache), "\(name)")
            #expect(isSubsequence(keys(ours, "\t"), of: keys(apache, "\t")), "\(name)")
            #expect(ours.hasSuffix("\n"))
        }
        let text = FourLetterWords.render("mntr", st, whitelist: all)
        #expect(text.hasPrefix("zk_version\t\(apacheVersion)\nzk_server_state\tstandalone\n"))
        #expect(text.contains("zk_avg_latency\t1.4\n"))
        #expect(text.contains("zk_connection_drop_probability\t0.0\n"))
        lead.extraMetrics = [(key: "proposal_count", value: "6")]
        let withExtra = FourLetterWords.render("mntr", lead, whitelist: all)
        #expect(withExtra.contains("zk_learners\t1\n") && withExtra.contains("zk_synced_followers\t1\n"))
        #expect(withExtra.hasSuffix("zk_quorum_size\t3\nzk_proposal_count\t6\n"))
    }

    @Test func notServing() throws {
        var s = try standaloneSnapshot()
        s.serving = false
        #expect(FourLetterWords.render("srvr", s, whitelist: all) == FourLetterWords.notServing)
        #expect(FourLetterWords.render("mntr", s, whitelist: all) == FourLetterWords.notServing)
        #expect(FourLetterWords.render("ruok", s, whitelist: all) == "imok")
        #expect(FourLetterWords.render("isro", s, whitelist: all) == "null")
    }

    @Test func javaFormatting() {
        #expect(FourLetterWords.javaDouble(0) == "0.0")
        #expect(FourLetterWords.javaDouble(4) == "4.0")
        #expect(FourLetterWords.javaDouble(21.0 / 13.0) == "1.6154")
        #expect(FourLetterWords.javaDouble(0.33333) == "0.3333")
        #expect(hex(-1) == "ffffffffffffffff")
        #expect(FourLetterWords.javaDate(0) == "Thu Jan 01 00:00:00 UTC 1970")
        #expect(FourLetterWords.javaDate(1795887293000) == "Sat Nov 28 17:34:53 UTC 2026")
        #expect(FourLetterWords.javaDate(951_782_400_000) == "Tue Feb 29 00:00:00 UTC 2000")
    }
}

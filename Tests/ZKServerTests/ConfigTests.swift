import Foundation
import Testing
@testable import ZKServer

/// Files a parse may read, keyed by path.
private func files(_ map: [String: String]) -> (String) -> String? { { map[$0] } }

private func parse(_ text: String, _ extra: [String: String] = [:]) throws(ConfigError) -> ServerConfig {
    try ServerConfig.parse(text: text, file: "zoo.cfg", readFile: files(extra))
}

private func parseError(_ text: String, _ extra: [String: String] = [:]) -> ConfigError? {
    do {
        _ = try parse(text, extra)
        return nil
    } catch {
        return error
    }
}

private let ensemble = """
    tickTime=2000
    initLimit=10
    syncLimit=5
    dataDir=/d
    server.1=127.0.0.1:24281:24381:participant;127.0.0.1:24181
    server.2=127.0.0.1:24282:24382:participant;127.0.0.1:24182
    server.3=127.0.0.1:24283:24383:participant;24183
    """

@Suite struct ConfigTests {
    @Test func minimalStandaloneHasApacheDefaults() throws {
        let c = try parse("dataDir=/var/zk\nclientPort=2181\n")
        #expect(c.tickTime == 2000)
        #expect(c.dataDir == "/var/zk")
        #expect(c.dataLogDir == "/var/zk")
        #expect(c.clientPort == 2181)
        #expect(c.clientListenHost == "0.0.0.0")
        #expect(c.clientListenPort == 2181)
        #expect(c.maxClientCnxns == 60)
        #expect(c.minSessionTimeout == 4000)
        #expect(c.maxSessionTimeout == 40000)
        #expect(c.initLimit == 0 && c.syncLimit == 0)
        #expect(c.snapRetainCount == 3 && c.purgeInterval == 0)
        #expect(c.snapCount == 100_000)
        #expect(c.fourLetterWhitelist == ["srvr"])
        #expect(c.juteMaxBuffer == 0xfffff)
        #expect(!c.skipACL && !c.extendedTypesEnabled && !c.reconfigEnabled)
        #expect(c.standaloneEnabled && c.forceSync)
        #expect(c.superDigest == nil)
        #expect(c.servers.isEmpty && !c.isDistributed && c.myid == nil)
        #expect(c.ignoredKeys.isEmpty)
    }

    @Test func sessionTimeoutsFollowTickTime() throws {
        let c = try parse("tickTime=500\ndataDir=/d\nclientPort=1\nminSessionTimeout=-1\n")
        #expect(c.minSessionTimeout == 1000 && c.maxSessionTimeout == 10000)
        let d = try parse("tickTime=500\ndataDir=/d\nclientPort=1\nminSessionTimeout=3000\nmaxSessionTimeout=9000\n")
        #expect(d.minSessionTimeout == 3000 && d.maxSessionTimeout == 9000)
    }

    @Test func valuesAreTrimmedAndCommentsSkipped() throws {
        let c = try parse("""
            # a comment
            ! another
               tickTime   =  3000  \n\
            dataDir : /data/zk
            clientPort 2181
            dataLogDir=/data/\\
                log
            """)
        #expect(c.tickTime == 3000)
        #expect(c.dataDir == "/data/zk")
        #expect(c.clientPort == 2181)
        #expect(c.dataLogDir == "/data/log")
    }

    @Test func badNumberNamesFileLineAndKey() {
        let e = parseError("dataDir=/d\nclientPort=2181\ntickTime=abc\n")
        #expect(e?.description == "zoo.cfg:3: tickTime: \"abc\" is not a number")
        #expect(e?.line == 3 && e?.key == "tickTime" && e?.file == "zoo.cfg")
    }

    @Test func invalidValuesThrow() {
        #expect(parseError("clientPort=2181\n")?.key == "dataDir")
        #expect(parseError("dataDir=/d\nclientPort=70000\n")?.description == "zoo.cfg:2: clientPort: 70000 is not a port (1..65535)")
        #expect(parseError("dataDir=/d\nclientPort=0\n")?.key == "clientPort")
        #expect(parseError("dataDir=/d\n")?.message.contains("standalone") == true)
        #expect(parseError("dataDir=/d\nclientPortAddress=127.0.0.1\n")?.key == "clientPortAddress")
        let mm = parseError("dataDir=/d\nclientPort=1\nminSessionTimeout=50000\n")
        #expect(mm?.key == "minSessionTimeout" && mm?.line == 3)
        #expect(parseError("dataDir=/d\nclientPort=1\nreconfigEnabled=yes\n")?.key == "reconfigEnabled")
        #expect(parseError("dataDir=/d\nclientPort=1\nelectionAlg=1\n")?.key == "electionAlg")
        #expect(parseError("dataDir=/d\nclientPort=1\ntickTime=0\n")?.key == "tickTime")
        #expect(parseError("dataDir=/d\nclientPort=1\ngroup.1=1:2\n")?.key == "group.1")
    }

    @Test func apacheBooleanQuirks() throws {
        let c = try parse("dataDir=/d\nclientPort=1\nskipACL=yes\nforceSync=no\nextendedTypesEnabled=TRUE\nreconfigEnabled=True\nstandaloneEnabled=false\n")
        #expect(c.skipACL && !c.forceSync && c.extendedTypesEnabled && c.reconfigEnabled && !c.standaloneEnabled)
        // Apache compares skipACL with "yes" and forceSync with "no", nothing else.
        let d = try parse("dataDir=/d\nclientPort=1\nskipACL=true\nforceSync=false\nextendedTypesEnabled=yes\n")
        #expect(!d.skipACL && d.forceSync && !d.extendedTypesEnabled)
    }

    @Test func fourLetterWhitelist() throws {
        func wl(_ v: String) throws -> Set<String> {
            try parse("dataDir=/d\nclientPort=1\n4lw.commands.whitelist=\(v)\n").fourLetterWhitelist
        }
        #expect(try wl("*") == FourLetterWords.all)
        #expect(try wl(" stat , ruok,,bogus, mntr ") == ["srvr", "stat", "ruok", "mntr"])
        // srvr is always on: zkServer.sh status depends on it.
        #expect(try wl("ruok") == ["srvr", "ruok"])
        #expect(try wl("ruok, *") == FourLetterWords.all)
        #expect(FourLetterWords.all.count == 18)
    }

    @Test func otherKnownKeys() throws {
        let c = try parse("""
            dataDir=/d
            clientPort=1
            autopurge.snapRetainCount=1
            autopurge.purgeInterval=24
            snapCount=1
            jute.maxbuffer=0x200000
            DigestAuthenticationProvider.superDigest=super:abc=
            localSessionsEnabled=true
            maxClientCnxns=0
            globalOutstandingLimit=5
            """)
        #expect(c.snapRetainCount == 3)
        #expect(c.purgeInterval == 24)
        #expect(c.snapCount == 2)
        #expect(c.juteMaxBuffer == 0x200000)
        #expect(c.superDigest == "super:abc=")
        #expect(c.localSessionsEnabled)
        #expect(c.maxClientCnxns == 0 && c.globalOutstandingLimit == 5)
        #expect(try parse("dataDir=/d\nclientPort=1\nsuperDigest=super:x\njute.maxbuffer=4096\n").superDigest == "super:x")
    }

    @Test func unknownKeysAreCollected() throws {
        let c = try parse("""
            dataDir=/d
            clientPort=1
            ssl.keyStore.location=/k
            authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
            serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
            admin.enableServer=false
            metricsProvider.className=x
            secureClientPort=2281
            """)
        #expect(c.ignoredKeys == ["ssl.keyStore.location", "authProvider.1", "serverCnxnFactory",
                                  "admin.enableServer", "metricsProvider.className", "secureClientPort"])
    }

    @Test func serverLinesAndMyid() throws {
        let c = try parse(ensemble, ["/d/myid": "2\n"])
        #expect(c.isDistributed)
        #expect(c.myid == 2)
        #expect(c.servers.map(\.id) == [1, 2, 3])
        #expect(c.myServer?.quorumPort == 24282)
        #expect(c.clientListenHost == "127.0.0.1" && c.clientListenPort == 24182)
        #expect(c.servers[2].clientHost == "0.0.0.0" && c.servers[2].clientPort == 24183)
        #expect(c.configVersion == nil)
        #expect(c.participants.count == 3 && c.observers.isEmpty)
    }

    @Test func serverLineForms() throws {
        func spec(_ v: String) throws -> QuorumServerSpec {
            try QuorumServerSpec.parse(id: 7, value: v).get()
        }
        let a = try spec("zk1.example.com:2888:3888")
        #expect(a.host == "zk1.example.com" && a.quorumPort == 2888 && a.electionPort == 3888)
        #expect(a.role == .participant && a.clientPort == nil)
        #expect(a.line == "server.7=zk1.example.com:2888:3888:participant")
        let b = try spec("[2001:db8::1]:2888:3888:observer;[::1]:2181")
        #expect(b.host == "2001:db8::1" && b.role == .observer && b.clientHost == "::1" && b.clientPort == 2181)
        #expect(b.value == "[2001:db8::1]:2888:3888:observer;[::1]:2181")
        let c = try spec("h:1:2:PARTICIPANT;2181")
        #expect(c.value == "h:1:2:participant;0.0.0.0:2181")
        for bad in ["h:1", "h:1:2:3:4", "h:1:2:voter", "h:1:1", "h:1:99999", "[::1:1:2", "h:1:2;a:b:c", "h:1:2|h2:1:2", "h:x:2"] {
            #expect(throws: ConfigError.self, "\(bad)") { try spec(bad) }
        }
    }

    @Test func membershipErrors() {
        let dupId = parseError(ensemble + "\nserver.01=127.0.0.9:1:2\n", ["/d/myid": "1"])
        #expect(dupId?.key == "server.01" && dupId?.line == 8)
        #expect(dupId?.message == "duplicate server id 1 (first on line 5)")
        let dupPort = parseError(ensemble + "\nserver.4=127.0.0.1:24281:24999\n", ["/d/myid": "1"])
        #expect(dupPort?.message.contains("also used by server.1") == true)
        #expect(parseError(ensemble, ["/d/myid": "9"])?.message.contains("not one of the servers") == true)
        #expect(parseError(ensemble)?.description.hasPrefix("/d/myid: myid: file is missing") == true)
        #expect(parseError(ensemble, ["/d/myid": "x"])?.description == "/d/myid:1: myid: \"x\" is not a number")
        let noInit = parseError(ensemble.replacingOccurrences(of: "initLimit=10\n", with: ""), ["/d/myid": "1"])
        #expect(noInit?.key == "initLimit")
        // A static clientPort that disagrees with the server's own client address.
        let conflict = parseError(ensemble + "\nclientPort=9999\n", ["/d/myid": "1"])
        #expect(conflict?.key == "clientPort")
        #expect(throws: Never.self) { try parse(ensemble + "\nclientPort=24181\nclientPortAddress=127.0.0.1\n", ["/d/myid": "1"]) }
        // Same wildcard client port on every member is how real ensembles look.
        #expect(throws: Never.self) {
            try parse("initLimit=5\nsyncLimit=2\ndataDir=/d\nserver.1=a:1:2;2181\nserver.2=b:1:2;2181\n", ["/d/myid": "1"])
        }
    }

    @Test func singleServerLineStaysStandalone() throws {
        // Apache: one participant with standaloneEnabled=true runs standalone, no myid needed.
        let c = try parse("dataDir=/d\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\n")
        #expect(!c.isDistributed && c.myid == nil)
        let e = parseError("dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\nstandaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n")
        #expect(e?.key == "myid")
        let obs = parseError("dataDir=/d\nclientPort=2181\nserver.1=h:1:2\nserver.2=h:3:4:observer\n")
        #expect(obs?.message.contains("observers") == true)
    }

    @Test func dynamicConfigFile() throws {
        let dyn = "server.1=127.0.0.1:24281:24381:participant;127.0.0.1:24181\nserver.2=127.0.0.1:24282:24382:participant;127.0.0.1:24182\nserver.3=127.0.0.1:24283:24383:participant;0.0.0.0:24183"
        let text = "dataDir=/d\ninitLimit=10\nsyncLimit=5\ntickTime=2000\ndynamicConfigFile=/etc/zk/zoo.cfg.dynamic.100000000\n"
        let c = try parse(text, ["/etc/zk/zoo.cfg.dynamic.100000000": dyn, "/d/myid": "3"])
        #expect(c.servers.count == 3 && c.configVersion == 0x1_0000_0000)
        #expect(c.clientListenHost == "0.0.0.0" && c.clientListenPort == 24183)
        #expect(c.dynamicConfigFile == "/etc/zk/zoo.cfg.dynamic.100000000")
        // Apache refuses a version inside the file and server lines next to dynamicConfigFile.
        let v = parseError(text, ["/etc/zk/zoo.cfg.dynamic.100000000": dyn + "\nversion=100000000", "/d/myid": "3"])
        #expect(v?.key == "version" && v?.file == "/etc/zk/zoo.cfg.dynamic.100000000")
        #expect(parseError(text + "server.1=h:1:2\n", ["/d/myid": "1"])?.key == "server.1")
        #expect(parseError(text, ["/d/myid": "1"])?.key == "dynamicConfigFile")
        #expect(DynamicConfig.version(fromFileName: "zoo.cfg.dynamic") == nil)
        #expect(DynamicConfig.version(fromFileName: "zoo.cfg.dynamic.1001") == 0x1001)
    }

    @Test func dynamicParseAndRenderMatchApache() throws {
        // /zookeeper/config data as Apache 3.8 serves it (conf's membership, seen on a leader).
        let znode = """
            server.1=127.0.0.1:24281:24381:participant;127.0.0.1:24181
            server.2=127.0.0.1:24282:24382:participant;127.0.0.1:24182
            server.3=127.0.0.1:24283:24383:participant;0.0.0.0:24183
            version=100000000
            """
        let d = try DynamicConfig.parse(text: znode)
        #expect(d.version == 0x1_0000_0000 && d.servers.count == 3)
        #expect(DynamicConfig.renderConfigData(servers: d.servers, version: d.version!) == znode)
        // zoo.cfg.dynamic.100000000 as Apache wrote it: sorted lines, no version, no final newline.
        let file = znode.components(separatedBy: "\nversion=")[0]
        #expect(DynamicConfig.renderDynamic(servers: d.servers.reversed()) == file)
        // String sort, as Apache's Collections.sort: server.10 before server.2.
        let ten = [QuorumServerSpec(id: 2, host: "h", quorumPort: 1, electionPort: 2),
                   QuorumServerSpec(id: 10, host: "h", quorumPort: 3, electionPort: 4)]
        #expect(DynamicConfig.renderDynamic(servers: ten).hasPrefix("server.10="))
        #expect(DynamicConfig.renderConfigData(servers: ten, version: 0).hasPrefix("server.2="))
        #expect(throws: ConfigError.self) { try DynamicConfig.parse(text: "server.1=h:1:2\ntickTime=3") }
    }

    @Test func staticRewriteMatchesApache() throws {
        // Apache 3.8's zoo.cfg before and after its first start with reconfigEnabled=true.
        let before = """
            # comment line
            tickTime=2000
            initLimit=10
            syncLimit=5
            dataDir=/tmp/config-zk/e1/data
            clientPort=24181
            clientPortAddress=127.0.0.1
            4lw.commands.whitelist=*
            admin.enableServer=false
            reconfigEnabled=true
            server.1=127.0.0.1:24281:24381:participant;127.0.0.1:24181
            server.2=127.0.0.1:24282:24382:participant;127.0.0.1:24182
            server.3=127.0.0.1:24283:24383:participant;24183

            """
        let apacheAfter = """
            dataDir=/tmp/config-zk/e1/data
            4lw.commands.whitelist=*
            syncLimit=5
            reconfigEnabled=true
            admin.enableServer=false
            initLimit=10
            tickTime=2000
            dynamicConfigFile=/tmp/config-zk/e1/zoo.cfg.dynamic.100000000

            """
        let c = try ServerConfig.parse(text: before, file: "/tmp/config-zk/e1/zoo.cfg",
                                       readFile: files(["/tmp/config-zk/e1/data/myid": "1\n"]))
        #expect(c.clientPortIsRedundant)
        let path = c.dynamicConfigFileName(version: 0x1_0000_0000)
        #expect(path == "/tmp/config-zk/e1/zoo.cfg.dynamic.100000000")
        let ours = c.staticConfigAfterSplit(originalText: before, dynamicConfigPath: path)
        // Apache writes hash order; the content must match, and the pointer comes last.
        #expect(Set(ours.split(separator: "\n")) == Set(apacheAfter.split(separator: "\n")))
        #expect(ours.hasSuffix("\ndynamicConfigFile=\(path)\n"))
        // The rewritten file loads back with the same membership.
        let again = try ServerConfig.parse(text: ours, file: "/tmp/config-zk/e1/zoo.cfg", readFile: files([
            path: DynamicConfig.renderDynamic(servers: c.servers), "/tmp/config-zk/e1/data/myid": "1",
        ]))
        #expect(again.servers == c.servers && again.clientListenPort == 24181 && again.configVersion == 0x1_0000_0000)
        // Without client ports on the server lines, Apache keeps clientPort.
        let kept = ServerConfig.staticConfigAfterSplit(originalText: "clientPort=1\nserver.1=h:1:2\ndynamicConfigFile=old\n",
                                                       dynamicConfigPath: "/new", eraseClientPort: false)
        #expect(kept == "clientPort=1\ndynamicConfigFile=/new\n")
    }

    @Test func loadFromDisk() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zkcfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathComponent("zoo.cfg").path
        try "dataDir=\(dir.path)\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4\nclientPort=2181\n"
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        try "2\n".write(toFile: dir.appendingPathComponent("myid").path, atomically: true, encoding: .utf8)
        let c = try ServerConfig.load(path: cfg)
        #expect(c.myid == 2 && c.isDistributed && c.clientListenPort == 2181)
        #expect(c.configFile == cfg)
        #expect(throws: ConfigError.self) { try ServerConfig.load(path: dir.appendingPathComponent("nope.cfg").path) }
    }
}

import Foundation
import Testing
@testable import ZKOps
import ZKSSH

@Suite struct FactsScriptTests {
    @Test func encodeAndParseAreInverses() throws {
        let script = FactsScript([.file(path: "/a"), .file(path: "/b"), .dynamicFile(zooCfg: "/z", fallback: "/d"), .java],
                                 nonce: "n1")
        let answers = [FactAnswer(text: "no newline at end", ok: true), FactAnswer(),
                       FactAnswer(text: "/d", ok: true, extra: "server.1=x:1:2\n\n"), FactAnswer(text: "", ok: false)]
        #expect(try script.parse(FactsScript.encode(answers, nonce: "n1")) == answers)
    }

    @Test func outputCutShortIsAnErrorNotMissingFiles() {
        let script = FactsScript([.file(path: "/a")], nonce: "n1")
        #expect(throws: FactsError.self) { try script.parse("\n@n1 0\nabc") }
    }

    @Test func queriesRoundTripThroughTheCommandsHeader() throws {
        let q: [FactQuery] = [.hashes(paths: ["/x y"], cacheDir: "/c"), .launcher(path: "/l", restartMarker: "/m"),
                              .test(command: "test -e '/p'"), .listeningPorts, .freeSpace(path: "/opt")]
        let s = FactsScript(q)
        let back = try #require(FactsScript.decode(command: s.command))
        #expect(back.queries == q)
        #expect(back.nonce == s.nonce)
    }

    /// The real shell on this machine: every query against a temporary host layout.
    @Test func theScriptAnswersOnARealShell() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zkops-facts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let inv = try inventory("""
            ensemble:
              flavor: apache
              distribution: /nonexistent
              installDir: \(root)/opt
              dataDir: \(root)/data/not/yet
            hosts:
              - {name: a, address: 10.0.0.1, id: 1}
            """)
        let host = inv.hosts[0]
        let layout = HostLayout(host.server)
        let fm = FileManager.default
        try fm.createDirectory(atPath: layout.confDir, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: layout.binDir, withIntermediateDirectories: true)
        try "dataDir=x\ndynamicConfigFile=\(layout.confDir)/zoo.cfg.dynamic.100000000  \n".write(toFile: layout.zooCfg, atomically: true, encoding: .utf8)
        try "server.1=10.0.0.1:2888:3888;2181".write(toFile: layout.confDir + "/zoo.cfg.dynamic.100000000", atomically: true, encoding: .utf8)
        try "#!/bin/sh\n[ \"$1\" = status ] && exit 0\nexit 2\n".write(toFile: layout.launcher, atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: layout.installDir + "/run", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: layout.restartMarker))
        let rendered = [RenderedFile(name: "zoo.cfg", remotePath: layout.zooCfg, mode: 0o644, content: "", kind: .zooCfg),
                        RenderedFile(name: "myid", remotePath: layout.myid, mode: 0o644, content: "1\n", kind: .plain)]
        let artifact = Artifact(localPath: "/dev/null", remotePath: layout.zooCfg, mode: 0o644, sha256: "")
        let facts = try gatherFacts(LocalConnection(), host: host, rendered: rendered, artifacts: [artifact])
        #expect(facts.files[layout.zooCfg]?.hasPrefix("dataDir=x\n") == true)
        #expect(facts.files[layout.myid] == nil)
        #expect(facts.dynamic == "server.1=10.0.0.1:2888:3888;2181")
        #expect(facts.running)
        #expect(facts.restartPending)
        #expect(!facts.keepsPrevious)
        #expect(facts.sha256[layout.zooCfg]?.count == 64)
        #expect(facts.installSpace?.availableKiB ?? 0 > 0)
        // dataDir does not exist yet: the space of its nearest existing parent.
        #expect(facts.dataSpace?.path == layout.dataDir)
        #expect(facts.dataSpace?.availableKiB ?? 0 > 0)
        #expect(facts.listening != nil)
        #expect(facts.java != nil)
    }

    @Test func listeningPortsReadsOnlyListenState() {
        let text = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000:0885 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
               1: 0100007F:0016 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 2 1
              sl  local_address                         remote_address                        st
               0: 00000000000000000000000000000000:0B45 00000000000000000000000000000000:0000 0A 0
            """
        #expect(listeningPorts(procNetTCP: text) == [2181, 2885])
    }

    @Test func freeSpaceParsesDfPosixLines() {
        let s = FreeSpace.parse(dfLine: "tmpfs 1024 1024 0 100% /var/lib/zk data\n", path: "/var/lib/zk data/x")
        #expect(s == FreeSpace(path: "/var/lib/zk data/x", mount: "/var/lib/zk data", availableKiB: 0))
        #expect(FreeSpace.parse(dfLine: "df: nope", path: "/") == nil)
    }
}

@Suite struct PreflightTests {
    func plan(_ action: ServerAction, writes: Bool = true) -> HostPlan {
        HostPlan(host: "a", files: writes ? [FilePlan(name: "zoo.cfg", path: "/z", state: .missing)] : [], running: action != .start,
                 action: action)
    }

    func roomy() -> HostFacts {
        var f = HostFacts()
        f.listening = [22]
        f.installSpace = FreeSpace(path: "/opt/zookeeper", mount: "/", availableKiB: 10 << 20)
        f.dataSpace = FreeSpace(path: "/var/lib/zookeeper", mount: "/", availableKiB: 10 << 20)
        f.java = "/usr/bin/java"
        return f
    }

    @Test func aRoomyHostPasses() throws {
        let h = try inventory(threeHosts).hosts[0]
        #expect(preflightProblems(h, plan: plan(.start), facts: roomy(), uploadBytes: 100 << 20, ensemble: true).isEmpty)
    }

    @Test func portsInUseAreNamedOnlyWhenOurServerIsNotRunning() throws {
        let h = try inventory(threeHosts).hosts[0]
        var f = roomy()
        f.listening = [2181, 3888]
        let p = preflightProblems(h, plan: plan(.start), facts: f, uploadBytes: 0, ensemble: true)
        #expect(p.count == 2)
        #expect(p[0].contains("port 2181 (clientPort)"))
        #expect(p[1].contains("port 3888 (electionPort)"))
        // Standalone: the quorum ports are not used.
        #expect(preflightProblems(h, plan: plan(.start), facts: f, uploadBytes: 0, ensemble: false).count == 1)
        f.running = true
        #expect(preflightProblems(h, plan: plan(.restart), facts: f, uploadBytes: 0, ensemble: true).isEmpty)
    }

    @Test func fullDisksAreNamed() throws {
        let h = try inventory(threeHosts).hosts[0]
        var f = roomy()
        f.installSpace?.availableKiB = 50 << 10
        f.dataSpace = FreeSpace(path: "/var/lib/zookeeper", mount: "/var/lib/zookeeper", availableKiB: 900)
        let p = preflightProblems(h, plan: plan(.start), facts: f, uploadBytes: 98 << 20, ensemble: true)
        #expect(p.count == 2)
        #expect(p[0].hasPrefix("installDir /opt/zookeeper: only 50.0 MiB free on /"))
        #expect(p[1].hasPrefix("dataDir /var/lib/zookeeper is on a full disk: 0.9 MiB free on /var/lib/zookeeper"))
    }

    @Test func missingJavaIsNamedForApacheOnly() throws {
        var h = try inventory(threeHosts).hosts[0]
        var f = roomy()
        f.java = ""
        #expect(preflightProblems(h, plan: plan(.start), facts: f, uploadBytes: 0, ensemble: true).isEmpty)
        h.server.flavor = .apache
        #expect(preflightProblems(h, plan: plan(.start), facts: f, uploadBytes: 0, ensemble: true).first?.hasPrefix("java not found") == true)
    }

    @Test func aHostLeftAloneIsNotChecked() throws {
        let h = try inventory(threeHosts).hosts[0]
        var f = roomy()
        f.dataSpace?.availableKiB = 0
        f.running = true
        #expect(preflightProblems(h, plan: plan(.none, writes: false), facts: f, uploadBytes: 0, ensemble: true).isEmpty)
    }

    @Test func aDynamicallyLinkedBinaryIsRefusedWithTheBuildCommand() throws {
        // This test binary itself loads libswiftCore from the toolchain.
        let me = CommandLine.arguments[0]
        guard let r = try? LocalConnection().exec("ldd \(shellQuote(me))", timeout: 30), r.stdoutString.contains("libswiftCore") else { return }
        let why = try #require(binaryNotSelfContained(me))
        #expect(why.contains("swift build -c release --static-swift-stdlib"))
        #expect(binaryNotSelfContained("/bin/sh") == nil)
    }
}

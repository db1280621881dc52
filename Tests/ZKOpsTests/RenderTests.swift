import Foundation
import Testing
@testable import ZKOps

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// Golden files live outside the test target so SwiftPM does not treat them as resources.
let goldenDir = repoRoot.appendingPathComponent("Tests/integration/ops/golden")

@Suite struct Rendering {
    /// Renders inventory/example.yaml and compares every file with the golden copies.
    /// Run with ZKOPS_UPDATE_GOLDEN=1 to rewrite them after an intended change.
    @Test func exampleMatchesGoldenFiles() throws {
        let inv = try Inventory.load(path: repoRoot.appendingPathComponent("inventory/example.yaml").path)
        let update = ProcessInfo.processInfo.environment["ZKOPS_UPDATE_GOLDEN"] == "1"
        for host in inv.hosts {
            for f in try Renderer().render(host: host, in: inv) {
                let url = goldenDir.appendingPathComponent("example/\(host.name)/\(f.name)")
                if update {
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(f.content.utf8).write(to: url)
                }
                let golden = try String(contentsOf: url, encoding: .utf8)
                #expect(f.content == golden, "\(host.name)/\(f.name) differs from \(url.path)")
            }
        }
    }

    @Test func zooCfgHasTheRequiredKeys() throws {
        let inv = try inventory(threeHosts)
        let files = try Renderer().render(host: inv.hosts[1], in: inv)
        let cfg = ZooConfig.parse(files[0].content)
        for k in ["tickTime", "initLimit", "syncLimit", "dataDir", "clientPort", "dynamicConfigFile"] {
            #expect(cfg[k] != nil, "zoo.cfg lacks \(k)")
        }
        #expect(cfg["reconfigEnabled"] == "true")
        #expect(cfg["standaloneEnabled"] == "false")
        let wl = Set(cfg["4lw.commands.whitelist"]!.split(separator: ",").map(String.init))
        #expect(wl.isSuperset(of: ["ruok", "srvr", "mntr"]))
        #expect(cfg["dynamicConfigFile"] == "/opt/zookeeper/conf/zoo.cfg.dynamic")
        #expect(files[1].content == """
        server.1=10.0.0.1:2888:3888:participant;2181
        server.2=10.0.0.2:2888:3888:participant;2181
        server.3=10.0.0.3:2888:3888:participant;2181

        """)
        #expect(files[2].content == "2\n")
        #expect(files[2].remotePath == "/var/lib/zookeeper/myid")
        #expect(files[3].mode == 0o755)
        #expect(files[3].content.hasPrefix("#!/bin/sh\n"))
    }

    @Test func singleServerIsNotForcedOutOfStandalone() throws {
        let inv = try inventory("hosts:\n  - {name: a, address: h, id: 7}")
        let cfg = ZooConfig.parse(try Renderer().render(host: inv.hosts[0], in: inv)[0].content)
        #expect(cfg["standaloneEnabled"] == nil)
    }

    @Test func userWhitelistIsMergedAndApacheGetsAdminServerOff() throws {
        let inv = try inventory(threeHosts.replacingOccurrences(of: "flavor: swift", with: "flavor: apache\n  distribution: /d\n  config: {4lw.commands.whitelist: 'cons, ruok'}"))
        let cfg = ZooConfig.parse(try Renderer().render(host: inv.hosts[0], in: inv)[0].content)
        #expect(cfg["4lw.commands.whitelist"] == "ruok,srvr,mntr,stat,conf,isro,envi,cons")
        #expect(cfg["admin.enableServer"] == "false")
        let launcher = try Renderer().render(host: inv.hosts[0], in: inv)[3].content
        #expect(launcher.contains("org.apache.zookeeper.server.quorum.QuorumPeerMain"))
        #expect(!launcher.contains("bin/zkserver"))
    }

    @Test func userTemplateFolderOverridesSomeTemplates() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zkops-tpl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "{{% CONTENT_TYPE: TEXT}}\nid={{id}} name={{name}}\n".write(to: dir.appendingPathComponent("myid.mustache"), atomically: true, encoding: .utf8)
        var inv = try inventory(threeHosts)
        for i in inv.hosts.indices { inv.hosts[i].server.templates = dir.path }
        let files = try Renderer().render(host: inv.hosts[0], in: inv)
        #expect(files[2].content == "id=1 name=a\n")
        #expect(files[0].content.contains("tickTime=2000"))  // built-in for the rest
    }

    @Test func builtinTemplatesMatchTheTemplatesFolder() throws {
        for (name, text) in builtinTemplates {
            let disk = try String(contentsOf: repoRoot.appendingPathComponent("templates/\(name)"), encoding: .utf8)
            #expect(disk == text, "templates/\(name) changed: run scripts/gen-builtin-templates")
        }
        #expect(builtinTemplates.count == Renderer.templateNames.count)
    }
}

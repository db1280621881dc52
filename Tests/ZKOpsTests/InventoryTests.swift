import Foundation
import Testing
@testable import ZKOps

/// Parses YAML with every file "present" unless listed as missing.
func inventory(_ yaml: String) throws -> Inventory {
    try Inventory.parse(yaml: yaml, baseDir: "/inv")
}

func issues(_ yaml: String, missing: Set<String> = [], binary: String? = nil, requireBinary: Bool = false) throws -> [InventoryIssue] {
    try inventory(yaml).validate(ValidationEnvironment(fileExists: { !missing.contains($0) }, binary: binary, requireBinary: requireBinary))
}

func errors(_ yaml: String, missing: Set<String> = [], binary: String? = nil, requireBinary: Bool = false) throws -> [InventoryIssue] {
    try issues(yaml, missing: missing, binary: binary, requireBinary: requireBinary).filter { $0.severity == .error }
}

let threeHosts = """
ensemble:
  flavor: swift
  clientPort: 2181
hosts:
  - {name: a, address: 10.0.0.1, id: 1}
  - {name: b, address: 10.0.0.2, id: 2}
  - {name: c, address: 10.0.0.3, id: 3}
"""

@Suite struct InventoryParsing {
    @Test func exampleInventoryParsesWithDefaultsAndOverrides() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../inventory/example.yaml")
        let inv = try Inventory.load(path: url.path)
        #expect(inv.hosts.map(\.name) == ["master", "slave1", "slave2", "slave3"])
        #expect(inv.hosts.map(\.id) == [1, 2, 3, 4])
        #expect(inv.hosts[3].role == .observer)
        #expect(inv.participants.count == 3)
        #expect(inv.hosts[0].server.flavor == .swift)
        #expect(inv.hosts[0].server.config["maxClientCnxns"] == "60")
        #expect(inv.hosts[0].ssh.user == "root")
        #expect(inv.hosts[0].ssh.identityFile?.hasSuffix("/.ssh/id_ed25519") == true)
        #expect(inv.parseIssues.isEmpty)
    }

    @Test func perHostOverridesWin() throws {
        let inv = try inventory("""
        ensemble: {clientPort: 2181, dataDir: /data}
        ssh: {user: zk, port: 2222}
        hosts:
          - {name: a, address: h1, id: 1, clientPort: 3000, dataDir: /other, port: 22}
          - {name: b, address: h2, id: 2, connection: local, dataDir: rel/data, installDir: rel/inst}
        """)
        #expect(inv.hosts[0].server.clientPort == 3000)
        #expect(inv.hosts[0].server.dataDir == "/other")
        #expect(inv.hosts[0].ssh.port == 22)
        #expect(inv.hosts[0].ssh.user == "zk")
        #expect(inv.hosts[1].server.clientPort == 2181)
        #expect(inv.hosts[1].ssh.port == 2222)
        // Local hosts resolve relative dirs against the inventory's folder.
        #expect(inv.hosts[1].connection == .local)
        #expect(inv.hosts[1].server.dataDir == "/inv/rel/data")
        #expect(inv.hosts[1].server.installDir == "/inv/rel/inst")
    }

    @Test func threeHostsAreValid() throws {
        #expect(try issues(threeHosts).isEmpty)
    }

    @Test func notYAMLThrows() {
        #expect(throws: InventoryError.self) { try inventory("hosts: [unclosed") }
        #expect(throws: InventoryError.self) { try inventory("- just a list") }
    }
}

@Suite struct InventoryValidation {
    @Test func duplicateId() throws {
        let e = try errors(threeHosts.replacingOccurrences(of: "id: 3", with: "id: 1"))
        #expect(e.count == 1)
        #expect(e[0].key == "hosts[2].id")
        #expect(e[0].message.contains("duplicate id 1"))
    }

    @Test func idOutOfRange() throws {
        for bad in ["0", "256", "-3"] {
            let e = try errors(threeHosts.replacingOccurrences(of: "id: 3", with: "id: \(bad)"))
            #expect(e.map(\.key) == ["hosts[2].id"])
            #expect(e[0].message.contains("out of range"))
        }
    }

    @Test func idNotAnInteger() throws {
        let e = try errors(threeHosts.replacingOccurrences(of: "id: 3", with: "id: three"))
        #expect(e.contains { $0.key == "hosts[2].id" && $0.message.contains("expected an integer") })
    }

    @Test func duplicateAddressPort() throws {
        let e = try errors(threeHosts.replacingOccurrences(of: "10.0.0.3", with: "10.0.0.1"))
        #expect(e.count == 3)  // client, quorum and election ports all clash
        #expect(e.allSatisfy { $0.key.hasPrefix("hosts[2].") && $0.message.contains("duplicate address:port 10.0.0.1:") })
        // Same address with distinct ports is fine.
        let ok = try errors("""
        hosts:
          - {name: a, address: 127.0.0.1, id: 1, clientPort: 1, quorumPort: 2, electionPort: 3}
          - {name: b, address: 127.0.0.1, id: 2, clientPort: 4, quorumPort: 5, electionPort: 6}
          - {name: c, address: 127.0.0.1, id: 3, clientPort: 7, quorumPort: 8, electionPort: 9}
        """)
        #expect(ok.isEmpty)
        // A port clash inside one host is caught too.
        let one = try errors("hosts:\n  - {name: a, address: h, id: 1, clientPort: 5, quorumPort: 5}")
        #expect(one.map(\.key) == ["hosts[0].quorumPort"])
    }

    @Test func noParticipant() throws {
        let e = try errors("""
        hosts:
          - {name: a, address: h1, id: 1, role: observer}
        """)
        #expect(e.map(\.key) == ["hosts"])
        #expect(e[0].message.contains("no participant"))
    }

    @Test func unknownFlavor() throws {
        let e = try errors(threeHosts.replacingOccurrences(of: "flavor: swift", with: "flavor: golang"))
        #expect(e.map(\.key) == ["ensemble.flavor"])
        #expect(e[0].message.contains("unknown flavor 'golang'"))
        let h = try errors(threeHosts.replacingOccurrences(of: "id: 2}", with: "id: 2, flavor: rust}"))
        #expect(h.map(\.key) == ["hosts[1].flavor"])
    }

    @Test func unknownRoleConnectionAndKeys() throws {
        let e = try errors("""
        ensemble: {clientport: 1}
        colour: blue
        hosts:
          - {name: a, address: h1, id: 1, role: boss, connection: telnet, adress: x}
        """)
        #expect(Set(e.map(\.key)) == ["colour", "ensemble.clientport", "hosts[0].role", "hosts[0].connection", "hosts[0].adress"])
    }

    @Test func missingRequiredHostKeys() throws {
        let e = try errors("hosts:\n  - {id: 1}")
        #expect(e.contains { $0.key == "hosts[0].name" && $0.message == "missing" })
        #expect(e.contains { $0.key == "hosts[0].address" && $0.message == "missing" })
        #expect(try errors("ensemble: {}").contains { $0.key == "hosts" })
    }

    @Test func missingFiles() throws {
        let apache = threeHosts.replacingOccurrences(of: "flavor: swift", with: "flavor: apache\n  distribution: /dist/zk.tgz")
        let e = try errors(apache, missing: ["/dist/zk.tgz"])
        #expect(e.count == 3)
        #expect(e.allSatisfy { $0.key.hasSuffix(".distribution") && $0.message.contains("not found: /dist/zk.tgz") })
        let none = try errors(threeHosts.replacingOccurrences(of: "flavor: swift", with: "flavor: apache"))
        #expect(none.count == 3 && none[0].message.contains("needs a distribution"))
        let key = try errors(threeHosts + "\nssh: {identityFile: /keys/id}", missing: ["/keys/id"])
        #expect(key.count == 3 && key.allSatisfy { $0.key.hasSuffix(".identityFile") && $0.message.contains("/keys/id") })
        // Local hosts need no key.
        let local = try errors("ssh: {identityFile: /keys/id}\nhosts:\n  - {name: a, address: 127.0.0.1, id: 1, connection: local, dataDir: /d, installDir: /i}", missing: ["/keys/id"])
        #expect(local.isEmpty)
        let bin = try errors(threeHosts, missing: ["/bin/zkserver"], binary: "/bin/zkserver", requireBinary: true)
        #expect(bin.count == 3 && bin[0].key == "--binary" && bin[0].message.contains("/bin/zkserver"))
        let nobin = try errors(threeHosts, requireBinary: true)
        #expect(nobin.count == 3 && nobin[0].message.contains("needs --binary"))
        let tpl = try errors(threeHosts + "\n", missing: ["/inv/mytemplates"]).isEmpty
        #expect(tpl)
        let tpl2 = try errors(threeHosts.replacingOccurrences(of: "clientPort: 2181", with: "clientPort: 2181\n  templates: mytemplates"), missing: ["/inv/mytemplates"])
        #expect(tpl2.count == 3 && tpl2[0].key.hasSuffix(".templates"))
    }

    @Test func renderNeedsNoKeyDistributionOrBinary() throws {
        let apache = threeHosts.replacingOccurrences(of: "flavor: swift", with: "flavor: apache\n  distribution: /dist/zk.tgz") + "\nssh: {identityFile: /keys/id}"
        let inv = try inventory(apache)
        let e = inv.validate(ValidationEnvironment(fileExists: { _ in false }, checkDeployFiles: false))
        #expect(e.isEmpty)
    }

    @Test func relativeRemoteDirsAreErrors() throws {
        let e = try errors(threeHosts.replacingOccurrences(of: "clientPort: 2181", with: "clientPort: 2181\n  dataDir: data"))
        #expect(e.count == 3 && e.allSatisfy { $0.key.hasSuffix(".dataDir") })
    }

    @Test func managedConfigKeysAreRefused() throws {
        let e = try errors(threeHosts.replacingOccurrences(of: "clientPort: 2181", with: "clientPort: 2181\n  config: {server.9: 'x:1:2', maxClientCnxns: 10}"))
        #expect(e.map(\.key) == ["ensemble.config.server.9"])
    }

    @Test func evenParticipantsIsAWarning() throws {
        let yaml = threeHosts + "\n  - {name: d, address: 10.0.0.4, id: 4}"
        let all = try issues(yaml)
        #expect(all.filter { $0.severity == .error }.isEmpty)
        #expect(all.map(\.severity) == [.warning])
        #expect(all[0].key == "hosts" && all[0].message.contains("4 participants"))
        // An observer does not count.
        #expect(try issues(threeHosts + "\n  - {name: d, address: 10.0.0.4, id: 4, role: observer}").isEmpty)
    }

    @Test func checkedThrowsWithEveryError() throws {
        let inv = try inventory(threeHosts.replacingOccurrences(of: "id: 3", with: "id: 1"))
        #expect(throws: InventoryError.self) { try inv.checked(ValidationEnvironment(fileExists: { _ in true }), path: "x.yaml") }
    }
}

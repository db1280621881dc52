import Testing
@testable import ZKOps

private let liveText = """
server.1=10.77.0.11:2888:3888:participant;0.0.0.0:2181
server.2=10.77.0.12:2888:3888:participant;0.0.0.0:2181
server.3=10.77.0.13:2888:3888:participant;0.0.0.0:2181
version=100000004
"""

private func inventory(_ hosts: [(String, Int, String)]) throws -> Inventory {
    let lines = hosts.map { "  - {name: \($0.0), address: \($0.2), id: \($0.1)}" }.joined(separator: "\n")
    return try Inventory.parse(yaml: "hosts:\n" + lines + "\n", baseDir: "/")
}

@Suite struct MembershipTests {
    @Test func parsesTheLiveConfig() throws {
        let c = try EnsembleConfig.parse(liveText)
        #expect(c.version == 0x1_0000_0004)
        #expect(c.servers.map(\.id) == [1, 2, 3])
        #expect(c.servers[0] == ServerLine(id: 1, address: "10.77.0.11", quorumPort: 2888, electionPort: 3888,
                                           role: .participant, clientPort: 2181))
        #expect(throws: MembershipError.self) { try EnsembleConfig.parse("server.1=nonsense") }
        #expect(ServerLine(id: 4, spec: "h:1:2:observer")?.role == .observer)
        #expect(ServerLine(id: 4, spec: "h:1:2:boss") == nil)
    }

    @Test func sameMembershipIsNoChange() throws {
        let inv = try inventory([("a", 1, "10.77.0.11"), ("b", 2, "10.77.0.12"), ("c", 3, "10.77.0.13")])
        #expect(planMembership(inventory: inv.hosts, live: try EnsembleConfig.parse(liveText)).isEmpty)
    }

    @Test func addAndRemoveBecomeJoiningAndLeaving() throws {
        let inv = try inventory([("a", 1, "10.77.0.11"), ("c", 3, "10.77.0.13"), ("d", 4, "10.77.0.14"), ("e", 5, "10.77.0.15")])
        let p = planMembership(inventory: inv.hosts, live: try EnsembleConfig.parse(liveText))
        #expect(p.joining.map(\.id) == [4, 5])
        #expect(p.leaving == [2])
        #expect(p.fromVersion == 0x1_0000_0004)
        #expect(p.lines == ["+ server.4=10.77.0.14:2888:3888:participant;2181",
                            "+ server.5=10.77.0.15:2888:3888:participant;2181", "- server.2"])
    }

    @Test func aChangedLineIsMarked() throws {
        let inv = try Inventory.parse(yaml: """
            hosts:
              - {name: a, address: 10.77.0.11, id: 1}
              - {name: b, address: 10.77.0.12, id: 2}
              - {name: c, address: 10.77.0.13, id: 3, role: observer}
            """, baseDir: "/")
        let p = planMembership(inventory: inv.hosts, live: try EnsembleConfig.parse(liveText))
        #expect(p.changed == [3] && p.added.isEmpty)
        #expect(p.lines == ["~ server.3=10.77.0.13:2888:3888:observer;2181"])
    }

    @Test func refusesWhatWouldLoseTheMajority() throws {
        let live = try EnsembleConfig.parse(liveText)
        // Removing a healthy server from 3 while another is down leaves 1 of 2: no majority.
        let remove2 = MembershipPlan(joining: [], leaving: [2], changed: [], fromVersion: nil)
        #expect(membershipRefusal(remove2, live: live, alive: [1, 2, 3]) == nil)
        #expect(membershipRefusal(remove2, live: live, alive: [1, 2])?.contains("no majority alive") == true)
        // No quorum now: nothing can be changed.
        #expect(membershipRefusal(remove2, live: live, alive: [1])?.contains("no quorum now") == true)
        // Adding two servers while one member is down: 4 of 5 expected up, fine.
        let add = MembershipPlan(joining: [ServerLine(id: 4, spec: "h4:1:2")!, ServerLine(id: 5, spec: "h5:1:2")!],
                                 leaving: [], changed: [], fromVersion: nil)
        #expect(membershipRefusal(add, live: live, alive: [1, 2]) == nil)
        // The last participant.
        let one = EnsembleConfig(servers: [ServerLine(id: 1, spec: "h1:1:2")!, ServerLine(id: 2, spec: "h2:1:2:observer")!], version: nil)
        let removeLast = MembershipPlan(joining: [], leaving: [1], changed: [], fromVersion: nil)
        #expect(membershipRefusal(removeLast, live: one, alive: [1, 2])?.contains("last participant") == true)
    }

    @Test func joinerStartsWithTheLiveMembershipPlusItself() throws {
        let inv = try inventory([("a", 1, "10.77.0.11"), ("b", 2, "10.77.0.12"), ("c", 3, "10.77.0.13"), ("d", 4, "10.77.0.14")])
        let live = try EnsembleConfig.parse(liveText)
        let step = MembershipStep(live: live, plan: planMembership(inventory: inv.hosts, live: live),
                                  endpoint: ClientEndpoint(address: "10.77.0.11", port: 2181))
        let text = joinerDynamicFile(step, joiner: inv.hosts[3])
        #expect(text == """
            server.1=10.77.0.11:2888:3888:participant;2181
            server.2=10.77.0.12:2888:3888:participant;2181
            server.3=10.77.0.13:2888:3888:participant;2181
            server.4=10.77.0.14:2888:3888:participant;2181

            """)
    }
}

@Suite struct InventoryEditTests {
    private let flow = """
        # our ensemble
        ensemble:
          flavor: apache   # the reference
        hosts:
          # the first
          - {name: a, address: 10.0.0.1, id: 1}
          # the second one
          - {name: b, address: 10.0.0.2, id: 2,
             clientPort: 2182}
          - {name: c, address: 10.0.0.3, id: 3}
        # trailing comment
        ssh:
          user: root
        """

    @Test func addKeepsCommentsAndStyle() throws {
        let out = try InventoryEdit.addHost(flow, fields: [("name", "d"), ("address", "10.0.0.4"), ("id", "4"), ("role", "observer")])
        #expect(out.contains("  - {name: c, address: 10.0.0.3, id: 3}\n  - {name: d, address: 10.0.0.4, id: 4, role: observer}\n# trailing comment"))
        #expect(out.contains("# our ensemble") && out.contains("flavor: apache   # the reference"))
        let inv = try Inventory.parse(yaml: out, baseDir: "/")
        #expect(inv.hosts.map(\.name) == ["a", "b", "c", "d"])
        #expect(inv.host(named: "d")?.role == .observer)
    }

    @Test func addInBlockStyle() throws {
        let block = "hosts:\n- name: a\n  address: h1\n  id: 1\n"
        let out = try InventoryEdit.addHost(block, fields: [("name", "b"), ("address", "h2"), ("id", "2")])
        #expect(out == "hosts:\n- name: a\n  address: h1\n  id: 1\n- name: b\n  address: h2\n  id: 2\n")
    }

    @Test func addRefusesDuplicates() {
        #expect(throws: MembershipError.self) { try InventoryEdit.addHost(flow, fields: [("name", "a"), ("address", "x"), ("id", "9")]) }
        #expect(throws: MembershipError.self) { try InventoryEdit.addHost(flow, fields: [("name", "z"), ("address", "x"), ("id", "2")]) }
    }

    @Test func removeTakesTheEntryAndItsComment() throws {
        let out = try InventoryEdit.removeHost(flow, name: "b")
        #expect(!out.contains("the second one") && !out.contains("clientPort: 2182"))
        #expect(out.contains("# the first") && out.contains("# trailing comment"))
        let inv = try Inventory.parse(yaml: out, baseDir: "/")
        #expect(inv.hosts.map(\.name) == ["a", "c"])
        #expect(throws: MembershipError.self) { try InventoryEdit.removeHost(flow, name: "nope") }
    }
}

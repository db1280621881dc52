import Testing
@testable import ZKOps

func srvr(_ mode: String, zxid: UInt64 = 0x1_0000_0000) -> SrvrInfo {
    SrvrInfo(version: "3.8.0", latencyMin: 0, latencyAvg: 0, latencyMax: 1, connections: 1, outstanding: 0, zxid: zxid, mode: mode, nodeCount: 5)
}

func up(_ h: HostSpec, _ mode: String, zxid: UInt64 = 0x1_0000_0000, mntr: [String: String]? = nil) -> HostProbe {
    HostProbe(name: h.name, address: h.address, clientPort: h.server.clientPort, id: h.id, role: h.role,
              reachable: true, ruok: true, srvr: srvr(mode, zxid: zxid), mntr: mntr)
}

func down(_ h: HostSpec) -> HostProbe {
    HostProbe(name: h.name, address: h.address, clientPort: h.server.clientPort, id: h.id, role: h.role, error: "connection refused")
}

@Suite struct EnsembleVerdict {
    let inv: Inventory
    init() throws { inv = try inventory(threeHosts) }
    var h: [HostSpec] { inv.hosts }

    @Test func healthy() {
        let v = judge(inv, [up(h[0], "follower"), up(h[1], "leader", mntr: ["zk_synced_followers": "2"]), up(h[2], "follower", zxid: 0)])
        #expect(v.health == .healthy)
        #expect(v.leader == "b")
        #expect(v.reasons.isEmpty)
        #expect(v.health.exitCode == 0)
    }

    @Test func oneDownIsDegradedButQuorate() {
        let v = judge(inv, [up(h[0], "follower"), up(h[1], "leader", mntr: ["zk_synced_followers": "1"]), down(h[2])])
        #expect(v.health == .degraded)
        #expect(v.health.exitCode == 1)
        #expect(v.reasons.contains { $0.hasPrefix("c: not serving") })
    }

    @Test func notSyncedIsDegraded() {
        let v = judge(inv, [up(h[0], "follower"), up(h[1], "leader", mntr: ["zk_synced_followers": "1"]), up(h[2], "follower")])
        #expect(v.health == .degraded)
        #expect(v.reasons.contains { $0.contains("1 of 2 followers synced") })
    }

    @Test func twoDownIsNoQuorum() {
        let v = judge(inv, [up(h[0], "leader"), down(h[1]), down(h[2])])
        #expect(v.health == .noQuorum)
        #expect(v.health.exitCode == 2)
    }

    @Test func noLeaderOrTwoLeadersIsNoQuorum() {
        #expect(judge(inv, [up(h[0], "follower"), up(h[1], "follower"), up(h[2], "follower")]).health == .noQuorum)
        let two = judge(inv, [up(h[0], "leader"), up(h[1], "leader"), up(h[2], "follower")])
        #expect(two.health == .noQuorum)
        #expect(two.reasons.contains { $0.contains("2 leaders") })
    }

    @Test func followerInAnotherEpochDoesNotCount() {
        let v = judge(inv, [up(h[0], "follower", zxid: 0x2_0000_0001), up(h[1], "leader", zxid: 0x3_0000_0005), down(h[2])])
        #expect(v.health == .noQuorum)
    }

    @Test func olderEpochIsFineUntilTheLeaderCommitsInItsOwn() {
        let fresh = judge(inv, [up(h[0], "follower", zxid: 0x1_0000_0007), up(h[1], "leader", zxid: 0x2_0000_0000, mntr: ["zk_synced_followers": "2"]),
                                up(h[2], "follower", zxid: 0x2_0000_0000)])
        #expect(fresh.health == .healthy)
        let stale = judge(inv, [up(h[0], "follower", zxid: 0x1_0000_0007), up(h[1], "leader", zxid: 0x2_0000_0003, mntr: ["zk_synced_followers": "2"]),
                                up(h[2], "follower", zxid: 0x2_0000_0003)])
        #expect(stale.health == .degraded)
    }

    @Test func standaloneSingleHost() throws {
        let one = try inventory("hosts:\n  - {name: a, address: h, id: 1}")
        #expect(judge(one, [up(one.hosts[0], "standalone")]).health == .healthy)
        #expect(judge(one, [down(one.hosts[0])]).health == .noQuorum)
    }

    @Test func observerMustBeObserver() throws {
        let obs = try inventory(threeHosts + "\n  - {name: d, address: 10.0.0.4, id: 4, role: observer}")
        let hs = obs.hosts
        let good = judge(obs, [up(hs[0], "leader", mntr: ["zk_synced_followers": "2", "zk_synced_observers": "1"]),
                               up(hs[1], "follower"), up(hs[2], "follower"), up(hs[3], "observer")])
        #expect(good.health == .healthy)
        let bad = judge(obs, [up(hs[0], "leader", mntr: ["zk_synced_followers": "2"]), up(hs[1], "follower"), up(hs[2], "follower"), up(hs[3], "follower")])
        #expect(bad.health == .degraded)
        #expect(bad.reasons.contains { $0.contains("d: mode follower, expected observer") })
    }
}

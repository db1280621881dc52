import Testing
@testable import ZKOps

/// The pure part of rolling-restart / upgrade / rollback: the order and the two gates.
@Suite struct RolloutPlanning {
    let inv: Inventory
    init() throws { inv = try inventory(threeHosts + "\n  - {name: d, address: 10.0.0.4, id: 4, role: observer}") }
    var h: [HostSpec] { inv.hosts }

    var healthy: [HostProbe] {
        [up(h[0], "follower"), up(h[1], "leader", mntr: ["zk_synced_followers": "2", "zk_synced_observers": "1"]),
         up(h[2], "follower"), up(h[3], "observer")]
    }

    @Test func observersThenFollowersThenLeaderLast() {
        let steps = planRollout(inv, probes: healthy)
        #expect(steps.map(\.host) == ["d", "a", "c", "b"])
        #expect(steps.map(\.kind) == [.observer, .follower, .follower, .leader])
    }

    @Test func onlyKeepsTheOrder() {
        #expect(planRollout(inv, probes: healthy, only: ["b", "a"]).map(\.host) == ["a", "b"])
    }

    @Test func withoutALeaderEveryParticipantIsAFollower() {
        let steps = planRollout(inv, probes: [down(h[0]), down(h[1]), down(h[2]), down(h[3])])
        #expect(steps.map(\.host) == ["d", "a", "b", "c"])
        #expect(!steps.contains { $0.kind == .leader })
    }

    @Test func beforeGateNeedsAHealthyEnsemble() {
        #expect(beforeGate(inv, probes: healthy).passed)
        var p = healthy
        p[2] = down(h[2])
        let g = beforeGate(inv, probes: p)
        #expect(!g.passed)
        #expect(g.reason?.contains("c: not serving") == true)
    }

    @Test func afterGateWantsTheRightModeAndTheZxidCaughtUp() {
        #expect(afterGate(h[0], inventory: inv, probes: healthy, zxidBefore: 0x1_0000_0000).passed)
        // Behind the leader's zxid from before the stop.
        let behind = afterGate(h[0], inventory: inv, probes: healthy, zxidBefore: 0x1_0000_0005)
        #expect(behind.reason?.contains("behind") == true)
        // An observer that came back as a follower is in the wrong mode.
        var p = healthy
        p[3] = up(h[3], "follower")
        #expect(afterGate(h[3], inventory: inv, probes: p, zxidBefore: 0).reason?.contains("expected observer") == true)
        // Not serving yet.
        p = healthy
        p[0] = down(h[0])
        #expect(afterGate(h[0], inventory: inv, probes: p, zxidBefore: 0).reason?.contains("not serving") == true)
    }

    @Test func aFormerLeaderMayComeBackAsFollower() {
        // After the leader restarts another server leads; the old one follows.
        let p = [up(h[0], "leader", mntr: ["zk_synced_followers": "2", "zk_synced_observers": "1"]), up(h[1], "follower"),
                 up(h[2], "follower"), up(h[3], "observer")]
        #expect(afterGate(h[1], inventory: inv, probes: p, zxidBefore: 0x1_0000_0000).passed)
    }

    @Test func reportExitCodes() {
        var r = RolloutReport(action: "restart", order: ["a"], hosts: [])
        #expect(r.exitCode == 0)
        r.failures = [OpsError(host: "a", step: "gate", "x")]
        r.refused = true
        #expect(r.exitCode == 1)
        r.refused = false
        #expect(r.exitCode == 2)
    }
}

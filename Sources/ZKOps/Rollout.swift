import Foundation

/// What a host is in a rolling operation, which decides its place in the order.
public enum RolloutKind: String, Sendable, Codable, Equatable {
    case observer, follower, leader
}

/// One host of a rolling operation (restart, upgrade, rollback), in the order it is taken.
public struct RolloutStep: Sendable, Codable, Equatable {
    public var host: String
    public var kind: RolloutKind

    public init(host: String, kind: RolloutKind) { self.host = host; self.kind = kind }
}

/// The order of a rolling operation. Pure.
///
/// Observers first (they do not vote: their absence never costs the quorum), then the followers
/// one at a time, the leader last, so the ensemble elects a new leader once rather than once per
/// host. The leader is whoever the probes say leads (or serves standalone); with none, every
/// participant counts as a follower (the before-gate then refuses anyway). Within a group the
/// inventory's order. `only` restricts the hosts (names), keeping that order.
public func planRollout(_ inventory: Inventory, probes: [HostProbe], only: [String]? = nil) -> [RolloutStep] {
    let byName = Dictionary(probes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    let picked = inventory.hosts.filter { only == nil || only!.contains($0.name) }
    func isLeader(_ h: HostSpec) -> Bool {
        guard let p = byName[h.name], p.ruok else { return false }
        return h.role == .participant && ["leader", "standalone"].contains(p.mode)
    }
    let observers = picked.filter { $0.role == .observer }.map { RolloutStep(host: $0.name, kind: .observer) }
    let followers = picked.filter { $0.role == .participant && !isLeader($0) }.map { RolloutStep(host: $0.name, kind: .follower) }
    let leaders = picked.filter(isLeader).map { RolloutStep(host: $0.name, kind: .leader) }
    return observers + followers + leaders
}

/// A gate's answer: pass, or why not.
public enum GateCheck: Sendable, Equatable {
    case pass
    case fail(String)

    public var passed: Bool { self == .pass }
    public var reason: String? { if case .fail(let r) = self { return r }; return nil }
}

/// The gate before a host is touched. Pure: the ensemble is healthy (`judge`): one leader, every
/// voter synced in its epoch, every observer in place, nobody else down.
public func beforeGate(_ inventory: Inventory, probes: [HostProbe]) -> GateCheck {
    let v = judge(inventory, probes)
    guard v.health == .healthy else {
        return .fail("ensemble \(v.health.rawValue)" + (v.reasons.isEmpty ? "" : ": " + v.reasons.joined(separator: "; ")))
    }
    return .pass
}

/// The leader's last zxid as the probes show it (the zxid a restarted host must catch up to).
public func leaderZxid(_ inventory: Inventory, probes: [HostProbe]) -> UInt64? {
    guard let leader = judge(inventory, probes).leader else { return nil }
    return probes.first { $0.name == leader }?.srvr?.zxid
}

/// The gate after a host came back. Pure. The host serves (imok) in the mode its role asks —
/// `observer` for observers, `follower` or `leader` for participants (`standalone` for a
/// single-host ensemble) — its zxid has caught up with `zxidBefore` (the leader's zxid from just
/// before the host was stopped: everything committed then), and the ensemble is healthy again.
public func afterGate(_ host: HostSpec, inventory: Inventory, probes: [HostProbe], zxidBefore: UInt64) -> GateCheck {
    guard let p = probes.first(where: { $0.name == host.name }) else { return .fail("\(host.name): not probed") }
    guard p.ruok, let s = p.srvr else { return .fail("\(host.name): not serving (\(p.error ?? "no srvr"))") }
    let want: [String]
    if host.role == .observer { want = ["observer"] }
    else if inventory.hosts.count == 1 { want = ["standalone", "leader"] }
    else { want = ["follower", "leader"] }
    guard want.contains(s.mode) else {
        return .fail("\(host.name): mode \(s.mode), expected \(want.joined(separator: " or "))")
    }
    guard s.zxid >= zxidBefore else {
        return .fail("\(host.name): zxid 0x\(String(s.zxid, radix: 16)) behind 0x\(String(zxidBefore, radix: 16)) "
                     + "(the leader's before the stop)")
    }
    return beforeGate(inventory, probes: probes)
}

/// How one host of a rolling operation ended.
public enum RolloutHostStatus: String, Sendable, Codable {
    /// Taken down and back, gates passed.
    case done
    /// Nothing to do on it (already at the wanted version): left running, not restarted.
    case skipped
    /// Its new version failed the after-gate; the previous one was restored and passed it.
    case rolledBack = "rolled back"
    /// It failed and was left as it is (not back, or its rollback failed too).
    case failed
    /// Not reached: the roll stopped before it.
    case notStarted = "not started"
}

/// One host's part in a rolling operation's report.
public struct RolloutHostReport: Sendable, Codable {
    public var host: String
    public var kind: RolloutKind
    public var status: RolloutHostStatus
    /// What was done, in order.
    public var steps: [String] = []
    /// The leader's zxid before this host was stopped (hex).
    public var zxidBefore: String?
    /// Seconds from the stop until its after-gate passed.
    public var outSeconds: Double?
    public var error: OpsError?

    public init(host: String, kind: RolloutKind, status: RolloutHostStatus) {
        self.host = host; self.kind = kind; self.status = status
    }
}

/// The outcome of `zkops rolling-restart` / `upgrade` / `rollback`.
public struct RolloutReport: Sendable, Codable {
    /// "rolling-restart", "upgrade" or "rollback".
    public var action: String
    /// The hosts in the order planned.
    public var order: [String]
    public var hosts: [RolloutHostReport]
    /// The host at which the roll stopped, if it stopped early.
    public var stoppedAt: String?
    /// True when a before-gate stopped the roll and nothing is broken (exit 1).
    public var refused = false
    public var failures: [OpsError] = []
    /// The verdict at the end.
    public var verdict: Verdict?

    public init(action: String, order: [String], hosts: [RolloutHostReport]) {
        self.action = action; self.order = order; self.hosts = hosts
    }

    /// Hosts done (restarted, or skipped as already there).
    public var done: [String] { hosts.filter { $0.status == .done || $0.status == .skipped }.map(\.host) }
    /// Hosts the roll did not reach or did not finish.
    public var notDone: [String] { hosts.filter { $0.status != .done && $0.status != .skipped }.map(\.host) }
    /// 0 done, 1 stopped by a gate with nothing broken, 2 failed.
    public var exitCode: Int32 { failures.isEmpty ? 0 : (refused ? 1 : 2) }

    enum CodingKeys: String, CodingKey { case action, order, hosts, stoppedAt, refused, failures, verdict, done, notDone, exitCode }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(action, forKey: .action); try c.encode(order, forKey: .order); try c.encode(hosts, forKey: .hosts)
        try c.encodeIfPresent(stoppedAt, forKey: .stoppedAt); try c.encode(refused, forKey: .refused)
        try c.encode(failures, forKey: .failures); try c.encodeIfPresent(verdict, forKey: .verdict)
        try c.encode(done, forKey: .done); try c.encode(notDone, forKey: .notDone); try c.encode(exitCode, forKey: .exitCode)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        action = try c.decode(String.self, forKey: .action); order = try c.decode([String].self, forKey: .order)
        hosts = try c.decode([RolloutHostReport].self, forKey: .hosts)
        stoppedAt = try c.decodeIfPresent(String.self, forKey: .stoppedAt); refused = try c.decode(Bool.self, forKey: .refused)
        failures = try c.decode([OpsError].self, forKey: .failures); verdict = try c.decodeIfPresent(Verdict.self, forKey: .verdict)
    }
}

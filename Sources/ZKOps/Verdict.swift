import Foundation

/// What the probes of one host found.
public struct HostProbe: Sendable, Codable, Equatable {
    public var name: String
    public var address: String
    public var clientPort: Int
    public var id: Int
    public var role: Role
    /// A TCP connection to the client port succeeded.
    public var reachable: Bool
    /// `ruok` answered `imok`.
    public var ruok: Bool
    public var srvr: SrvrInfo?
    /// `mntr` as key → value (nil if refused or unreachable).
    public var mntr: [String: String]?
    /// Why it is not reachable/ok, if it is not.
    public var error: String?

    public init(name: String, address: String, clientPort: Int, id: Int, role: Role, reachable: Bool = false,
                ruok: Bool = false, srvr: SrvrInfo? = nil, mntr: [String: String]? = nil, error: String? = nil) {
        self.name = name; self.address = address; self.clientPort = clientPort; self.id = id; self.role = role
        self.reachable = reachable; self.ruok = ruok; self.srvr = srvr; self.mntr = mntr; self.error = error
    }

    public var mode: String { srvr?.mode ?? "-" }
}

/// The ensemble's state as a whole.
public enum Health: String, Sendable, Codable {
    case healthy
    case degraded = "degraded but quorate"
    case noQuorum = "no quorum"

    /// `zkops status` exit code: 0 healthy, 1 degraded, 2 no quorum.
    public var exitCode: Int32 {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .noQuorum: 2
        }
    }
}

/// A verdict with the reasons behind anything short of healthy.
public struct Verdict: Sendable, Codable, Equatable {
    public var health: Health
    public var leader: String?
    public var reasons: [String]
}

/// Probes one host from this machine: ruok, srvr, mntr.
public func probe(_ host: HostSpec, client: any FourLetterClient, timeout: Double = 3) -> HostProbe {
    var p = HostProbe(name: host.name, address: host.address, clientPort: host.server.clientPort, id: host.id, role: host.role)
    do {
        let r = try client.send("ruok", address: host.address, port: host.server.clientPort, timeout: timeout)
        p.reachable = true
        p.ruok = r.trimmingCharacters(in: .whitespacesAndNewlines) == "imok"
        if !p.ruok { p.error = "ruok answered '\(r.prefix(80))'" }
    } catch {
        p.error = "\(error)"
        return p
    }
    if let s = try? client.send("srvr", address: host.address, port: host.server.clientPort, timeout: timeout) {
        p.srvr = SrvrInfo.parse(s)
        if p.srvr == nil && p.error == nil { p.error = "srvr: " + s.trimmingCharacters(in: .whitespacesAndNewlines).prefix(120) }
    }
    if let m = try? client.send("mntr", address: host.address, port: host.server.clientPort, timeout: timeout) {
        let parsed = parseMntr(m)
        p.mntr = parsed.isEmpty ? nil : parsed
    }
    return p
}

/// Judges the ensemble from per-host probes. Pure.
///
/// Healthy: every host answers imok; exactly one leader (standalone for a single host);
/// every other host follower or observer as its role says, with the leader's epoch; the
/// leader's mntr shows every other participant (and observer) synced.
/// Degraded but quorate: one leader, and a majority of participants serving in its epoch.
/// No quorum: anything less.
public func judge(_ inventory: Inventory, _ probes: [HostProbe]) -> Verdict {
    var reasons: [String] = []
    let byName = Dictionary(probes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    let participants = inventory.participants
    if inventory.hosts.count == 1, let h = inventory.hosts.first {
        let p = byName[h.name]
        if let p, p.ruok, ["standalone", "leader"].contains(p.mode) {
            return Verdict(health: .healthy, leader: h.name, reasons: [])
        }
        return Verdict(health: .noQuorum, leader: nil, reasons: ["\(h.name): " + (p?.error ?? "mode \(p?.mode ?? "-")")])
    }
    for h in inventory.hosts {
        guard let p = byName[h.name] else { reasons.append("\(h.name): not probed"); continue }
        if !p.ruok { reasons.append("\(h.name): not serving (\(p.error ?? "no imok"))") }
    }
    let leaders = inventory.hosts.compactMap { h in byName[h.name].flatMap { $0.ruok && $0.mode == "leader" ? $0 : nil } }
    guard leaders.count == 1, let leader = leaders.first, let epoch = leader.srvr?.epoch else {
        if leaders.count > 1 { reasons.append("\(leaders.count) leaders: \(leaders.map(\.name).joined(separator: ", "))") }
        else { reasons.append("no leader") }
        return Verdict(health: .noQuorum, leader: nil, reasons: reasons)
    }
    var serving = 0
    for h in participants {
        guard let p = byName[h.name], p.ruok, let s = p.srvr else { continue }
        if h.name == leader.name { serving += 1; continue }
        if s.mode == "follower" && sameEpoch(s, leader: leader.srvr!) { serving += 1 }
    }
    var allInPlace = true
    for h in inventory.hosts where h.name != leader.name {
        guard let p = byName[h.name], p.ruok, let s = p.srvr else { allInPlace = false; continue }
        let want = h.role == .observer ? "observer" : "follower"
        if s.mode != want {
            allInPlace = false
            reasons.append("\(h.name): mode \(s.mode), expected \(want)")
        } else if !sameEpoch(s, leader: leader.srvr!) {
            allInPlace = false
            reasons.append("\(h.name): epoch \(s.epoch), leader's is \(epoch)")
        }
    }
    let majority = participants.count / 2 + 1
    guard serving >= majority else {
        reasons.append("\(serving) of \(participants.count) participants serving, \(majority) needed")
        return Verdict(health: .noQuorum, leader: leader.name, reasons: reasons)
    }
    if allInPlace {
        let m = leader.mntr ?? [:]
        let wantFollowers = participants.count - 1
        let observers = inventory.hosts.count - participants.count
        if let f = m["zk_synced_followers"].flatMap({ Int($0) }) {
            if f < wantFollowers { allInPlace = false; reasons.append("leader \(leader.name): \(f) of \(wantFollowers) followers synced") }
        } else {
            allInPlace = false
            reasons.append("leader \(leader.name): mntr shows no zk_synced_followers")
        }
        if observers > 0, let o = m["zk_synced_observers"].flatMap({ Int($0) }), o < observers {
            allInPlace = false
            reasons.append("leader \(leader.name): \(o) of \(observers) observers synced")
        }
    }
    return Verdict(health: allInPlace ? .healthy : .degraded, leader: leader.name, reasons: reasons)
}

/// Whether a learner is in the leader's epoch. `srvr` shows the last zxid a server
/// applied: until the first transaction of a new epoch commits (leader counter 0), a
/// synced follower still shows an older epoch (or 0 on a fresh ensemble), so an older
/// epoch only counts against it once the leader has committed something newer.
func sameEpoch(_ s: SrvrInfo, leader: SrvrInfo) -> Bool {
    if s.epoch == leader.epoch { return true }
    return s.epoch < leader.epoch && leader.zxid & 0xffff_ffff == 0
}

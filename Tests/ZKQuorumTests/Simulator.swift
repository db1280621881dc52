import Foundation
@testable import ZKQuorum

/// SplitMix64: a tiny, well-distributed seeded PRNG, so every run of a seed is identical.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    /// Uniform in range.
    mutating func inRange(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.count) }
    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double(next() >> 11) / Double(1 << 53) < p }
}

/// Knobs of one simulated run, all derived from the seed.
struct SimParams: CustomStringConvertible {
    var participants: Int
    var observers: Int
    var loss: Double
    var duplicate: Double
    var maxDelay: Int
    var fifo: Bool
    var crashRate: Double
    var partitionRate: Double
    var proposeRate: Double
    var retained: Int
    var slowDisks: Set<Int64>
    var faultyTicks: Int
    var healTicks: Int

    init(rng: inout SplitMix64) {
        participants = rng.chance(0.5) ? 3 : 5
        observers = rng.chance(0.3) ? 1 : 0
        loss = rng.chance(0.5) ? Double(rng.below(6)) / 100 : 0
        duplicate = rng.chance(0.3) ? Double(rng.below(4)) / 100 : 0
        maxDelay = rng.inRange(0...3)
        fifo = rng.chance(0.5)
        crashRate = [0, 0.005, 0.01, 0.02][rng.below(4)]
        partitionRate = [0, 0.005, 0.01, 0.02][rng.below(4)]
        proposeRate = [0.1, 0.3, 0.6][rng.below(3)]
        retained = rng.chance(0.3) ? rng.inRange(1...4) : 1000
        slowDisks = []
        for id in 1...Int64(participants + observers) where rng.chance(0.2) { slowDisks.insert(id) }
        faultyTicks = 200
        healTicks = 150
    }

    var description: String {
        "n=\(participants)+\(observers)obs loss=\(loss) dup=\(duplicate) delay≤\(maxDelay) fifo=\(fifo) crash=\(crashRate) part=\(partitionRate) propose=\(proposeRate) retained=\(retained) slow=\(slowDisks.sorted())"
    }
}

/// What one simulated server has on its "disk".
struct SimDisk {
    var acceptedEpoch: Int64 = 0
    var currentEpoch: Int64 = 0
    var snapZxid: Int64 = 0
    var snapCount = 0
    var log: [LogEntry] = []

    func has(_ e: LogEntry) -> Bool {
        if e.zxid <= snapZxid { return true }  // covered by a snapshot (checked against history on install)
        var lo = 0, hi = log.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if log[mid].zxid < e.zxid { lo = mid + 1 } else { hi = mid }
        }
        return lo < log.count && log[lo] == e
    }
}

enum DiskOp {
    case install(zxid: Int64, count: Int)
    case truncate(after: Int64)
    case append([LogEntry])
}

struct DiskBatch {
    var doneAt: Int
    var ops: [DiskOp]
    var watermark: Int64
}

struct SimServer {
    let id: Int64
    let config: PeerConfig
    var peer: QuorumPeer?
    var disk = SimDisk()
    var queue: [DiskBatch] = []
    var appliedCount = 0
    var appliedZxid: Int64 = 0
    var downUntil = 0
    var incarnation = 0
}

struct InFlight {
    var deliverAt: Int
    var seq: Int
    var from: Int64
    var to: Int64
    var message: QuorumMessage
}

struct SimFailure: Error, CustomStringConvertible {
    var seed: UInt64
    var tick: Int
    var message: String
    var params: String
    var env: String
    var description: String {
        "seed \(seed) failed at tick \(tick): \(message)\n  params: \(params)\n  reproduce: \(env)ZK_SIM_SEED=\(seed) ZK_SIM_TRACE=1 swift test --filter ZKQuorumTests.simulateOneSeed"
    }
}

/// A deterministic cluster simulation: seeded faults in network, disks and processes, with
/// safety invariants checked after every step and a liveness check after the network heals.
struct Simulation {
    let seed: UInt64
    var rng: SplitMix64
    var params: SimParams
    var servers: [SimServer] = []
    var network: [Int: [InFlight]] = [:]   // by delivery tick, in send order
    var connectionTail: [Int64: Int] = [:]  // FIFO mode: last delivery tick per (from, to)
    var seq = 0
    var now = 0
    var group: [Int64: Int] = [:]
    var trace: Bool

    // Invariant bookkeeping.
    var history: [LogEntry] = []          // the committed sequence, as applied by anyone
    var epochLeader: [Int64: Int64] = [:]
    var proposer: [Int64: Int64] = [:]    // zxid → proposing server
    var clientAcked: [LogEntry] = []      // committed entries reported to "the client"
    // Real-time order of client calls: a logical clock bumped at every invocation and response.
    var eventClock = 0
    var invokedAt: [Int64: Int] = [:]     // zxid → clock when the client's write was proposed
    var ackedAt: [Int64: Int] = [:]       // zxid → clock when the client was told it committed
    var establishedSeen: Set<String> = []
    var nextPayload: UInt64 = 0
    var failure: String?
    var healed = false
    var healStart = 0
    var firstProposalAfterHeal: Int64?
    var livenessDoneAt: Int?
    var counters = (messages: 0, commits: 0, elections: 0, snaps: 0, truncs: 0, healTicks: 0)

    init(seed: UInt64, trace: Bool = false, faultyTicks: Int? = nil) {
        self.seed = seed
        rng = SplitMix64(seed: seed)
        params = SimParams(rng: &rng)
        if let t = faultyTicks { params.faultyTicks = t }
        self.trace = trace
        let parts = Set((1...Int64(params.participants)))
        let obs = Set((0..<Int64(params.observers)).map { Int64(params.participants) + 1 + $0 })
        for id in parts.union(obs).sorted() {
            let cfg = PeerConfig(myid: id, participants: parts, observers: obs, initLimit: 16, syncLimit: 8,
                                 pingInterval: 2, electionResendInterval: 3, retainedCommittedEntries: params.retained)
            var s = SimServer(id: id, config: cfg)
            s.peer = QuorumPeer(config: cfg, persisted: PersistedState())
            servers.append(s)
            up.append(true)
            group[id] = 0
        }
    }

    var quorum: Int { params.participants / 2 + 1 }
    var voters: Range<Int> { 0..<params.participants }
    var up: [Bool] = []

    mutating func fail(_ m: String) {
        if failure == nil { failure = m }
    }

    func log(_ s: @autoclosure () -> String) {
        if trace { print("[\(now)] \(s())") }
    }

    // MARK: Driving

    mutating func run() -> SimFailure? {
        let total = params.faultyTicks + params.healTicks
        while now < total, failure == nil {
            now += 1
            if !healed && now > params.faultyTicks { heal() }
            step()
            if healed, livenessDoneAt != nil { break }
        }
        if failure == nil, !healed { heal() }
        if failure == nil { checkAllCommittedDurable() }
        if failure == nil { checkLinearizable() }
        if failure == nil, livenessDoneAt == nil {
            fail("liveness: no new proposal committed within \(params.healTicks) ticks after healing")
        }
        if let f = failure {
            return SimFailure(seed: seed, tick: now, message: f, params: params.description,
                              env: params.faultyTicks == 200 ? "" : "ZK_SIM_TICKS=\(params.faultyTicks) ")
        }
        return nil
    }

    mutating func heal() {
        healed = true
        healStart = now
        params.loss = 0
        params.duplicate = 0
        params.fifo = true
        params.maxDelay = min(params.maxDelay, 2)
        for id in group.keys { group[id] = 0 }
        for i in servers.indices where !up[i] { restart(i) }
        log("HEAL")
    }

    mutating func step() {
        // 1. Disks finish writes.
        for i in servers.indices where up[i] {
            while let b = servers[i].queue.first, b.doneAt <= now {
                servers[i].queue.removeFirst()
                applyDisk(i, b)
                let r = servers[i].peer!.persisted(upTo: b.watermark)
                handle(i, r)
                if failure != nil { return }
            }
        }
        // 2. Network deliveries (in delivery-time order; equal times in send order).
        if let due = network.removeValue(forKey: now) {
            for m in due {
                guard let i = index(m.to), up[i], group[m.from] == group[m.to] else { continue }
                var msg = m.message
                if rng.chance(0.01) {
                    // Exercise the codec on the wire path now and then.
                    do { msg = try QuorumCodec.decode(QuorumCodec.encode(msg)) } catch { fail("codec: \(error)") }
                }
                counters.messages += 1
                let r = servers[i].peer!.receive(msg, from: m.from)
                handle(i, r)
                if failure != nil { return }
            }
        }
        // 3. Faults and client load.
        if !healed { injectFaults() }
        for i in servers.indices where !up[i] && servers[i].downUntil <= now && !healed {
            restart(i)
        }
        propose()
        // 4. Time passes.
        for i in servers.indices where up[i] {
            let r = servers[i].peer!.tick()
            handle(i, r)
            if failure != nil { return }
        }
        checkLeaders()
    }

    func index(_ id: Int64) -> Int? {
        let i = Int(id) - 1
        return i >= 0 && i < servers.count ? i : nil
    }

    mutating func injectFaults() {
        if rng.chance(params.crashRate) {
            let i = rng.below(servers.count)
            if up[i] { crash(i) }
        }
        if rng.chance(params.partitionRate) {
            for id in group.keys.sorted() { group[id] = rng.below(2) }
            log("PARTITION \(group.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })")
        }
        if rng.chance(params.partitionRate * 2) {
            for id in group.keys { group[id] = 0 }
            log("HEAL-PARTITION")
        }
    }

    mutating func crash(_ i: Int) {
        log("CRASH \(servers[i].id) (lost \(servers[i].queue.count) pending disk batches)")
        servers[i].peer = nil
        up[i] = false
        servers[i].queue = []
        servers[i].downUntil = now + rng.inRange(1...30)
        for k in network.keys { network[k]!.removeAll { $0.to == servers[i].id } }
        // Survivors see the TCP connection drop.
        for j in servers.indices where j != i && up[j] && rng.chance(0.5) {
            let r = servers[j].peer!.connectionLost(to: servers[i].id)
            handle(j, r)
        }
    }

    mutating func restart(_ i: Int) {
        let d = servers[i].disk
        servers[i].incarnation += 1
        servers[i].peer = QuorumPeer(config: servers[i].config, persisted: PersistedState(
            acceptedEpoch: d.acceptedEpoch, currentEpoch: d.currentEpoch, appliedZxid: d.snapZxid, log: d.log))
        up[i] = true
        servers[i].appliedCount = d.snapCount
        servers[i].appliedZxid = d.snapZxid
        log("RESTART \(servers[i].id) epochs=\(d.acceptedEpoch)/\(d.currentEpoch) snap=\(d.snapZxid) log=\(d.log.last?.zxid ?? 0)")
    }

    mutating func propose() {
        guard rng.chance(healed ? 0.5 : params.proposeRate) else { return }
        for i in servers.indices where servers[i].peer?.isEstablishedLeader == true {
            nextPayload += 1
            var p: [UInt8] = []
            withUnsafeBytes(of: nextPayload.bigEndian) { p.append(contentsOf: $0) }
            let (z, r) = servers[i].peer!.propose(p)
            if let z {
                proposer[z] = servers[i].id
                eventClock += 1
                invokedAt[z] = eventClock
                if healed, firstProposalAfterHeal == nil { firstProposalAfterHeal = z }
            }
            handle(i, r)
        }
    }

    // MARK: The shell

    mutating func handle(_ i: Int, _ r: Ready) {
        let id = servers[i].id
        if let e = r.saveEpochs {
            let d = servers[i].disk
            if e.acceptedEpoch < d.acceptedEpoch || e.currentEpoch < d.currentEpoch || e.currentEpoch > e.acceptedEpoch {
                fail("server \(id) saved epochs \(e) after \(d.acceptedEpoch)/\(d.currentEpoch)")
            }
            servers[i].disk.acceptedEpoch = e.acceptedEpoch
            servers[i].disk.currentEpoch = e.currentEpoch
        }
        if r.storageWatermark != nil {
            var ops: [DiskOp] = []
            if let s = r.installSnapshot {
                let (count, zxid) = decodeSnap(s.data)
                guard zxid == s.zxid, count <= history.count, count == 0 ? zxid == 0 : history[count - 1].zxid == zxid else {
                    fail("server \(id) got a snapshot at \(s.zxid) that is not a committed prefix")
                    return
                }
                ops.append(.install(zxid: zxid, count: count))
                servers[i].appliedCount = count
                servers[i].appliedZxid = zxid
                counters.snaps += 1
                log("SNAP-INSTALL \(id) at \(hex(zxid))")
            }
            if let t = r.truncateAfter {
                if t < servers[i].appliedZxid { fail("server \(id) told to truncate after \(hex(t)) below applied \(hex(servers[i].appliedZxid))") }
                ops.append(.truncate(after: t))
                counters.truncs += 1
                log("TRUNC \(id) after \(hex(t))")
            }
            if !r.persist.isEmpty { ops.append(.append(r.persist)) }
            let latency = params.slowDisks.contains(id) ? rng.inRange(2...8) : rng.inRange(0...2)
            let doneAt = max(servers[i].queue.last?.doneAt ?? 0, now + latency)
            servers[i].queue.append(DiskBatch(doneAt: doneAt, ops: ops, watermark: r.storageWatermark!))
        } else if r.installSnapshot != nil || r.truncateAfter != nil || !r.persist.isEmpty {
            fail("storage work without a watermark")
        }
        for env in r.messages { send(from: id, env) }
        for e in r.commit {
            apply(i, e)
            if failure != nil { return }
        }
        for s in r.syncsCompleted where s.zxid > servers[i].appliedZxid {
            fail("server \(id) completed sync at \(hex(s.zxid)) but applied only \(hex(servers[i].appliedZxid))")
        }
        if let role = r.roleChanged {
            log("ROLE \(id) → \(role) \(servers[i].peer.map { "\(role == .looking ? $0.lastTransitionReason : "") epoch=\($0.acceptedEpoch)/\($0.currentEpoch) last=\(hex($0.lastZxid))" } ?? "")")
            if role == .looking { counters.elections += 1 }
        }
        if r.needSnapshot, up[i] {
            let data = encodeSnap(count: servers[i].appliedCount, zxid: servers[i].appliedZxid)
            let r2 = servers[i].peer!.snapshotReady(zxid: servers[i].appliedZxid, data: data)
            handle(i, r2)
        }
    }

    mutating func send(from: Int64, _ env: Envelope) {
        guard !rng.chance(params.loss) else { return }
        let copies = rng.chance(params.duplicate) ? 2 : 1
        for _ in 0..<copies {
            var at = now + rng.inRange(0...params.maxDelay)
            if !healed, rng.chance(0.01) { at += rng.inRange(3...12) }  // a long stall
            // Deliveries due now happen next tick at the earliest (this tick's batch is taken).
            at = max(at, now + 1)
            let conn = from &* 1024 &+ env.to
            if params.fifo {
                // TCP: never overtake an earlier message on the same connection.
                at = max(at, connectionTail[conn] ?? 0)
            }
            connectionTail[conn] = max(connectionTail[conn] ?? 0, at)
            seq += 1
            network[at, default: []].append(InFlight(deliverAt: at, seq: seq, from: from, to: env.to, message: env.message))
        }
    }

    mutating func applyDisk(_ i: Int, _ b: DiskBatch) {
        var checkAfter = false
        for op in b.ops {
            switch op {
            case .install(let z, let c):
                servers[i].disk.snapZxid = z
                servers[i].disk.snapCount = c
                servers[i].disk.log = []
                checkAfter = true
            case .truncate(let t):
                servers[i].disk.log.removeAll { $0.zxid > t }
                checkAfter = true
            case .append(let es):
                if let last = servers[i].disk.log.last?.zxid ?? Optional(servers[i].disk.snapZxid), let first = es.first, first.zxid <= last {
                    fail("server \(servers[i].id) appends \(hex(first.zxid)) after \(hex(last))")
                }
                servers[i].disk.log.append(contentsOf: es)
            }
        }
        if checkAfter { checkAllCommittedDurable() }
    }

    /// The shell applies a committed entry to its state machine.
    mutating func apply(_ i: Int, _ e: LogEntry) {
        let id = servers[i].id
        counters.commits += 1
        let pos = servers[i].appliedCount
        if e.zxid <= servers[i].appliedZxid {
            fail("server \(id) applied \(hex(e.zxid)) after \(hex(servers[i].appliedZxid)) (not increasing)")
            return
        }
        if pos < history.count {
            if history[pos] != e {
                fail("server \(id) applied \(hex(e.zxid)) at position \(pos) where history has \(hex(history[pos].zxid)) — replicas disagree")
                return
            }
        } else {
            history.append(e)
        }
        servers[i].appliedCount = pos + 1
        servers[i].appliedZxid = e.zxid
        // Committed means durable on a majority of participants.
        var n = 0
        for k in voters where servers[k].disk.has(e) { n += 1 }
        if n < quorum {
            fail("server \(id) applied \(hex(e.zxid)) durable on only \(n) participants")
            return
        }
        if let p = proposer[e.zxid], p == id, servers[i].peer?.role == .leading {
            clientAcked.append(e)
            eventClock += 1
            ackedAt[e.zxid] = eventClock
            if let f = firstProposalAfterHeal, e.zxid >= f, livenessDoneAt == nil {
                livenessDoneAt = now
                counters.healTicks = now - healStart
                log("LIVENESS ok after \(now - healStart) ticks")
            }
        }
    }

    mutating func checkAllCommittedDurable() {
        for e in history {
            var n = 0
            for k in voters where servers[k].disk.has(e) { n += 1 }
            if n < quorum {
                fail("committed \(hex(e.zxid)) is durable on only \(n) participants (lost)")
                return
            }
        }
    }

    /// The client-visible write history is linearizable: the committed order extends real-time
    /// order, i.e. a write invoked after another write's acknowledgement never precedes it.
    /// (Acknowledged writes are in `history` by construction; `checkLeaders` and
    /// `checkAllCommittedDurable` make sure they stay there.)
    mutating func checkLinearizable() {
        var latestInvocation = Int.min
        var latestZxid: Int64 = 0
        for e in history {
            if let acked = ackedAt[e.zxid], latestInvocation > acked {
                fail("not linearizable: \(hex(latestZxid)) was invoked after \(hex(e.zxid)) was acknowledged but is ordered before it")
                return
            }
            if let inv = invokedAt[e.zxid], inv > latestInvocation {
                latestInvocation = inv
                latestZxid = e.zxid
            }
        }
    }

    mutating func checkLeaders() {
        for k in servers.indices where up[k] && servers[k].peer!.role == .leading {
            guard let phase = servers[k].peer!.leader?.phase, phase == .synchronization || phase == .broadcast else { continue }
            let s = servers[k]
            let p = s.peer!, l = p.leader!
            if let other = epochLeader[l.epoch], other != s.id {
                fail("two leaders for epoch \(l.epoch): \(other) and \(s.id)")
                return
            }
            epochLeader[l.epoch] = s.id
            guard l.phase == .broadcast else { continue }
            let key = "\(s.id)/\(s.incarnation)/\(l.epoch)"
            if establishedSeen.insert(key).inserted {
                // Every transaction a client was told is committed must be in a new leader's log.
                for e in clientAcked {
                    if e.zxid <= p.logBase {
                        if e.zxid > p.committedZxid { fail("leader \(s.id) epoch \(l.epoch) lost acked \(hex(e.zxid))") }
                        continue
                    }
                    let k = p.indexAfter(e.zxid)
                    if k == 0 || p.log[k - 1] != e {
                        fail("leader \(s.id) of epoch \(l.epoch) lacks client-acknowledged \(hex(e.zxid))")
                        return
                    }
                }
                log("ESTABLISHED \(s.id) epoch \(l.epoch) history to \(hex(l.historyEnd))")
            }
        }
    }
}

func hex(_ z: Int64) -> String { "\(Zxid.epoch(z)):\(Zxid.counter(z))" }

func encodeSnap(count: Int, zxid: Int64) -> [UInt8] {
    var out: [UInt8] = []
    withUnsafeBytes(of: Int64(count).bigEndian) { out.append(contentsOf: $0) }
    withUnsafeBytes(of: zxid.bigEndian) { out.append(contentsOf: $0) }
    return out
}

func decodeSnap(_ b: [UInt8]) -> (Int, Int64) {
    guard b.count == 16 else { return (-1, -1) }
    var c: Int64 = 0, z: Int64 = 0
    for i in 0..<8 { c = c << 8 | Int64(b[i]) }
    for i in 8..<16 { z = z << 8 | Int64(b[i]) }
    return (Int(c), z)
}

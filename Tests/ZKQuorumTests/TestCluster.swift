@testable import ZKQuorum

/// A small, perfect (lossless, in-order, instant-disk) cluster for unit tests.
struct TestCluster {
    var peers: [Int64: QuorumPeer] = [:]
    var queue: [(from: Int64, to: Int64, message: QuorumMessage)] = []
    var sent: [(from: Int64, to: Int64, message: QuorumMessage)] = []
    var applied: [Int64: [LogEntry]] = [:]
    var forwarded: [Int64: [ForwardedRequest]] = [:]
    var responses: [Int64: [LearnerResponse]] = [:]
    var syncs: [Int64: [SyncCompletion]] = [:]
    var isolated: Set<Int64> = []
    var down: Set<Int64> = []
    /// What each server has durably (epochs and log; no snapshots beyond SNAP installs).
    var disks: [Int64: PersistedState] = [:]
    /// Servers whose disk only completes writes when `flushDisk` is called.
    var slow: Set<Int64> = []
    var pendingBatches: [Int64: [(ready: Ready, watermark: Int64)]] = [:]
    /// Messages for which this returns true are lost.
    var drop: ((_ from: Int64, _ to: Int64, _ message: QuorumMessage) -> Bool)?
    /// Membership changes by zxid: a peer that applies one calls `configCommitted`, as the shell does.
    var reconfigs: [Int64: (participants: Set<Int64>, observers: Set<Int64>)] = [:]

    init(participants: Set<Int64>, observers: Set<Int64> = [], states: [Int64: PersistedState] = [:], retained: Int = 1000) {
        for id in participants.union(observers) {
            let cfg = PeerConfig(myid: id, participants: participants, observers: observers,
                                 initLimit: 10, syncLimit: 5, retainedCommittedEntries: retained)
            peers[id] = QuorumPeer(config: cfg, persisted: states[id] ?? PersistedState())
            disks[id] = states[id] ?? PersistedState()
        }
    }

    mutating func handle(_ id: Int64, _ r: Ready) {
        for e in r.messages {
            sent.append((id, e.to, e.message))
            queue.append((id, e.to, e.message))
        }
        applied[id, default: []].append(contentsOf: r.commit)
        for e in r.commit {
            if let rc = reconfigs[e.zxid] {
                let r2 = peers[id]!.configCommitted(participants: rc.participants, observers: rc.observers)
                handle(id, r2)
            }
        }
        forwarded[id, default: []].append(contentsOf: r.forwarded)
        responses[id, default: []].append(contentsOf: r.responses)
        syncs[id, default: []].append(contentsOf: r.syncsCompleted)
        if r.needSnapshot {
            let z = peers[id]!.committedZxid
            let r2 = peers[id]!.snapshotReady(zxid: z, data: [1, 2, 3])
            handle(id, r2)
        }
        if let e = r.saveEpochs {
            disks[id]!.acceptedEpoch = e.acceptedEpoch
            disks[id]!.currentEpoch = e.currentEpoch
        }
        if let w = r.storageWatermark {
            if slow.contains(id) {
                pendingBatches[id, default: []].append((r, w))
            } else {
                writeBatch(id, r)
                let r2 = peers[id]!.persisted(upTo: w)
                handle(id, r2)
            }
        }
    }

    mutating func writeBatch(_ id: Int64, _ r: Ready) {
        if let snap = r.installSnapshot {
            disks[id]!.appliedZxid = snap.zxid
            disks[id]!.log = []
        }
        if let t = r.truncateAfter { disks[id]!.log.removeAll { $0.zxid > t } }
        disks[id]!.log.append(contentsOf: r.persist)
    }

    /// Completes the slow disk's pending writes.
    mutating func flushDisk(_ id: Int64) {
        let batches = pendingBatches[id] ?? []
        pendingBatches[id] = []
        for b in batches {
            writeBatch(id, b.ready)
            let r = peers[id]!.persisted(upTo: b.watermark)
            handle(id, r)
        }
    }

    /// Crashes and restarts `id` from its disk: unwritten batches, in-flight messages from and
    /// to it and its state machine are lost.
    mutating func crashAndRestart(_ id: Int64) {
        pendingBatches[id] = []
        queue.removeAll { $0.from == id || $0.to == id }
        peers[id] = QuorumPeer(config: peers[id]!.config, persisted: disks[id]!)
        applied[id] = []
    }

    /// Delivers everything queued (and whatever that produces), then ticks every live peer.
    mutating func round() {
        var guardCount = 0
        while !queue.isEmpty && guardCount < 100_000 {
            guardCount += 1
            let m = queue.removeFirst()
            if down.contains(m.to) || down.contains(m.from) { continue }
            if isolated.contains(m.to) || isolated.contains(m.from) { continue }
            if let drop, drop(m.from, m.to, m.message) { continue }
            let r = peers[m.to]!.receive(m.message, from: m.from)
            handle(m.to, r)
        }
        for id in peers.keys.sorted() where !down.contains(id) {
            let r = peers[id]!.tick()
            handle(id, r)
        }
    }

    mutating func run(_ rounds: Int, until done: (TestCluster) -> Bool = { _ in false }) {
        for _ in 0..<rounds {
            round()
            if done(self) { return }
        }
    }

    var establishedLeader: Int64? {
        peers.keys.sorted().first { !down.contains($0) && peers[$0]!.isEstablishedLeader }
    }

    /// Starts a joiner whose config is the current membership plus itself, admitted as a guest
    /// by every running member (what the network handshake does in the server).
    mutating func addJoiner(_ id: Int64, observer: Bool = false) {
        let base = peers.values.first!.config
        let cfg = PeerConfig(myid: id, participants: observer ? base.participants : base.participants.union([id]),
                             observers: observer ? base.observers.union([id]) : base.observers,
                             initLimit: 10, syncLimit: 5, retainedCommittedEntries: base.retainedCommittedEntries)
        for other in peers.keys.sorted() {
            let r = peers[other]!.admitGuest(id, observer: observer)
            handle(other, r)
        }
        peers[id] = QuorumPeer(config: cfg, persisted: PersistedState())
        disks[id] = PersistedState()
    }

    /// Proposes a membership change on the established leader.
    mutating func proposeReconfig(participants: Set<Int64>, observers: Set<Int64> = []) -> Int64? {
        guard let l = establishedLeader else { return nil }
        let (z, r) = peers[l]!.proposeReconfig([0xEC], participants: participants, observers: observers)
        if let z { reconfigs[z] = (participants, observers) }
        handle(l, r)
        return z
    }

    mutating func propose(_ payload: [UInt8]) -> Int64? {
        guard let l = establishedLeader else { return nil }
        let (z, r) = peers[l]!.propose(payload)
        handle(l, r)
        return z
    }
}

/// Builds log entries `epoch:from...to` with payload [epoch, counter].
func entries(epoch: Int64, _ counters: ClosedRange<Int64>) -> [LogEntry] {
    counters.map { LogEntry(zxid: Zxid.make(epoch: epoch, counter: $0), payload: [UInt8(epoch), UInt8($0)]) }
}

/// One server's consensus state: fast leader election, Zab discovery/synchronization and atomic
/// broadcast, as a pure value type (no sockets, files, clocks, threads or randomness).
///
/// ## Driving it
/// The shell owns time, transport and disk, and feeds events in:
/// - ``tick()`` every tickTime (ZooKeeper's `tickTime`; `initLimit`/`syncLimit` count ticks);
/// - ``receive(_:from:)`` for every decoded message from a peer (election and quorum ports alike);
/// - ``persisted(upTo:)`` when a storage batch it was given is durable;
/// - ``connectionLost(to:)`` when a quorum TCP connection drops;
/// - ``propose(_:)`` on the leader for each transaction, ``forward(id:payload:)`` on learners for
///   requests the leader must see, ``respond(to:id:payload:)`` for replies to them, and
///   ``requestSync(id:)`` for the client `sync` operation;
/// - ``snapshotReady(zxid:data:)`` after `Ready.needSnapshot`.
///
/// Each call returns a ``Ready``; carry it out in the documented order before the next call for
/// the fastest progress (later calls are still correct if storage is asynchronous):
/// 1. write `saveEpochs` durably; 2. queue the storage batch (`installSnapshot`, `truncateAfter`,
/// `persist`) behind earlier batches and, once durable, call `persisted(upTo: storageWatermark)`;
/// 3. send `messages`; 4. apply `commit` in order; 5. handle the events.
///
/// At boot, pass ``PersistedState`` with the epochs, the zxid of the snapshot the state machine
/// was restored from, and the log entries above it; the core re-delivers commits above the
/// snapshot once it has synced with a leader. A restarted server applies nothing until then.
///
/// ## Guarantees
/// Safety rests on the storage contract: `saveEpochs` is durable before the messages of the same
/// Ready are sent, and `persisted(upTo:)` is called only once a storage batch is durable. Under it,
/// committed entries are never lost or reordered, even if the transport drops, delays, duplicates
/// or reorders messages; liveness needs a transport that eventually delivers in order (TCP).
/// Commits are delivered only once the leader saw a quorum of participants log them durably.
public struct QuorumPeer: Sendable {
    /// The membership and limits. Membership changes only through ``configCommitted(participants:observers:)``.
    public private(set) var config: PeerConfig
    /// Servers outside the membership allowed to connect (joiners a reconfig may add), with
    /// whether they join as observers. They learn the history but never count toward a quorum.
    public private(set) var guests: [Int64: Bool] = [:]
    /// Zab `acceptedEpoch`.
    public private(set) var acceptedEpoch: Int64
    /// Zab `currentEpoch`.
    public private(set) var currentEpoch: Int64
    /// The last zxid delivered to the shell as committed (or in its boot snapshot).
    public private(set) var committedZxid: Int64
    /// The last zxid the shell reported durable.
    public private(set) var durableZxid: Int64
    /// Why the peer last went back to looking (for logs).
    public private(set) var lastTransitionReason = ""
    /// Ticks seen so far.
    public private(set) var now: Int64 = 0
    /// Current role.
    public private(set) var role: QuorumRole = .looking

    /// In-memory log tail: every entry above `logBase`, ascending.
    var log: [LogEntry]
    /// A point of this server's history (committed) just below `log[0]`.
    var logBase: Int64
    /// Storage batches issued but not yet reported durable, in issue order.
    var watermarks: [(zxid: Int64, fence: Bool)] = []
    var pendingFences = 0

    var election: _Election
    var leader: _LeaderState?
    var learner: _LearnerState?
    var out = Ready()

    /// Boots a peer from what the shell loaded from disk. The peer starts looking; the first
    /// ``tick()`` broadcasts its vote.
    public init(config: PeerConfig, persisted: PersistedState) {
        self.config = config
        acceptedEpoch = persisted.acceptedEpoch
        currentEpoch = persisted.currentEpoch
        committedZxid = persisted.appliedZxid
        let entries = persisted.log
        if entries.contains(where: { $0.zxid == persisted.appliedZxid }) {
            // The log reaches back to (or past) the snapshot: keep the older part for DIFFs. Its
            // first entry becomes the base point, since we cannot know what preceded it.
            logBase = entries[0].zxid
            log = Array(entries[1...])
        } else {
            logBase = persisted.appliedZxid
            log = entries.filter { $0.zxid > persisted.appliedZxid }
        }
        durableZxid = log.last?.zxid ?? logBase
        election = _Election(proposal: Vote(leader: config.myid, zxid: 0, peerEpoch: 0))
        election.proposal = selfVote
        becomeLooking("boot")
        out = Ready()
        election.lastBroadcast = Int64.min / 2
    }

    // MARK: - Public inputs

    /// Advances time by one tick: timeouts, pings, vote re-broadcasts.
    public mutating func tick() -> Ready {
        now += 1
        guard isMember else { return flush() }
        switch role {
        case .looking: lookingTick()
        case .leading: leaderTick()
        case .following, .observing: learnerTick()
        }
        return flush()
    }

    /// Handles a message from peer `from`. Unknown senders and stale or malformed-in-context
    /// messages are ignored; protocol violations by the leader send this server back to looking.
    public mutating func receive(_ message: QuorumMessage, from: Int64) -> Ready {
        guard isMember, from != config.myid,
              config.participants.contains(from) || config.observers.contains(from) || guests[from] != nil else {
            return flush()
        }
        if case .vote(let n) = message {
            handleNotification(n, from: from)
        } else if case .followerInfo = message, leader == nil {
            // Not leading (ZooKeeper would refuse the connection): say so, so the learner re-elects.
            send(.vote(myNotification), to: from)
        } else if leader != nil {
            leaderReceive(message, from: from)
        } else if learner != nil {
            learnerReceive(message, from: from)
        }
        return flush()
    }

    /// Leader only: proposes a new transaction. Returns its zxid, or nil when this server is not
    /// an established leader (the shell should redirect or fail the client request).
    public mutating func propose(_ payload: [UInt8]) -> (zxid: Int64?, ready: Ready) {
        proposeEntry(payload, reconfig: nil)
    }

    /// Leader only: proposes a membership change. It commits once a quorum of the current voters
    /// and a quorum of `participants` logged it (Zab's reconfig rule), and every later proposal
    /// waits for both quorums until then. Returns nil when not an established leader or while
    /// another reconfig is pending. The shell must call ``configCommitted(participants:observers:)``
    /// when it applies the entry, on every server.
    public mutating func proposeReconfig(_ payload: [UInt8], participants: Set<Int64>, observers: Set<Int64>)
        -> (zxid: Int64?, ready: Ready)
    {
        guard leader?.pendingReconfig == nil, !participants.isEmpty else { return (nil, flush()) }
        return proposeEntry(payload, reconfig: (participants, observers))
    }

    /// Leader: the zxid the next proposal will get (a reconfig's version is its own zxid).
    public var nextProposalZxid: Int64? {
        guard let l = leader, l.phase == .broadcast else { return nil }
        return Zxid.make(epoch: l.epoch, counter: l.counter + 1)
    }

    /// Leader: whether a proposed membership change has not committed yet.
    public var reconfigPending: Bool { leader?.pendingReconfig != nil }

    /// Lets `id` (not a member) connect and sync as a learner, so a reconfig can add it.
    public mutating func admitGuest(_ id: Int64, observer: Bool) -> Ready {
        if id != config.myid, !config.participants.contains(id), !config.observers.contains(id) {
            guests[id] = observer
        }
        return flush()
    }

    /// The shell applied a committed membership change: from now on quorums are counted in the
    /// new membership. A server left out stops taking part (it neither votes nor serves); a
    /// leader left out (or turned observer) steps down so the new voters elect one; learners
    /// whose leader left re-elect; learners dropped from the membership are let go.
    public mutating func configCommitted(participants: Set<Int64>, observers: Set<Int64>) -> Ready {
        let wasObserver = config.isObserver
        config.participants = participants
        config.observers = observers.subtracting(participants)
        for id in guests.keys where participants.contains(id) || observers.contains(id) { guests[id] = nil }
        if !isMember {
            lastTransitionReason = "removed from the ensemble"
            if let l = leader { out.disconnect.append(contentsOf: l.handles.keys.sorted()) }
            if let lr = learner { out.disconnect.append(lr.leaderId) }
            leader = nil
            learner = nil
            setRole(.looking)
            return flush()
        }
        if var l = leader {
            l.pendingReconfig = nil
            if config.isObserver {
                leader = l
                becomeLooking("leader: reconfigured as an observer")
                return flush()
            }
            for id in l.handles.keys.sorted() {
                if config.participants.contains(id) { l.handles[id]!.observer = false }
                else if config.observers.contains(id) { l.handles[id]!.observer = true }
                else if guests[id] == nil { l.handles[id] = nil }  // left: it stops by itself
            }
            leader = l
            leaderAdvanceCommit(&l)
            if leader != nil { leader = l }
        } else if let lr = learner {
            if !config.participants.contains(lr.leaderId) || wasObserver != config.isObserver {
                becomeLooking("learner: the leader left the ensemble or our role changed")
            }
        }
        return flush()
    }

    /// Learner: synced data is arriving but the leader has not said UPTODATE yet. Commits then
    /// replay history (a joiner replays reconfigs from before it joined).
    public var isSyncingLearner: Bool {
        guard let lr = learner else { return false }
        return lr.phase < .active
    }

    /// Whether this server is in the membership (a removed one stays inert).
    public var isMember: Bool {
        config.participants.contains(config.myid) || config.observers.contains(config.myid)
    }

    private mutating func proposeEntry(_ payload: [UInt8], reconfig: (Set<Int64>, Set<Int64>)?) -> (zxid: Int64?, ready: Ready) {
        guard var l = leader, l.phase == .broadcast else { return (nil, flush()) }
        if l.counter >= 0xFFFF_FFFE {
            // The counter would wrap into the next epoch: force a new election, as ZooKeeper does.
            becomeLooking("proposal counter exhausted")
            return (nil, flush())
        }
        l.counter += 1
        let entry = LogEntry(zxid: Zxid.make(epoch: l.epoch, counter: l.counter), payload: payload)
        l.lastProposed = entry.zxid
        if let (p, o) = reconfig { l.pendingReconfig = _PendingReconfig(zxid: entry.zxid, participants: p, observers: o) }
        leader = l
        appendLocal([entry])
        for id in l.handles.keys.sorted() {
            let h = l.handles[id]!
            if h.forwarding && !h.observer { send(.proposal(session: h.session, entry: entry), to: id) }
        }
        return (entry.zxid, flush())
    }

    /// The shell made a storage batch durable; `zxid` is that batch's `Ready.storageWatermark`.
    /// Batches must be reported in the order they were issued (skipping some is fine).
    public mutating func persisted(upTo zxid: Int64) -> Ready {
        guard let i = watermarks.firstIndex(where: { $0.zxid == zxid }) else { return flush() }
        for w in watermarks[0...i] where w.fence { pendingFences -= 1 }
        watermarks.removeFirst(i + 1)
        if pendingFences == 0 {
            // Without a truncate or snapshot still in flight, the disk holds our log up to zxid.
            durableZxid = min(zxid, lastZxid)
        }
        if leader != nil { leaderDurabilityChanged() } else if learner != nil { learnerDurabilityChanged() }
        return flush()
    }

    /// Leader only: the shell took the snapshot requested by `Ready.needSnapshot`. `zxid` is the
    /// zxid of the applied state it captures (at most ``committedZxid``).
    public mutating func snapshotReady(zxid: Int64, data: [UInt8]) -> Ready {
        guard var l = leader else { return flush() }
        guard zxid >= logBase, zxid <= committedZxid else {
            // Too old for our in-memory log (or bogus): ask again.
            if l.handles.values.contains(where: { $0.phase == .awaitingSnapshot }) { out.needSnapshot = true }
            return flush()
        }
        let entries = entriesAfter(zxid)
        for id in l.handles.keys.sorted() where l.handles[id]!.phase == .awaitingSnapshot {
            let s = l.handles[id]!.session
            send(.snap(session: s, snapshotZxid: zxid, snapshot: data, entries: entries, committedZxid: committedZxid), to: id)
            startNewLeader(&l, id)
        }
        leader = l
        return flush()
    }

    /// The shell lost the quorum connection to `peer`.
    public mutating func connectionLost(to peer: Int64) -> Ready {
        if let lr = learner, lr.leaderId == peer {
            becomeLooking("connection to leader lost")
        } else if leader != nil, leader!.handles[peer] != nil {
            leader!.handles[peer] = nil
            leader!.infoFrom[peer] = nil
        }
        return flush()
    }

    /// Learner only: forwards an opaque request to the leader. Returns false when not synced
    /// with a leader (the shell should fail the request).
    public mutating func forward(id: Int64, payload: [UInt8]) -> (sent: Bool, ready: Ready) {
        guard let lr = learner, lr.phase >= .synced else { return (false, flush()) }
        send(.request(session: lr.session, id: id, payload: payload), to: lr.leaderId)
        return (true, flush())
    }

    /// Leader only: sends an opaque response to a learner's forwarded request.
    public mutating func respond(to peer: Int64, id: Int64, payload: [UInt8]) -> Ready {
        if let h = leader?.handles[peer], h.phase != .awaitingEpochAck {
            send(.response(session: h.session, id: id, payload: payload), to: peer)
        }
        return flush()
    }

    /// Client `sync`: completes (in `Ready.syncsCompleted`) once everything the leader had
    /// proposed when it saw the request is committed and applied here. Returns false when this
    /// server is neither an established leader nor a learner synced with one.
    public mutating func requestSync(id: Int64) -> (accepted: Bool, ready: Ready) {
        if var l = leader, l.phase == .broadcast {
            if l.lastProposed <= committedZxid {
                out.syncsCompleted.append(SyncCompletion(id: id, zxid: committedZxid))
            } else {
                l.pendingSyncs.append(_PendingSync(zxid: l.lastProposed, peer: nil, session: 0, id: id))
                leader = l
            }
            return (true, flush())
        }
        if let lr = learner, lr.phase >= .synced {
            send(.syncRequest(session: lr.session, id: id), to: lr.leaderId)
            return (true, flush())
        }
        return (false, flush())
    }

    /// State for four-letter words (`srvr`, `stat`, `mntr`).
    public var status: QuorumStatus {
        var s = QuorumStatus(
            myid: config.myid, role: role, leaderId: nil, acceptedEpoch: acceptedEpoch,
            currentEpoch: currentEpoch, epoch: nil, isSynced: false, syncedFollowers: [],
            syncedObservers: [], pendingProposals: 0, lastZxid: lastZxid, durableZxid: durableZxid,
            committedZxid: committedZxid, quorumSize: config.quorumSize, electionEpoch: election.clock)
        if let l = leader {
            s.leaderId = config.myid
            s.epoch = l.phase == .discovery ? nil : l.epoch
            s.isSynced = l.phase == .broadcast
            for (id, h) in l.handles where h.phase == .active {
                if h.observer { s.syncedObservers.append(id) } else { s.syncedFollowers.append(id) }
            }
            s.syncedFollowers.sort()
            s.syncedObservers.sort()
            s.pendingProposals = log.count - indexAfter(committedZxid)
        } else if let lr = learner {
            s.leaderId = lr.leaderId
            s.epoch = lr.session >= 0 ? Zxid.epoch(lr.session) : nil
            s.isSynced = lr.phase == .active
        }
        return s
    }

    /// Leader: whether it completed discovery and sync and may propose.
    public var isEstablishedLeader: Bool { leader?.phase == .broadcast }

    /// Last zxid in the in-memory log.
    public var lastZxid: Int64 { log.last?.zxid ?? logBase }

    // MARK: - Internals shared by all roles

    mutating func flush() -> Ready {
        let r = out
        out = Ready()
        return r
    }

    mutating func send(_ m: QuorumMessage, to: Int64) {
        out.messages.append(Envelope(to: to, message: m))
    }

    mutating func setRole(_ r: QuorumRole) {
        if role != r {
            role = r
            out.roleChanged = r
        }
    }

    mutating func saveEpochs() {
        out.saveEpochs = SavedEpochs(acceptedEpoch: acceptedEpoch, currentEpoch: currentEpoch)
    }

    var selfVote: Vote { Vote(leader: config.myid, zxid: lastZxid, peerEpoch: currentEpoch) }

    /// Appends entries to the in-memory log and asks the shell to persist them.
    mutating func appendLocal(_ entries: [LogEntry]) {
        guard !entries.isEmpty else { return }
        log.append(contentsOf: entries)
        out.persist.append(contentsOf: entries)
        issueStorage(fence: false)
    }

    /// Records a storage batch; a fence (truncate/snapshot) invalidates durability above it.
    mutating func issueStorage(fence: Bool) {
        let w = lastZxid
        if let last = watermarks.last, out.storageWatermark != nil {
            // Same Ready: one batch, one watermark.
            watermarks[watermarks.count - 1] = (w, last.fence || fence)
            if fence && !last.fence { pendingFences += 1 }
        } else {
            watermarks.append((w, fence))
            if fence { pendingFences += 1 }
        }
        out.storageWatermark = w
    }

    /// Index of the first log entry with zxid > `zxid`.
    func indexAfter(_ zxid: Int64) -> Int {
        var lo = 0, hi = log.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if log[mid].zxid <= zxid { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func entriesAfter(_ zxid: Int64) -> [LogEntry] {
        Array(log[indexAfter(zxid)...])
    }

    /// Whether `zxid` is a point of our history we still know (the base or a retained entry).
    func hasPoint(_ zxid: Int64) -> Bool {
        if zxid == logBase { return true }
        let i = indexAfter(zxid)
        return i > 0 && log[i - 1].zxid == zxid
    }

    /// The highest point of our history whose epoch is `epoch`, if we still hold one.
    func lastPoint(inEpoch epoch: Int64) -> Int64? {
        let i = indexAfter(Zxid.make(epoch: epoch, counter: 0xFFFF_FFFF))
        let z = i > 0 ? log[i - 1].zxid : logBase
        return Zxid.epoch(z) == epoch ? z : nil
    }

    /// The last zxid of each epoch of our history, ascending (base point included).
    var historySummary: [Int64] {
        var out: [Int64] = []
        var lastEpoch = Int64.min
        for z in [logBase] + log.map(\.zxid) {
            let e = Zxid.epoch(z)
            if e == lastEpoch { out[out.count - 1] = z } else { out.append(z); lastEpoch = e }
        }
        return out
    }

    /// Delivers entries up to `target` (clamped to the log) as committed.
    mutating func commitLocal(upTo target: Int64) {
        let t = min(target, lastZxid)
        guard t > committedZxid else { return }
        let from = indexAfter(committedZxid), to = indexAfter(t)
        out.commit.append(contentsOf: log[from..<to])
        committedZxid = t
        compact()
    }

    /// Drops old committed entries beyond the retention window.
    mutating func compact() {
        let keep = config.retainedCommittedEntries
        let committedCount = indexAfter(committedZxid)
        if committedCount > 2 * keep {
            let drop = committedCount - keep
            logBase = log[drop - 1].zxid
            log.removeFirst(drop)
        }
    }

    // MARK: - Election

    mutating func becomeLooking(_ why: String) {
        lastTransitionReason = why
        if let l = leader {
            for id in l.handles.keys.sorted() { out.disconnect.append(id) }
        }
        if let lr = learner { out.disconnect.append(lr.leaderId) }
        leader = nil
        learner = nil
        setRole(.looking)
        election.clock += 1
        election.recv = [:]
        election.outOfElection = [:]
        election.pendingDecision = nil
        guard isMember else { return }
        if config.isObserver {
            election.proposal = Vote(leader: -1, zxid: lastZxid, peerEpoch: currentEpoch)
        } else {
            election.proposal = selfVote
            election.recv[config.myid] = election.proposal
        }
        broadcastVote()
    }

    var myNotification: Notification {
        Notification(vote: election.proposal, electionEpoch: election.clock, state: role)
    }

    mutating func broadcastVote() {
        election.lastBroadcast = now
        let n = myNotification
        for p in config.participants.sorted() where p != config.myid {
            send(.vote(n), to: p)
        }
    }

    func quorumAgrees() -> Bool {
        let proposal = election.proposal
        return election.recv.values.reduce(0, { $0 + ($1 == proposal ? 1 : 0) }) >= config.quorumSize
    }

    mutating func lookingTick() {
        // Decisions wait for a tick: a better vote may still be in flight (ZooKeeper's
        // finalizeWait), and a learner that keeps failing to join re-tries at most once a tick.
        if let v = election.pendingDecision {
            election.pendingDecision = nil
            decide(v)
            return
        }
        if now - election.lastBroadcast >= Int64(config.electionResendInterval) {
            broadcastVote()
        }
    }

    mutating func handleNotification(_ n: Notification, from p: Int64) {
        let voter = config.participants.contains(p)
        guard role == .looking else {
            // Tell a looking server who leads.
            if n.state == .looking { send(.vote(myNotification), to: p) }
            // (A looking one may just not have decided yet: keep retrying until initLimit.)
            if let lr = learner, lr.leaderId == p, lr.phase == .connecting, n.state == .following || n.state == .observing {
                becomeLooking("learner: chosen leader is not leading")
            } else if var lr = learner, lr.leaderId == p, lr.phase == .connecting, n.state == .leading {
                // The chosen leader now leads: (re)introduce ourselves at once.
                lr.lastInfoSent = now
                learner = lr
                send(.followerInfo(acceptedEpoch: acceptedEpoch, lastZxid: lastZxid), to: p)
            }
            return
        }
        if !voter {
            if n.state == .looking { send(.vote(myNotification), to: p) }
            return
        }
        let q = config.quorumSize
        if config.isObserver {
            // Observers never vote; they follow a leader that says it leads.
            if n.state == .leading, n.vote.leader == p {
                election.clock = max(election.clock, n.electionEpoch)
                election.pendingDecision = n.vote
            }
            return
        }
        if n.state == .looking {
            if n.electionEpoch > election.clock {
                election.clock = n.electionEpoch
                election.recv = [:]
                election.proposal = n.vote.beats(selfVote) && config.participants.contains(n.vote.leader) ? n.vote : selfVote
                election.recv[config.myid] = election.proposal
                broadcastVote()
            } else if n.electionEpoch < election.clock {
                send(.vote(myNotification), to: p)
                return
            } else if n.vote.beats(election.proposal), config.participants.contains(n.vote.leader) {
                election.proposal = n.vote
                election.recv[config.myid] = n.vote
                broadcastVote()
            }
            election.recv[p] = n.vote
            // Like ZooKeeper's finalizeWait: a quorum agrees, but a better vote may still be in
            // flight; decide on the next tick if nothing changed by then.
            election.pendingDecision = quorumAgrees() ? election.proposal : nil
            return
        }
        // The sender is following or leading: maybe an ensemble already runs without us.
        guard config.participants.contains(n.vote.leader) else { return }
        if n.electionEpoch == election.clock {
            election.recv[p] = n.vote
            if election.recv.values.reduce(0, { $0 + ($1 == n.vote ? 1 : 0) }) >= q,
               checkLeader(n.vote.leader, electionEpoch: n.electionEpoch) {
                election.pendingDecision = n.vote
                return
            }
        }
        election.outOfElection[p] = n
        let agreeing = election.outOfElection.values.reduce(0) {
            $0 + ($1.vote.leader == n.vote.leader && $1.electionEpoch == n.electionEpoch ? 1 : 0)
        }
        if agreeing >= q, checkLeader(n.vote.leader, electionEpoch: n.electionEpoch) {
            election.clock = n.electionEpoch
            election.pendingDecision = n.vote
        }
    }

    /// A leader other than us must itself claim to lead; us only within the same round.
    func checkLeader(_ id: Int64, electionEpoch: Int64) -> Bool {
        if id == config.myid { return electionEpoch == election.clock }
        return election.outOfElection[id]?.state == .leading
    }

    mutating func decide(_ vote: Vote) {
        election.proposal = vote
        if vote.leader == config.myid {
            becomeLeader()
        } else {
            becomeLearner(vote.leader)
        }
    }

    // MARK: - Leader

    mutating func becomeLeader() {
        learner = nil
        var l = _LeaderState(startTick: now, historyEnd: lastZxid, lastProposed: lastZxid)
        l.infoFrom[config.myid] = acceptedEpoch
        l.lastPing = now
        leader = l
        setRole(.leading)
        // Learners that decided a tick earlier may have had their FOLLOWERINFO answered "not
        // leading yet"; telling everyone we lead lets them retry now instead of a resend later.
        let n = myNotification
        for p in config.others { send(.vote(n), to: p) }
        maybeChooseEpoch()
    }

    /// Discovery: once a quorum reported its accepted epoch, pick one above all of them.
    mutating func maybeChooseEpoch() {
        guard var l = leader, l.phase == .discovery else { return }
        let reporters = l.infoFrom.keys.filter { config.participants.contains($0) }
        guard reporters.count >= config.quorumSize else { return }
        var e = acceptedEpoch
        for a in l.infoFrom.values { e = max(e, a) }
        for h in l.handles.values { e = max(e, h.acceptedEpoch) }
        l.epoch = e + 1
        acceptedEpoch = l.epoch
        saveEpochs()
        l.phase = .awaitingEpochAcks
        l.epochAckers = [config.myid]
        for id in l.handles.keys.sorted() { sendLeaderInfo(&l, id) }
        leader = l
    }

    mutating func sendLeaderInfo(_ l: inout _LeaderState, _ id: Int64) {
        guard var h = l.handles[id] else { return }
        if h.session == 0 {
            l.nextSession += 1
            h.session = Zxid.make(epoch: l.epoch, counter: l.nextSession)
            l.handles[id] = h
        }
        send(.leaderInfo(session: h.session, epoch: l.epoch), to: id)
    }

    mutating func dropLearner(_ l: inout _LeaderState, _ id: Int64) {
        l.handles[id] = nil
        out.disconnect.append(id)
    }

    mutating func leaderTick() {
        guard var l = leader else { return }
        if l.phase != .broadcast && now - l.startTick > Int64(config.initLimit) {
            becomeLooking("leader: not established within initLimit")
            return
        }
        for id in l.handles.keys.sorted() {
            let h = l.handles[id]!
            if h.phase == .active {
                if now - h.lastHeard > Int64(config.syncLimit) { dropLearner(&l, id) }
            } else if now - h.phaseStart > Int64(config.initLimit) {
                dropLearner(&l, id)
            }
        }
        if l.phase == .broadcast {
            let synced = l.handles.reduce(1) { $0 + ($1.value.phase == .active && config.participants.contains($1.key) ? 1 : 0) }
            if synced < config.quorumSize {
                leader = l
                becomeLooking("leader: lost quorum of synced followers")
                return
            }
        }
        if now - l.lastPing >= Int64(config.pingInterval) {
            l.lastPing = now
            for id in l.handles.keys.sorted() {
                let h = l.handles[id]!
                if h.forwarding { send(.ping(session: h.session, zxid: committedZxid), to: id) }
            }
        }
        leader = l
    }

    mutating func leaderReceive(_ m: QuorumMessage, from p: Int64) {
        guard var l = leader else { return }
        defer { if role == .leading, leader != nil { leader = l } }
        if case .followerInfo(let ae, _) = m {
            if var h = l.handles[p], h.phase == .awaitingEpochAck {
                // A retransmission: keep the session so the answer we already sent stays valid.
                h.acceptedEpoch = ae
                h.lastHeard = now
                l.handles[p] = h
                if l.phase != .discovery { sendLeaderInfo(&l, p) }
                return
            }
            l.handles[p] = _LearnerHandle(observer: config.observers.contains(p) || guests[p] == true,
                                          acceptedEpoch: ae, lastHeard: now, phaseStart: now)
            if l.phase == .discovery {
                if config.participants.contains(p) { l.infoFrom[p] = ae }
                leader = l
                maybeChooseEpoch()
                l = leader!
            } else {
                sendLeaderInfo(&l, p)
            }
            return
        }
        guard var h = l.handles[p], let s = m.session, s == h.session, h.session != 0 else { return }
        h.lastHeard = now
        l.handles[p] = h
        switch m {
        case .ackEpoch(_, let ce, let history):
            guard h.phase == .awaitingEpochAck, let last = history.last else { return }
            h.history = history
            h.phase = .epochAcked
            l.handles[p] = h
            if l.phase == .awaitingEpochAcks {
                if ce != -1, config.participants.contains(p) {
                    if ce > currentEpoch || (ce == currentEpoch && last > lastZxid) {
                        // A learner knows more than we do: we must not lead (Zab discovery).
                        leader = nil
                        becomeLooking("leader: a learner has a more recent history")
                        return
                    }
                    l.epochAckers.insert(p)
                }
                if l.epochAckers.count >= config.quorumSize { startSynchronization(&l) }
            } else if l.phase != .discovery {
                syncLearner(&l, p)
            }
        case .ackNewLeader(_, let z):
            guard h.phase == .awaitingNewLeaderAck, z == Zxid.make(epoch: l.epoch, counter: 0) else { return }
            h.phase = .active
            h.acked = max(h.acked, h.syncedUpTo)
            l.handles[p] = h
            if config.participants.contains(p) { l.newLeaderAckers.insert(p) }
            if l.phase == .broadcast {
                send(.upToDate(session: h.session, committedZxid: committedZxid), to: p)
                leaderAdvanceCommit(&l)
            } else {
                checkEstablished(&l)
            }
        case .ack(_, let z), .ping(_, let z):
            if h.phase == .active, !h.observer, z > h.acked {
                h.acked = min(z, l.lastProposed)
                l.handles[p] = h
                leaderAdvanceCommit(&l)
            }
        case .request(_, let id, let payload):
            out.forwarded.append(ForwardedRequest(from: p, id: id, payload: payload))
        case .syncRequest(_, let id):
            if l.phase == .broadcast, l.lastProposed <= committedZxid {
                send(.syncResponse(session: s, id: id, zxid: committedZxid), to: p)
            } else {
                l.pendingSyncs.append(_PendingSync(zxid: l.lastProposed, peer: p, session: s, id: id))
            }
        default:
            break
        }
    }

    mutating func startSynchronization(_ l: inout _LeaderState) {
        l.phase = .synchronization
        for id in l.handles.keys.sorted() where l.handles[id]!.phase == .epochAcked {
            syncLearner(&l, id)
        }
        leaderSelfAck(&l)
    }

    /// The leader acks its own NEWLEADER once its history is durable; only then may it adopt
    /// the new epoch as `currentEpoch` (a crash before that must not advertise the new epoch
    /// with an incomplete log).
    mutating func leaderSelfAck(_ l: inout _LeaderState) {
        guard l.phase == .synchronization, !l.newLeaderAckers.contains(config.myid),
              durableZxid >= l.historyEnd else { return }
        currentEpoch = l.epoch
        saveEpochs()
        l.newLeaderAckers.insert(config.myid)
        checkEstablished(&l)
    }

    mutating func checkEstablished(_ l: inout _LeaderState) {
        guard l.phase == .synchronization, l.newLeaderAckers.contains(config.myid),
              l.newLeaderAckers.count >= config.quorumSize else { return }
        l.phase = .broadcast
        // A quorum logged our whole history under the new epoch: all of it is committed now.
        commitLocal(upTo: l.historyEnd)
        for id in l.handles.keys.sorted() where l.handles[id]!.phase == .active {
            send(.upToDate(session: l.handles[id]!.session, committedZxid: committedZxid), to: id)
        }
        completeLeaderSyncs(&l)
    }

    /// Chooses DIFF, TRUNC or SNAP for a learner that acked the epoch, and queues NEWLEADER.
    mutating func syncLearner(_ l: inout _LeaderState, _ id: Int64) {
        guard var h = l.handles[id], h.phase == .epochAcked else { return }
        let learnerLast = h.history.last ?? 0
        var common: Int64?
        // Histories that share a zxid agree up to it (each epoch has one leader), so the common
        // prefix ends in the highest epoch both logs contain.
        for z in h.history.reversed() {
            if let mine = lastPoint(inEpoch: Zxid.epoch(z)) {
                let c = min(z, mine)
                if c >= logBase { common = c }
                break
            }
        }
        guard let c = common else {
            h.phase = .awaitingSnapshot
            h.phaseStart = now
            l.handles[id] = h
            out.needSnapshot = true
            return
        }
        let entries = entriesAfter(c)
        if c == learnerLast {
            send(.diff(session: h.session, entries: entries, committedZxid: committedZxid), to: id)
        } else {
            send(.trunc(session: h.session, afterZxid: c, entries: entries, committedZxid: committedZxid), to: id)
        }
        startNewLeader(&l, id)
    }

    mutating func startNewLeader(_ l: inout _LeaderState, _ id: Int64) {
        guard var h = l.handles[id] else { return }
        send(.newLeader(session: h.session, zxid: Zxid.make(epoch: l.epoch, counter: 0)), to: id)
        h.syncedUpTo = lastZxid
        h.phase = .awaitingNewLeaderAck
        h.phaseStart = now
        h.forwarding = true
        l.handles[id] = h
    }

    mutating func leaderDurabilityChanged() {
        guard var l = leader else { return }
        if l.phase == .synchronization { leaderSelfAck(&l) }
        if l.phase == .broadcast { leaderAdvanceCommit(&l) }
        if leader != nil { leader = l }
    }

    /// Commits the highest zxid durable on a quorum (acks are cumulative; ourselves included).
    mutating func leaderAdvanceCommit(_ l: inout _LeaderState) {
        guard l.phase == .broadcast, var target = quorumPoint(l, voters: config.participants) else { return }
        if let rc = l.pendingReconfig, target >= rc.zxid {
            // The reconfig and what follows it also need a quorum of the new voters.
            let inNew = quorumPoint(l, voters: rc.participants) ?? Int64.min
            target = inNew >= rc.zxid ? min(target, inNew) : rc.zxid - 1
        }
        target = min(target, l.lastProposed)
        guard target > committedZxid else { return }
        let committedEntries = Array(log[indexAfter(committedZxid)..<indexAfter(target)])
        commitLocal(upTo: target)
        for id in l.handles.keys.sorted() {
            let h = l.handles[id]!
            guard h.forwarding else { continue }
            if h.observer {
                for e in committedEntries { send(.inform(session: h.session, entry: e), to: id) }
            } else {
                send(.commit(session: h.session, zxid: target), to: id)
            }
        }
        completeLeaderSyncs(&l)
    }

    /// The highest zxid a quorum of `voters` has durably (this leader counted if it votes).
    func quorumPoint(_ l: _LeaderState, voters: Set<Int64>) -> Int64? {
        var acks: [Int64] = []
        if voters.contains(config.myid) { acks.append(durableZxid) }
        for (id, h) in l.handles where h.phase == .active && voters.contains(id) { acks.append(h.acked) }
        let q = voters.count / 2 + 1
        guard acks.count >= q else { return nil }
        acks.sort(by: >)
        return acks[q - 1]
    }

    mutating func completeLeaderSyncs(_ l: inout _LeaderState) {
        guard l.phase == .broadcast, !l.pendingSyncs.isEmpty else { return }
        var rest: [_PendingSync] = []
        for ps in l.pendingSyncs {
            if ps.zxid <= committedZxid {
                if let p = ps.peer {
                    if l.handles[p]?.session == ps.session {
                        send(.syncResponse(session: ps.session, id: ps.id, zxid: committedZxid), to: p)
                    }
                } else {
                    out.syncsCompleted.append(SyncCompletion(id: ps.id, zxid: committedZxid))
                }
            } else {
                rest.append(ps)
            }
        }
        l.pendingSyncs = rest
    }

    // MARK: - Learner (follower or observer)

    mutating func becomeLearner(_ leaderId: Int64) {
        leader = nil
        learner = _LearnerState(leaderId: leaderId, startTick: now, lastHeard: now, lastInfoSent: now)
        setRole(config.isObserver ? .observing : .following)
        send(.followerInfo(acceptedEpoch: acceptedEpoch, lastZxid: lastZxid), to: leaderId)
    }

    mutating func learnerTick() {
        guard var lr = learner else { return }
        if lr.phase == .active {
            if now - lr.lastHeard > Int64(config.syncLimit) { becomeLooking("learner: leader silent for syncLimit"); return }
        } else {
            if now - lr.startTick > Int64(config.initLimit) { becomeLooking("learner: not synced within initLimit"); return }
            if lr.phase == .connecting, now - lr.lastInfoSent >= Int64(config.electionResendInterval) {
                lr.lastInfoSent = now
                send(.followerInfo(acceptedEpoch: acceptedEpoch, lastZxid: lastZxid), to: lr.leaderId)
            }
        }
        learner = lr
    }

    /// The leader broke the protocol (or the transport lost a message): resync from scratch.
    mutating func learnerFail(_ why: String) {
        becomeLooking("learner: " + why)
    }

    mutating func learnerReceive(_ m: QuorumMessage, from p: Int64) {
        guard var lr = learner, p == lr.leaderId else { return }
        if case .leaderInfo(let s, let e) = m {
            guard lr.phase == .connecting, Zxid.epoch(s) == e else { return }
            if e < acceptedEpoch { learnerFail("leader epoch below acceptedEpoch"); return }
            var ce = currentEpoch
            if e > acceptedEpoch {
                acceptedEpoch = e
                saveEpochs()
            } else {
                ce = -1  // already accepted this epoch once: the leader must not count us again
            }
            lr.session = s
            lr.phase = .awaitingSync
            lr.lastHeard = now
            learner = lr
            send(.ackEpoch(session: s, currentEpoch: ce, history: historySummary), to: p)
            return
        }
        guard let s = m.session, s == lr.session else { return }
        lr.lastHeard = now
        learner = lr
        switch m {
        case .diff(_, let entries, let c):
            guard lr.phase == .awaitingSync else { return }
            guard entries.first.map({ $0.zxid > lastZxid }) ?? true, isAscending(entries) else { learnerFail("bad DIFF"); return }
            appendLocal(entries)
            learner!.phase = .synced
            learnerCommit(c)
        case .trunc(_, let after, let entries, let c):
            guard lr.phase == .awaitingSync else { return }
            guard after >= committedZxid, hasPoint(after), isAscending(entries),
                  entries.first.map({ $0.zxid > after }) ?? true else { learnerFail("bad TRUNC"); return }
            log.removeSubrange(indexAfter(after)...)
            out.truncateAfter = after
            durableZxid = min(durableZxid, after)
            issueStorage(fence: true)
            appendLocal(entries)
            learner!.phase = .synced
            learnerCommit(c)
        case .snap(_, let z, let data, let entries, let c):
            guard lr.phase == .awaitingSync else { return }
            guard isAscending(entries), entries.first.map({ $0.zxid > z }) ?? true else { learnerFail("bad SNAP"); return }
            log = []
            logBase = z
            committedZxid = z
            out.installSnapshot = SnapshotInstall(zxid: z, data: data)
            durableZxid = min(durableZxid, z)
            issueStorage(fence: true)
            appendLocal(entries)
            learner!.phase = .synced
            learnerCommit(c)
        case .newLeader(_, let z):
            guard lr.phase == .synced, Zxid.epoch(z) == Zxid.epoch(s), Zxid.counter(z) == 0 else { return }
            learner!.phase = .awaitingDurable
            learner!.newLeaderZxid = z
            learner!.needDurable = lastZxid
            tryAckNewLeader()
        case .upToDate(_, let c):
            guard lr.phase == .awaitingUpToDate else { return }
            learner!.phase = .active
            learnerCommit(c)
        case .proposal(_, let e):
            guard lr.phase >= .synced, !config.isObserver else { return }
            if e.zxid <= lastZxid { return }  // duplicate
            guard follows(e.zxid) else { learnerFail("gap before \(Zxid.epoch(e.zxid)):\(Zxid.counter(e.zxid))"); return }
            appendLocal([e])
        case .commit(_, let z):
            guard lr.phase >= .synced else { return }
            learnerCommit(z)
        case .inform(_, let e):
            guard lr.phase >= .synced else { return }
            if e.zxid > lastZxid {
                guard follows(e.zxid) else { learnerFail("gap before \(Zxid.epoch(e.zxid)):\(Zxid.counter(e.zxid))"); return }
                appendLocal([e])
            }
            learnerCommit(e.zxid)
        case .ping(_, let z):
            if lr.phase >= .synced { learnerCommit(z) }
            send(.ping(session: s, zxid: durableZxid), to: p)
        case .syncResponse(_, let id, let z):
            learner!.pendingSyncs.append(SyncCompletion(id: id, zxid: z))
            completeLearnerSyncs()
        case .response(_, let id, let payload):
            out.responses.append(LearnerResponse(id: id, payload: payload))
        default:
            break
        }
    }

    func isAscending(_ es: [LogEntry]) -> Bool {
        var prev = Int64.min
        for e in es {
            if e.zxid <= prev { return false }
            prev = e.zxid
        }
        return true
    }

    /// Whether `zxid` is the next transaction after our last one: the next counter in the same
    /// epoch, or the first proposal of a newer epoch.
    func follows(_ zxid: Int64) -> Bool {
        let last = lastZxid
        if Zxid.epoch(zxid) == Zxid.epoch(last) { return zxid == last &+ 1 }
        return Zxid.epoch(zxid) > Zxid.epoch(last) && Zxid.counter(zxid) == 1
    }

    mutating func learnerCommit(_ z: Int64) {
        learner!.leaderCommitted = max(learner!.leaderCommitted, z)
        commitLocal(upTo: learner!.leaderCommitted)
        completeLearnerSyncs()
    }

    mutating func completeLearnerSyncs() {
        guard let lr = learner, !lr.pendingSyncs.isEmpty else { return }
        var rest: [SyncCompletion] = []
        for ps in lr.pendingSyncs {
            if ps.zxid <= committedZxid { out.syncsCompleted.append(ps) } else { rest.append(ps) }
        }
        learner!.pendingSyncs = rest
    }

    /// NEWLEADER is acked only once the synced history is durable; `currentEpoch` is adopted at
    /// the same moment (saved before the ack is sent).
    mutating func tryAckNewLeader() {
        guard let lr = learner, lr.phase == .awaitingDurable, durableZxid >= lr.needDurable else { return }
        currentEpoch = Zxid.epoch(lr.newLeaderZxid)
        saveEpochs()
        learner!.phase = .awaitingUpToDate
        learner!.ackedSent = durableZxid
        send(.ackNewLeader(session: lr.session, zxid: lr.newLeaderZxid), to: lr.leaderId)
    }

    mutating func learnerDurabilityChanged() {
        guard let lr = learner else { return }
        if lr.phase == .awaitingDurable { tryAckNewLeader(); return }
        if lr.phase >= .awaitingUpToDate, !config.isObserver, durableZxid > lr.ackedSent {
            learner!.ackedSent = durableZxid
            send(.ack(session: lr.session, zxid: durableZxid), to: lr.leaderId)
        }
    }
}

extension QuorumMessage {
    /// The leader-assigned session the message belongs to (nil for election and connect messages).
    var session: Int64? {
        switch self {
        case .vote, .followerInfo: nil
        case .leaderInfo(let s, _), .ackEpoch(let s, _, _), .diff(let s, _, _), .trunc(let s, _, _, _),
             .snap(let s, _, _, _, _), .newLeader(let s, _), .ackNewLeader(let s, _), .upToDate(let s, _),
             .proposal(let s, _), .ack(let s, _), .commit(let s, _), .inform(let s, _), .ping(let s, _),
             .request(let s, _, _), .response(let s, _, _), .syncRequest(let s, _), .syncResponse(let s, _, _):
            s
        }
    }
}

// MARK: - Internal state records

struct _Election: Sendable {
    var clock: Int64 = 0
    var proposal: Vote
    var recv: [Int64: Vote] = [:]
    var outOfElection: [Int64: Notification] = [:]
    var lastBroadcast: Int64 = 0
    var pendingDecision: Vote?
}

enum _LeaderPhase: Sendable {
    /// Gathering FOLLOWERINFO from a quorum to pick the epoch.
    case discovery
    /// Epoch chosen; waiting for a quorum of ACKEPOCH.
    case awaitingEpochAcks
    /// Syncing learners; waiting for a quorum of NEWLEADER acks.
    case synchronization
    /// Established: proposing and committing.
    case broadcast
}

struct _LeaderState: Sendable {
    var startTick: Int64
    var phase: _LeaderPhase = .discovery
    var epoch: Int64 = 0
    var historyEnd: Int64
    var infoFrom: [Int64: Int64] = [:]
    var epochAckers: Set<Int64> = []
    var newLeaderAckers: Set<Int64> = []
    var handles: [Int64: _LearnerHandle] = [:]
    var nextSession: Int64 = 0
    var lastProposed: Int64
    var counter: Int64 = 0
    var pendingSyncs: [_PendingSync] = []
    var lastPing: Int64 = 0
    var pendingReconfig: _PendingReconfig?

    init(startTick: Int64, historyEnd: Int64, lastProposed: Int64) {
        self.startTick = startTick
        self.historyEnd = historyEnd
        self.lastProposed = lastProposed
    }
}

enum _HandlePhase: Sendable {
    case awaitingEpochAck, epochAcked, awaitingSnapshot, awaitingNewLeaderAck, active
}

struct _LearnerHandle: Sendable {
    var session: Int64 = 0
    var observer: Bool
    var acceptedEpoch: Int64
    var phase: _HandlePhase = .awaitingEpochAck
    var history: [Int64] = []
    var syncedUpTo: Int64 = 0
    var acked: Int64 = 0
    var lastHeard: Int64
    var phaseStart: Int64
    /// Receives proposals/commits (set once its sync data is queued).
    var forwarding = false

    init(observer: Bool, acceptedEpoch: Int64, lastHeard: Int64, phaseStart: Int64) {
        self.observer = observer
        self.acceptedEpoch = acceptedEpoch
        self.lastHeard = lastHeard
        self.phaseStart = phaseStart
    }
}

struct _PendingReconfig: Sendable {
    var zxid: Int64
    var participants: Set<Int64>
    var observers: Set<Int64>
}

struct _PendingSync: Sendable {
    var zxid: Int64
    var peer: Int64?
    var session: Int64
    var id: Int64
}

enum _LearnerPhase: Int, Comparable, Sendable {
    case connecting, awaitingSync, synced, awaitingDurable, awaitingUpToDate, active
    static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

struct _LearnerState: Sendable {
    var leaderId: Int64
    var phase: _LearnerPhase = .connecting
    var session: Int64 = -1
    var startTick: Int64
    var lastHeard: Int64
    var lastInfoSent: Int64
    var leaderCommitted: Int64 = Int64.min
    var newLeaderZxid: Int64 = 0
    var needDurable: Int64 = 0
    var ackedSent: Int64 = 0
    var pendingSyncs: [SyncCompletion] = []

    init(leaderId: Int64, startTick: Int64, lastHeard: Int64, lastInfoSent: Int64) {
        self.leaderId = leaderId
        self.startTick = startTick
        self.lastHeard = lastHeard
        self.lastInfoSent = lastInfoSent
    }
}

/// Helpers for ZooKeeper transaction ids.
///
/// A zxid is `epoch << 32 | counter`: the high 32 bits name the leader's epoch, the low 32 bits
/// count the proposals of that leader. Ordering zxids as `Int64` orders transactions.
public enum Zxid {
    /// Builds `epoch << 32 | counter`.
    @inlinable public static func make(epoch: Int64, counter: Int64) -> Int64 {
        (epoch << 32) | (counter & 0xFFFF_FFFF)
    }
    /// The epoch half of a zxid.
    @inlinable public static func epoch(_ zxid: Int64) -> Int64 { zxid >> 32 }
    /// The counter half of a zxid.
    @inlinable public static func counter(_ zxid: Int64) -> Int64 { zxid & 0xFFFF_FFFF }
}

/// One transaction of the replicated log: a zxid and an opaque payload the shell understands.
public struct LogEntry: Sendable, Hashable {
    /// The transaction id; strictly increasing along a log.
    public var zxid: Int64
    /// Opaque bytes (the server puts a serialized txn here).
    public var payload: [UInt8]
    public init(zxid: Int64, payload: [UInt8]) {
        self.zxid = zxid
        self.payload = payload
    }
}

/// Static configuration of one server of the ensemble.
public struct PeerConfig: Sendable, Equatable {
    /// This server's id (`myid`).
    public var myid: Int64
    /// Voting members. A quorum is a strict majority of this set.
    public var participants: Set<Int64>
    /// Non-voting members: they never vote, never count toward a quorum, and only receive commits.
    public var observers: Set<Int64>
    /// Ticks a learner has to connect and finish syncing with a leader (and a new leader has
    /// to gather a quorum) before giving up.
    public var initLimit: Int
    /// Ticks without hearing from the other side after which leader and learner drop each other.
    public var syncLimit: Int
    /// The leader pings every learner each `pingInterval` ticks.
    public var pingInterval: Int
    /// A looking server re-broadcasts its vote every `electionResendInterval` ticks.
    public var electionResendInterval: Int
    /// How many committed entries the core keeps in memory so lagging learners can get a DIFF
    /// rather than a SNAP.
    public var retainedCommittedEntries: Int

    /// Creates a configuration. `pingInterval` defaults to `max(1, syncLimit / 2)`.
    public init(
        myid: Int64, participants: Set<Int64>, observers: Set<Int64> = [],
        initLimit: Int = 10, syncLimit: Int = 5, pingInterval: Int? = nil,
        electionResendInterval: Int = 2, retainedCommittedEntries: Int = 1000
    ) {
        self.myid = myid
        self.participants = participants
        self.observers = observers
        self.initLimit = initLimit
        self.syncLimit = syncLimit
        self.pingInterval = pingInterval ?? max(1, syncLimit / 2)
        self.electionResendInterval = max(1, electionResendInterval)
        self.retainedCommittedEntries = max(1, retainedCommittedEntries)
    }

    /// Number of participants needed for a quorum (strict majority).
    public var quorumSize: Int { participants.count / 2 + 1 }
    /// Whether this server is an observer.
    public var isObserver: Bool { observers.contains(myid) }
    /// Every member but this server.
    public var others: [Int64] { (participants.union(observers)).subtracting([myid]).sorted() }
}

/// What the shell loaded from disk at boot.
public struct PersistedState: Sendable, Equatable {
    /// Highest epoch this server has agreed to follow (Zab's `acceptedEpoch`).
    public var acceptedEpoch: Int64
    /// Epoch of the last leader whose history this server has fully logged (Zab's `currentEpoch`).
    public var currentEpoch: Int64
    /// Zxid of the state the shell's state machine reflects at boot (its snapshot). Everything up
    /// to it is committed; the core will only deliver commits above it.
    public var appliedZxid: Int64
    /// The durable log, ascending. Must hold every logged entry above `appliedZxid`; may also hold
    /// older ones (they let this server serve DIFFs when it leads).
    public var log: [LogEntry]

    public init(acceptedEpoch: Int64 = 0, currentEpoch: Int64 = 0, appliedZxid: Int64 = 0, log: [LogEntry] = []) {
        self.acceptedEpoch = acceptedEpoch
        self.currentEpoch = currentEpoch
        self.appliedZxid = appliedZxid
        self.log = log
    }
}

/// A server's role, as reported by the `srvr`/`stat` four-letter words.
public enum QuorumRole: String, Sendable, Equatable {
    case looking, leading, following, observing
}

/// A vote in fast leader election: who should lead, and that candidate's history.
/// Votes are ordered by `(peerEpoch, zxid, leader)`.
public struct Vote: Sendable, Hashable {
    /// Proposed leader's myid.
    public var leader: Int64
    /// Proposed leader's last logged zxid.
    public var zxid: Int64
    /// Proposed leader's `currentEpoch`.
    public var peerEpoch: Int64
    public init(leader: Int64, zxid: Int64, peerEpoch: Int64) {
        self.leader = leader
        self.zxid = zxid
        self.peerEpoch = peerEpoch
    }
    /// Whether `self` beats `other` in the total order used by leader election.
    public func beats(_ other: Vote) -> Bool {
        if peerEpoch != other.peerEpoch { return peerEpoch > other.peerEpoch }
        if zxid != other.zxid { return zxid > other.zxid }
        return leader > other.leader
    }
}

/// An election notification: the sender's current vote, its election round and its state.
public struct Notification: Sendable, Equatable {
    public var vote: Vote
    /// The sender's election round (ZooKeeper's `logicalclock`).
    public var electionEpoch: Int64
    /// The sender's role when it sent this.
    public var state: QuorumRole
    public init(vote: Vote, electionEpoch: Int64, state: QuorumRole) {
        self.vote = vote
        self.electionEpoch = electionEpoch
        self.state = state
    }
}

/// A message to send to one peer.
public struct Envelope: Sendable, Equatable {
    public var to: Int64
    public var message: QuorumMessage
    public init(to: Int64, message: QuorumMessage) {
        self.to = to
        self.message = message
    }
}

/// Epoch values the shell must write durably (ZooKeeper's `acceptedEpoch` / `currentEpoch` files).
public struct SavedEpochs: Sendable, Equatable {
    public var acceptedEpoch: Int64
    public var currentEpoch: Int64
}

/// A snapshot the leader sent: the shell must replace its state machine and its log with it.
public struct SnapshotInstall: Sendable, Equatable {
    /// The zxid the snapshot reflects; the log restarts after it.
    public var zxid: Int64
    /// Opaque snapshot bytes, as produced by the leader's shell.
    public var data: [UInt8]
}

/// A request a learner forwarded to the leader (client writes, session pings, ...).
public struct ForwardedRequest: Sendable, Equatable {
    public var from: Int64
    public var id: Int64
    public var payload: [UInt8]
}

/// A response the leader sent to this learner for one of its forwarded requests.
public struct LearnerResponse: Sendable, Equatable {
    public var id: Int64
    public var payload: [UInt8]
}

/// A `sync` that completed: everything the leader had proposed when it saw the request has been
/// committed here, up to `zxid`.
public struct SyncCompletion: Sendable, Equatable {
    public var id: Int64
    public var zxid: Int64
}

/// The output of every call into ``QuorumPeer``: directives the shell must carry out.
///
/// Like etcd/raft's `Ready`, the fields must be handled **in this order**:
/// 1. `saveEpochs`: write durably (fsync) before anything else — the messages may promise them.
/// 2. Storage, as one ordered batch on the log device, after every earlier batch:
///    `installSnapshot` (replace state machine and log), then `truncateAfter` (drop log entries
///    with zxid greater than it), then append `persist`. This may complete asynchronously; when
///    the batch is durable call ``QuorumPeer/persisted(upTo:)`` with `storageWatermark`.
///    Batches must complete in the order they were issued.
/// 3. `messages`: send. None of them depends on storage still in flight: the core withholds
///    acks until `persisted(upTo:)` says the entries are durable.
/// 4. `commit`: apply to the state machine in order (they are committed on a quorum already).
/// 5. The rest are events: `syncsCompleted` (after the commits), `forwarded`, `responses`,
///    `needSnapshot`, `disconnect`, `roleChanged`.
public struct Ready: Sendable, Equatable {
    /// Epochs to write durably before sending `messages`.
    public var saveEpochs: SavedEpochs?
    /// A snapshot to install (learner, SNAP sync).
    public var installSnapshot: SnapshotInstall?
    /// Truncate the log after this zxid (learner, TRUNC sync). Never below a committed zxid.
    public var truncateAfter: Int64?
    /// Entries to append to the log.
    public var persist: [LogEntry] = []
    /// Set when this Ready has storage work: pass it to `persisted(upTo:)` once the batch is durable.
    public var storageWatermark: Int64?
    /// Messages to send.
    public var messages: [Envelope] = []
    /// Committed entries to apply, in zxid order, without gaps.
    public var commit: [LogEntry] = []
    /// Completed `sync` requests (report them after applying `commit`).
    public var syncsCompleted: [SyncCompletion] = []
    /// Requests learners forwarded to this leader.
    public var forwarded: [ForwardedRequest] = []
    /// Responses the leader sent to this learner.
    public var responses: [LearnerResponse] = []
    /// Leader only: a learner needs a SNAP; take a snapshot of the applied state and call
    /// ``QuorumPeer/snapshotReady(zxid:data:)``.
    public var needSnapshot: Bool = false
    /// Peers whose quorum connection the shell should close (the core dropped them).
    public var disconnect: [Int64] = []
    /// Set when the role changed during this call. The shell should fail pending forwarded
    /// requests and syncs when it sees a change.
    public var roleChanged: QuorumRole?

    public init() {}

    /// True when there is nothing to do.
    public var isEmpty: Bool { self == Ready() }
}

/// A snapshot of the consensus state for four-letter words and metrics.
public struct QuorumStatus: Sendable, Equatable {
    public var myid: Int64
    public var role: QuorumRole
    /// The leader this server follows or observes (or itself when leading); nil while looking.
    public var leaderId: Int64?
    /// Zab `acceptedEpoch`.
    public var acceptedEpoch: Int64
    /// Zab `currentEpoch`.
    public var currentEpoch: Int64
    /// Leader: the epoch it is establishing or leads (nil before a quorum of learners reported).
    /// Learner: the epoch of the leader it syncs with (nil before LEADERINFO).
    public var epoch: Int64?
    /// Leader: epoch agreed by a quorum and history synced to a quorum, so it may propose.
    /// Learner: received UPTODATE, so it may serve.
    public var isSynced: Bool
    /// Leader: followers that completed sync and are in contact.
    public var syncedFollowers: [Int64]
    /// Leader: observers that completed sync and are in contact.
    public var syncedObservers: [Int64]
    /// Leader: proposals logged but not yet committed.
    public var pendingProposals: Int
    /// Last zxid in the log (possibly not yet durable).
    public var lastZxid: Int64
    /// Last zxid the shell has reported durable.
    public var durableZxid: Int64
    /// Last zxid delivered in `Ready.commit` (or present in the boot snapshot).
    public var committedZxid: Int64
    /// Participants needed for a quorum.
    public var quorumSize: Int
    /// Election round.
    public var electionEpoch: Int64
}

import DequeModule
import ZKProtocol

/// The per-connection half of the request path, as a value: the connection's state and its
/// request FIFO. Replies must leave in request order (Java and kazoo treat an out-of-order xid as
/// a lost connection), so a read that arrives behind a pending write waits here until the write
/// is answered.
///
/// It decides, the core does: every method returns what to do next, and the core carries it out
/// against the tree and the channel (the postgres-nio connection shape). It allocates nothing
/// per request: draining is `nextStep()` in a loop, not an array of actions.
struct ConnectionStateMachine: Sendable {
    enum State: Sendable, Equatable {
        /// The connection is open; the first packet must be a ConnectRequest.
        case awaitingConnect
        /// A new session was proposed; requests queue until it is committed.
        case connecting
        /// The session is established; requests are answered.
        case connected
        /// Going away: nothing more is answered.
        case closing
    }

    /// One request waiting in the FIFO.
    enum Pending: Sendable, Equatable {
        /// Runs when it reaches the head (a read, ping, setWatches...).
        case local(xid: Int32, request: ZKRequest, received: UInt64)
        /// A write waiting for its transaction to come back committed.
        case write(xid: Int32, received: UInt64)
        /// A `sync` waiting for the orderer; `done` once it completed.
        case sync(xid: Int32, path: String, id: Int64, done: Bool, received: UInt64)
        /// A reply already decided (auth, an error), sent when it reaches the head.
        case ready(xid: Int32, err: ErrorCode, response: ZKResponse, closeAfter: Bool, zxid: Int64?, received: UInt64)
    }

    /// What the core must do for a request, or for the head of the queue.
    enum Step: Sendable, Equatable {
        /// Run `request` against the applied tree now and send its reply.
        case execute(xid: Int32, request: ZKRequest, received: UInt64)
        /// Send this reply (`zxid` nil: the server's last zxid); then close if `closeAfter`.
        case reply(xid: Int32, err: ErrorCode, response: ZKResponse, zxid: Int64?, closeAfter: Bool, received: UInt64)
        /// Nothing to send now: the request waits in the queue.
        case queued
    }

    private(set) var state: State = .awaitingConnect
    private var queue = Deque<Pending>()
    /// Writes sent to the orderer and not yet answered (four-letter `Outstanding`).
    private(set) var pendingWrites = 0

    /// Requests waiting for their reply (cons `queued=`).
    var queuedCount: Int { queue.count }

    /// A new session was proposed for this connection.
    mutating func sessionProposed() {
        precondition(state == .awaitingConnect, "session proposed in state \(state)")
        state = .connecting
    }

    /// The session is established (created, resumed or read-only): queued requests may run.
    /// Follow with `nextStep()` until it returns nil.
    mutating func sessionEstablished() {
        precondition(state == .awaitingConnect || state == .connecting, "session established in state \(state)")
        state = .connected
    }

    /// No more replies: the connection is closing.
    mutating func close() {
        state = .closing
        queue.removeAll()
        pendingWrites = 0
    }

    /// A read (or other request answered from local state) arrived.
    mutating func readReceived(xid: Int32, request: ZKRequest, received: UInt64) -> Step {
        if queue.isEmpty && state == .connected { return .execute(xid: xid, request: request, received: received) }
        queue.append(.local(xid: xid, request: request, received: received))
        return .queued
    }

    /// A write arrived; the core hands it to the orderer and calls `writeCommitted` when it
    /// comes back.
    mutating func writeReceived(xid: Int32, received: UInt64) {
        queue.append(.write(xid: xid, received: received))
        pendingWrites += 1
    }

    /// A `sync` arrived; `syncCompleted(id:)` follows.
    mutating func syncReceived(xid: Int32, path: String, id: Int64, received: UInt64) {
        queue.append(.sync(xid: xid, path: path, id: id, done: false, received: received))
    }

    /// A request whose answer is already known (auth, a refusal): sent in its turn.
    mutating func answerReceived(xid: Int32, err: ErrorCode, response: ZKResponse = .empty, closeAfter: Bool = false,
                                 zxid: Int64? = nil, received: UInt64) -> Step {
        if queue.isEmpty && state == .connected {
            return .reply(xid: xid, err: err, response: response, zxid: zxid, closeAfter: closeAfter, received: received)
        }
        queue.append(.ready(xid: xid, err: err, response: response, closeAfter: closeAfter, zxid: zxid, received: received))
        return .queued
    }

    /// Whether a committed transaction with this cxid answers the head of the queue: the only
    /// place a commit is matched to its request (Apache matches by session and cxid the same way).
    func awaitsWrite(xid: Int32) -> Bool {
        if case .write(let x, _)? = queue.first { return x == xid }
        return false
    }

    /// The write at the head was committed: removes it and returns when it was received (for
    /// latency). Nil when the head is not that write. Follow with `nextStep()`.
    mutating func writeCommitted(xid: Int32) -> UInt64? {
        guard case .write(let x, let received)? = queue.first, x == xid else { return nil }
        queue.removeFirst()
        pendingWrites -= 1
        return received
    }

    /// The sync `id` completed. Returns false if no such sync waits. Follow with `nextStep()`.
    mutating func syncCompleted(id: Int64) -> Bool {
        guard let i = queue.firstIndex(where: {
            if case .sync(_, _, let s, false, _) = $0 { return s == id } else { return false }
        }), case .sync(let xid, let path, _, _, let rcv) = queue[i] else { return false }
        queue[i] = .sync(xid: xid, path: path, id: id, done: true, received: rcv)
        return true
    }

    /// The next request at the head that can be answered now, removed from the queue; nil when
    /// the head waits for the orderer (or the queue is empty, or not connected).
    mutating func nextStep() -> Step? {
        guard state == .connected, let head = queue.first else { return nil }
        switch head {
        case .write, .sync(_, _, _, false, _):
            return nil
        case .sync(let xid, let path, _, true, let rcv):
            queue.removeFirst()
            return .reply(xid: xid, err: .ok, response: .path(path), zxid: nil, closeAfter: false, received: rcv)
        case .local(let xid, let request, let rcv):
            queue.removeFirst()
            return .execute(xid: xid, request: request, received: rcv)
        case .ready(let xid, let err, let resp, let closeAfter, let zxid, let rcv):
            queue.removeFirst()
            return .reply(xid: xid, err: err, response: resp, zxid: zxid, closeAfter: closeAfter, received: rcv)
        }
    }
}

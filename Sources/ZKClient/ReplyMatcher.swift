import NIOCore
import ZKProtocol

/// Pairs replies with the requests that caused them. Pure: no channel, no promises (the token is
/// whatever the caller wants back, e.g. a promise).
///
/// A ZooKeeper server answers one session's requests in the order it received them, so replies are
/// matched FIFO and the xid is only a check. Negative xids are outside the numbering: -1 carries a
/// watch notification, -2 a ping reply, -4 an auth reply.
struct ReplyMatcher<Token> {
    /// What a reply with a given xid is.
    enum Match {
        /// The reply to the oldest outstanding request.
        case reply(opcode: OpCode, token: Token)
        case notification
        case ping
        case auth
        /// A reply that is neither special nor for the oldest request: the session is out of step.
        case unexpected(xid: Int32, expected: Int32?)
    }

    private(set) var nextXid: Int32 = 1
    private var pending = CircularBuffer<(xid: Int32, opcode: OpCode, token: Token)>(initialCapacity: 16)

    /// Requests sent and not answered yet.
    var outstanding: Int { pending.count }

    /// Records a request about to be written and returns the xid to put in its header.
    mutating func enqueue(_ opcode: OpCode, _ token: Token) -> Int32 {
        let xid = nextXid
        // Positive xids only: the negative ones are reserved for the special replies.
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        pending.append((xid, opcode, token))
        return xid
    }

    /// Classifies a reply by its xid, removing the request it answers.
    mutating func match(xid: Int32) -> Match {
        switch xid {
        case SpecialXid.notification: return .notification
        case SpecialXid.ping: return .ping
        case SpecialXid.auth: return .auth
        default:
            guard let head = pending.first, head.xid == xid else {
                return .unexpected(xid: xid, expected: pending.first?.xid)
            }
            pending.removeFirst()
            return .reply(opcode: head.opcode, token: head.token)
        }
    }

    /// Removes and returns every outstanding request, oldest first (the connection is gone).
    mutating func drain() -> [Token] {
        defer { pending.removeAll() }
        return pending.map(\.token)
    }
}

/// Messages exchanged between servers: fast-leader-election notifications and the Zab
/// discovery / synchronization / broadcast protocol.
///
/// Every leader↔learner message after LEADERINFO carries the `session` the leader assigned to
/// that connection (`epoch << 32 | n`), so messages from an older connection or leader are
/// recognised and ignored even if a transport reorders or duplicates them.
public enum QuorumMessage: Sendable, Equatable {
    /// Election notification (sent between election ports in ZooKeeper).
    case vote(Notification)
    /// Learner → leader: first message on connect (FOLLOWERINFO / OBSERVERINFO).
    case followerInfo(acceptedEpoch: Int64, lastZxid: Int64)
    /// Leader → learner: the new epoch and the session id of this connection.
    case leaderInfo(session: Int64, epoch: Int64)
    /// Learner → leader: accepts the epoch. `currentEpoch` is -1 when the learner had already
    /// accepted this epoch (the ack then does not count toward the quorum). `history` is the last
    /// zxid of each epoch in the learner's log, ascending (its last element is the learner's last
    /// zxid); the leader uses it to find the common prefix for DIFF/TRUNC.
    case ackEpoch(session: Int64, currentEpoch: Int64, history: [Int64])
    /// Leader → learner: append `entries` (the learner is a prefix of the leader).
    case diff(session: Int64, entries: [LogEntry], committedZxid: Int64)
    /// Leader → learner: drop log entries after `afterZxid`, then append `entries`.
    case trunc(session: Int64, afterZxid: Int64, entries: [LogEntry], committedZxid: Int64)
    /// Leader → learner: replace state with `snapshot` (state at `snapshotZxid`), then append `entries`.
    case snap(session: Int64, snapshotZxid: Int64, snapshot: [UInt8], entries: [LogEntry], committedZxid: Int64)
    /// Leader → learner: end of sync data; `zxid` is `newEpoch << 32`.
    case newLeader(session: Int64, zxid: Int64)
    /// Learner → leader: the synced history is durable.
    case ackNewLeader(session: Int64, zxid: Int64)
    /// Leader → learner: the leader is established; start serving.
    case upToDate(session: Int64, committedZxid: Int64)
    /// Leader → follower: a new transaction.
    case proposal(session: Int64, entry: LogEntry)
    /// Follower → leader: every entry up to `zxid` is durable here (cumulative).
    case ack(session: Int64, zxid: Int64)
    /// Leader → follower: every entry up to `zxid` is committed (cumulative).
    case commit(session: Int64, zxid: Int64)
    /// Leader → observer: a committed transaction.
    case inform(session: Int64, entry: LogEntry)
    /// Heartbeat. Leader → learner: `zxid` is the committed zxid. Learner → leader: durable zxid.
    case ping(session: Int64, zxid: Int64)
    /// Learner → leader: an opaque application request (forwarded client write, session touch).
    case request(session: Int64, id: Int64, payload: [UInt8])
    /// Leader → learner: an opaque application response.
    case response(session: Int64, id: Int64, payload: [UInt8])
    /// Learner → leader: reply once everything proposed so far is committed (client `sync`).
    case syncRequest(session: Int64, id: Int64)
    /// Leader → learner: sync `id` is satisfied by commits up to `zxid`.
    case syncResponse(session: Int64, id: Int64, zxid: Int64)
}

/// Error thrown when bytes do not decode to a ``QuorumMessage``.
public struct QuorumCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        case truncated, unknownType, invalidLength, invalidValue, trailingBytes, frameTooLarge
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "QuorumCodecError(\(kind)): \(message)" }
}

/// Binary codec for ``QuorumMessage``: one type byte, then big-endian fields. Byte strings and
/// lists carry a 4-byte signed length. Decoding validates every length against the remaining
/// bytes, so malformed input throws instead of trapping or allocating absurd amounts.
///
/// Over TCP the shell sends each message as a frame: a 4-byte big-endian length, then the body
/// (``frame(_:)``; swift-nio-extras' `LengthFieldBasedFrameDecoder` reads it back).
public enum QuorumCodec {
    /// Largest frame body ``decodeFrame(_:)`` accepts (snapshots travel in SNAP messages).
    public static let maxFrameSize = 512 * 1024 * 1024

    /// Encodes a message body.
    public static func encode(_ message: QuorumMessage) -> [UInt8] {
        var w = _Writer()
        switch message {
        case .vote(let n):
            w.u8(1); w.i64(n.vote.leader); w.i64(n.vote.zxid); w.i64(n.vote.peerEpoch)
            w.i64(n.electionEpoch); w.u8(roleCode(n.state))
        case .followerInfo(let a, let z): w.u8(2); w.i64(a); w.i64(z)
        case .leaderInfo(let s, let e): w.u8(3); w.i64(s); w.i64(e)
        case .ackEpoch(let s, let c, let h):
            w.u8(4); w.i64(s); w.i64(c); w.i32(Int32(h.count)); for z in h { w.i64(z) }
        case .diff(let s, let es, let c): w.u8(5); w.i64(s); w.entries(es); w.i64(c)
        case .trunc(let s, let a, let es, let c): w.u8(6); w.i64(s); w.i64(a); w.entries(es); w.i64(c)
        case .snap(let s, let z, let d, let es, let c):
            w.u8(7); w.i64(s); w.i64(z); w.bytes(d); w.entries(es); w.i64(c)
        case .newLeader(let s, let z): w.u8(8); w.i64(s); w.i64(z)
        case .ackNewLeader(let s, let z): w.u8(9); w.i64(s); w.i64(z)
        case .upToDate(let s, let c): w.u8(10); w.i64(s); w.i64(c)
        case .proposal(let s, let e): w.u8(11); w.i64(s); w.entry(e)
        case .ack(let s, let z): w.u8(12); w.i64(s); w.i64(z)
        case .commit(let s, let z): w.u8(13); w.i64(s); w.i64(z)
        case .inform(let s, let e): w.u8(14); w.i64(s); w.entry(e)
        case .ping(let s, let z): w.u8(15); w.i64(s); w.i64(z)
        case .request(let s, let id, let p): w.u8(16); w.i64(s); w.i64(id); w.bytes(p)
        case .response(let s, let id, let p): w.u8(17); w.i64(s); w.i64(id); w.bytes(p)
        case .syncRequest(let s, let id): w.u8(18); w.i64(s); w.i64(id)
        case .syncResponse(let s, let id, let z): w.u8(19); w.i64(s); w.i64(id); w.i64(z)
        }
        return w.out
    }

    /// Decodes a message body. Throws ``QuorumCodecError`` on any malformed input.
    public static func decode(_ bytes: [UInt8]) throws(QuorumCodecError) -> QuorumMessage {
        var r = _Reader(buf: bytes)
        let type = try r.u8()
        let m: QuorumMessage
        switch type {
        case 1:
            let v = Vote(leader: try r.i64(), zxid: try r.i64(), peerEpoch: try r.i64())
            let ee = try r.i64()
            let code = try r.u8()
            guard let role = role(code) else { throw QuorumCodecError(.invalidValue, "unknown role \(code)") }
            m = .vote(Notification(vote: v, electionEpoch: ee, state: role))
        case 2: m = .followerInfo(acceptedEpoch: try r.i64(), lastZxid: try r.i64())
        case 3: m = .leaderInfo(session: try r.i64(), epoch: try r.i64())
        case 4:
            let s = try r.i64(), c = try r.i64()
            let n = try r.count(elementSize: 8)
            var h: [Int64] = []
            h.reserveCapacity(n)
            for _ in 0..<n { h.append(try r.i64()) }
            m = .ackEpoch(session: s, currentEpoch: c, history: h)
        case 5: m = .diff(session: try r.i64(), entries: try r.entries(), committedZxid: try r.i64())
        case 6: m = .trunc(session: try r.i64(), afterZxid: try r.i64(), entries: try r.entries(), committedZxid: try r.i64())
        case 7:
            m = .snap(session: try r.i64(), snapshotZxid: try r.i64(), snapshot: try r.bytes(),
                      entries: try r.entries(), committedZxid: try r.i64())
        case 8: m = .newLeader(session: try r.i64(), zxid: try r.i64())
        case 9: m = .ackNewLeader(session: try r.i64(), zxid: try r.i64())
        case 10: m = .upToDate(session: try r.i64(), committedZxid: try r.i64())
        case 11: m = .proposal(session: try r.i64(), entry: try r.entry())
        case 12: m = .ack(session: try r.i64(), zxid: try r.i64())
        case 13: m = .commit(session: try r.i64(), zxid: try r.i64())
        case 14: m = .inform(session: try r.i64(), entry: try r.entry())
        case 15: m = .ping(session: try r.i64(), zxid: try r.i64())
        case 16: m = .request(session: try r.i64(), id: try r.i64(), payload: try r.bytes())
        case 17: m = .response(session: try r.i64(), id: try r.i64(), payload: try r.bytes())
        case 18: m = .syncRequest(session: try r.i64(), id: try r.i64())
        case 19: m = .syncResponse(session: try r.i64(), id: try r.i64(), zxid: try r.i64())
        default: throw QuorumCodecError(.unknownType, "unknown message type \(type)")
        }
        guard r.pos == bytes.count else {
            throw QuorumCodecError(.trailingBytes, "\(bytes.count - r.pos) trailing bytes after type \(type)")
        }
        return m
    }

    /// Encodes a message as a frame: 4-byte big-endian body length, then the body.
    public static func frame(_ message: QuorumMessage) -> [UInt8] {
        let body = encode(message)
        var w = _Writer()
        w.i32(Int32(truncatingIfNeeded: body.count))
        w.out.append(contentsOf: body)
        return w.out
    }

    /// Decodes one complete frame (length prefix included); throws if the length disagrees.
    public static func decodeFrame(_ frame: [UInt8]) throws(QuorumCodecError) -> QuorumMessage {
        var r = _Reader(buf: frame)
        let n = try r.i32()
        guard n >= 0, Int(n) <= maxFrameSize else { throw QuorumCodecError(.frameTooLarge, "frame length \(n)") }
        guard Int(n) == frame.count - 4 else {
            throw QuorumCodecError(.invalidLength, "frame says \(n) bytes, has \(frame.count - 4)")
        }
        return try decode(Array(frame[4...]))
    }

    static func roleCode(_ r: QuorumRole) -> UInt8 {
        switch r {
        case .looking: 0
        case .following: 1
        case .leading: 2
        case .observing: 3
        }
    }

    static func role(_ c: UInt8) -> QuorumRole? {
        switch c {
        case 0: .looking
        case 1: .following
        case 2: .leading
        case 3: .observing
        default: nil
        }
    }
}

struct _Writer {
    var out: [UInt8] = []
    mutating func u8(_ v: UInt8) { out.append(v) }
    mutating func i32(_ v: Int32) {
        let u = UInt32(bitPattern: v)
        out.append(UInt8(truncatingIfNeeded: u >> 24)); out.append(UInt8(truncatingIfNeeded: u >> 16))
        out.append(UInt8(truncatingIfNeeded: u >> 8)); out.append(UInt8(truncatingIfNeeded: u))
    }
    mutating func i64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        var shift: UInt64 = 56
        while true {
            out.append(UInt8(truncatingIfNeeded: u >> shift))
            if shift == 0 { break }
            shift -= 8
        }
    }
    mutating func bytes(_ b: [UInt8]) { i32(Int32(b.count)); out.append(contentsOf: b) }
    mutating func entry(_ e: LogEntry) { i64(e.zxid); bytes(e.payload) }
    mutating func entries(_ es: [LogEntry]) { i32(Int32(es.count)); for e in es { entry(e) } }
}

struct _Reader {
    let buf: [UInt8]
    var pos = 0
    var remaining: Int { buf.count - pos }

    mutating func u8() throws(QuorumCodecError) -> UInt8 {
        guard remaining >= 1 else { throw QuorumCodecError(.truncated, "need 1 byte at \(pos)") }
        defer { pos += 1 }
        return buf[pos]
    }
    mutating func i32() throws(QuorumCodecError) -> Int32 {
        guard remaining >= 4 else { throw QuorumCodecError(.truncated, "need 4 bytes at \(pos)") }
        var u: UInt32 = 0
        for i in 0..<4 { u = u << 8 | UInt32(buf[pos + i]) }
        pos += 4
        return Int32(bitPattern: u)
    }
    mutating func i64() throws(QuorumCodecError) -> Int64 {
        guard remaining >= 8 else { throw QuorumCodecError(.truncated, "need 8 bytes at \(pos)") }
        var u: UInt64 = 0
        for i in 0..<8 { u = u << 8 | UInt64(buf[pos + i]) }
        pos += 8
        return Int64(bitPattern: u)
    }
    /// Reads a list length and checks the list can fit in what is left.
    mutating func count(elementSize: Int) throws(QuorumCodecError) -> Int {
        let n = try i32()
        guard n >= 0 else { throw QuorumCodecError(.invalidLength, "negative length \(n)") }
        guard Int(n) * elementSize <= remaining else {
            throw QuorumCodecError(.invalidLength, "length \(n) exceeds remaining \(remaining) bytes")
        }
        return Int(n)
    }
    mutating func bytes() throws(QuorumCodecError) -> [UInt8] {
        let n = try count(elementSize: 1)
        defer { pos += n }
        return Array(buf[pos..<pos + n])
    }
    mutating func entry() throws(QuorumCodecError) -> LogEntry {
        LogEntry(zxid: try i64(), payload: try bytes())
    }
    mutating func entries() throws(QuorumCodecError) -> [LogEntry] {
        let n = try count(elementSize: 12)  // an entry is at least zxid + length
        var out: [LogEntry] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try entry()) }
        return out
    }
}

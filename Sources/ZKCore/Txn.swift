import NIOCore
import ZKProtocol

/// One entry of the replicated log. The state machine applies it deterministically: everything it
/// depends on (time, session, the caller's identities) travels inside it.
///
/// We log the request and decide its outcome at apply time, rather than logging Apache's
/// pre-computed result records: every replica reaches the same outcome from the same prefix, and
/// the leader needs no shadow copy of pending changes to validate pipelined writes.
public struct Txn: Hashable, Sendable {
    public var zxid: Int64
    /// Wall-clock ms chosen by the proposer; becomes ctime/mtime.
    public var time: Int64
    public var sessionId: Int64
    public var cxid: Int32
    public var body: Body

    public enum Body: Hashable, Sendable {
        /// A client write with the identities the session had when it was sent.
        case request(ZKRequest, auth: [Id])
        case createSession(timeout: Int32, password: [UInt8])
        case closeSession
        /// A `reconfig` the leader accepted: the new `/zookeeper/config` text (its `version=`
        /// line is this txn's zxid).
        case reconfigured(data: [UInt8])
        /// A request the leader refused at ordering time (a `reconfig` it rejected): the client
        /// gets `code` when the txn comes back, in its turn.
        case failed(ErrorCode)
    }

    /// Type code of a `.reconfigured` body. Not a client opcode: a client cannot send it.
    static let reconfiguredType: Int32 = -16

    public init(zxid: Int64, time: Int64, sessionId: Int64, cxid: Int32, body: Body) {
        self.zxid = zxid; self.time = time; self.sessionId = sessionId; self.cxid = cxid; self.body = body
    }

    public func write(to b: inout ByteBuffer) {
        b.writeJuteLong(zxid); b.writeJuteLong(time); b.writeJuteLong(sessionId); b.writeJuteInt(cxid)
        switch body {
        case .request(let r, let auth):
            b.writeJuteInt(r.opcode.rawValue)
            r.write(to: &b)
            b.writeJuteInt(Int32(auth.count))
            for a in auth { b.writeJuteString(a.scheme); b.writeJuteString(a.id) }
        case .createSession(let t, let p):
            b.writeJuteInt(OpCode.createSession.rawValue); b.writeJuteInt(t); b.writeJuteBuffer(p)
        case .closeSession:
            b.writeJuteInt(OpCode.closeSession.rawValue)
        case .reconfigured(let data):
            b.writeJuteInt(Self.reconfiguredType); b.writeJuteBuffer(data)
        case .failed(let code):
            b.writeJuteInt(OpCode.error.rawValue); b.writeJuteInt(code.rawValue)
        }
    }

    public var bytes: [UInt8] {
        var b = ByteBuffer()
        write(to: &b)
        return b.readBytes(length: b.readableBytes) ?? []
    }

    public static func read(_ r: inout JuteReader) throws(JuteError) -> Txn {
        let zxid = try r.readLong(), time = try r.readLong(), session = try r.readLong(), cxid = try r.readInt()
        let type = try r.readInt()
        let body: Body
        switch type {
        case OpCode.createSession.rawValue:
            body = .createSession(timeout: try r.readInt(), password: try r.readData())
        case OpCode.closeSession.rawValue:
            body = .closeSession
        case Self.reconfiguredType:
            body = .reconfigured(data: try r.readData())
        case OpCode.error.rawValue:
            let raw = try r.readInt()
            body = .failed(ErrorCode(rawValue: raw))
        default:
            let req = try ZKRequest.decode(type: type, &r)
            let auth = try r.readVector { (r: inout JuteReader) throws(JuteError) -> Id in
                Id(scheme: try r.readPath(), id: try r.readPath())
            } ?? []
            body = .request(req, auth: auth)
        }
        return Txn(zxid: zxid, time: time, sessionId: session, cxid: cxid, body: body)
    }

    /// The request type of serialized txn bytes, read without decoding the rest (the leader
    /// looks at every forwarded write, and only reconfigs need more than ordering).
    public static func requestType(of bytes: [UInt8]) -> Int32? {
        guard bytes.count >= 32 else { return nil }
        return bytes[28..<32].reduce(Int32(0)) { ($0 << 8) | Int32($1) }
    }

    public init(bytes: [UInt8]) throws(JuteError) {
        var r = JuteReader(ByteBuffer(bytes: bytes), maxLength: Int(Int32.max))
        self = try Txn.read(&r)
    }
}

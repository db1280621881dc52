import NIOCore

/// A ZooKeeper transaction id: `epoch << 32 | counter`.
public struct Zxid: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Int64
    public init(_ raw: Int64) { self.raw = raw }
    public init(epoch: Int64, counter: Int64) { self.raw = (epoch << 32) | (counter & 0xffff_ffff) }
    public var epoch: Int64 { raw >> 32 }
    public var counter: Int64 { raw & 0xffff_ffff }
    public static func < (a: Zxid, b: Zxid) -> Bool { a.raw < b.raw }
    /// `0x` and the unsigned hex digits, as Apache prints zxids and session ids.
    public var description: String { "0x" + Self.hex(raw) }
    /// The unsigned hex digits of a zxid or session id (no prefix): the one formatter the
    /// server, its logs, its four-letter words and its tools use.
    public static func hex(_ raw: Int64) -> String { String(UInt64(bitPattern: raw), radix: 16) }
}

/// The metadata ZooKeeper keeps for every znode (jute `Stat`).
public struct Stat: Hashable, Sendable {
    public var czxid: Int64 = 0
    public var mzxid: Int64 = 0
    public var ctime: Int64 = 0
    public var mtime: Int64 = 0
    public var version: Int32 = 0
    public var cversion: Int32 = 0
    public var aversion: Int32 = 0
    public var ephemeralOwner: Int64 = 0
    public var dataLength: Int32 = 0
    public var numChildren: Int32 = 0
    public var pzxid: Int64 = 0
    public init() {}
    public init(czxid: Int64, mzxid: Int64, ctime: Int64, mtime: Int64, version: Int32, cversion: Int32,
                aversion: Int32, ephemeralOwner: Int64, dataLength: Int32, numChildren: Int32, pzxid: Int64) {
        self.czxid = czxid; self.mzxid = mzxid; self.ctime = ctime; self.mtime = mtime
        self.version = version; self.cversion = cversion; self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner; self.dataLength = dataLength
        self.numChildren = numChildren; self.pzxid = pzxid
    }

    public func write(to b: inout ByteBuffer) {
        b.writeJuteLong(czxid); b.writeJuteLong(mzxid); b.writeJuteLong(ctime); b.writeJuteLong(mtime)
        b.writeJuteInt(version); b.writeJuteInt(cversion); b.writeJuteInt(aversion)
        b.writeJuteLong(ephemeralOwner); b.writeJuteInt(dataLength); b.writeJuteInt(numChildren)
        b.writeJuteLong(pzxid)
    }

    public static func read(_ r: inout JuteReader) throws(JuteError) -> Stat {
        Stat(czxid: try r.readLong(), mzxid: try r.readLong(), ctime: try r.readLong(), mtime: try r.readLong(),
             version: try r.readInt(), cversion: try r.readInt(), aversion: try r.readInt(),
             ephemeralOwner: try r.readLong(), dataLength: try r.readInt(), numChildren: try r.readInt(),
             pzxid: try r.readLong())
    }
}

/// An authenticated identity or ACL subject: `scheme:id` (jute `Id`).
public struct Id: Hashable, Sendable, CustomStringConvertible {
    public var scheme: String
    public var id: String
    public init(scheme: String, id: String) { self.scheme = scheme; self.id = id }
    public static let anyone = Id(scheme: "world", id: "anyone")
    public var description: String { "\(scheme):\(id)" }
}

/// ACL permission bits (ZooDefs.Perms).
public struct Perms: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let read = Perms(rawValue: 1)
    public static let write = Perms(rawValue: 2)
    public static let create = Perms(rawValue: 4)
    public static let delete = Perms(rawValue: 8)
    public static let admin = Perms(rawValue: 16)
    public static let all: Perms = [.read, .write, .create, .delete, .admin]
}

/// One access-control entry (jute `ACL`).
public struct ACL: Hashable, Sendable {
    public var perms: Perms
    public var id: Id
    public init(perms: Perms, id: Id) { self.perms = perms; self.id = id }
    public static let openUnsafe: [ACL] = [ACL(perms: .all, id: .anyone)]
    public static let readUnsafe: [ACL] = [ACL(perms: .read, id: .anyone)]

    public func write(to b: inout ByteBuffer) {
        b.writeJuteInt(perms.rawValue)
        b.writeJuteString(id.scheme)
        b.writeJuteString(id.id)
    }
    public static func read(_ r: inout JuteReader) throws(JuteError) -> ACL {
        let perms = try r.readInt()
        let scheme = try r.readString() ?? ""
        let id = try r.readString() ?? ""
        return ACL(perms: Perms(rawValue: perms), id: Id(scheme: scheme, id: id))
    }
}

extension ByteBuffer {
    public mutating func writeACLs(_ acls: [ACL]?) {
        guard let acls else { writeJuteInt(-1); return }
        writeJuteInt(Int32(acls.count))
        for a in acls { a.write(to: &self) }
    }
}

/// Request opcodes (ZooDefs.OpCode).
public enum OpCode: Int32, Sendable {
    case notification = 0, create = 1, delete = 2, exists = 3, getData = 4, setData = 5, getACL = 6
    case setACL = 7, getChildren = 8, sync = 9, ping = 11, getChildren2 = 12, check = 13, multi = 14
    case create2 = 15, reconfig = 16, checkWatches = 17, removeWatches = 18, createContainer = 19
    case deleteContainer = 20, createTTL = 21, multiRead = 22, auth = 100, setWatches = 101, sasl = 102
    case getEphemerals = 103, getAllChildrenNumber = 104, setWatches2 = 105, addWatch = 106, whoAmI = 107
    case createSession = -10, closeSession = -11, error = -1
}

/// Error codes on the wire (KeeperException.Code).
public struct ErrorCode: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let ok = ErrorCode(rawValue: 0)
    public static let systemError = ErrorCode(rawValue: -1)
    public static let runtimeInconsistency = ErrorCode(rawValue: -2)
    public static let dataInconsistency = ErrorCode(rawValue: -3)
    public static let connectionLoss = ErrorCode(rawValue: -4)
    public static let marshallingError = ErrorCode(rawValue: -5)
    public static let unimplemented = ErrorCode(rawValue: -6)
    public static let operationTimeout = ErrorCode(rawValue: -7)
    public static let badArguments = ErrorCode(rawValue: -8)
    public static let unknownSession = ErrorCode(rawValue: -12)
    public static let newConfigNoQuorum = ErrorCode(rawValue: -13)
    public static let reconfigInProgress = ErrorCode(rawValue: -14)
    public static let apiError = ErrorCode(rawValue: -100)
    public static let noNode = ErrorCode(rawValue: -101)
    public static let noAuth = ErrorCode(rawValue: -102)
    public static let badVersion = ErrorCode(rawValue: -103)
    public static let noChildrenForEphemerals = ErrorCode(rawValue: -108)
    public static let nodeExists = ErrorCode(rawValue: -110)
    public static let notEmpty = ErrorCode(rawValue: -111)
    public static let sessionExpired = ErrorCode(rawValue: -112)
    public static let invalidCallback = ErrorCode(rawValue: -113)
    public static let invalidACL = ErrorCode(rawValue: -114)
    public static let authFailed = ErrorCode(rawValue: -115)
    public static let sessionMoved = ErrorCode(rawValue: -118)
    public static let notReadOnly = ErrorCode(rawValue: -119)
    public static let ephemeralOnLocalSession = ErrorCode(rawValue: -120)
    public static let noWatcher = ErrorCode(rawValue: -121)
    public static let requestTimeout = ErrorCode(rawValue: -122)
    public static let reconfigDisabled = ErrorCode(rawValue: -123)
    public static let quotaExceeded = ErrorCode(rawValue: -125)
    public static let throttledOp = ErrorCode(rawValue: -127)
    public var description: String { "ErrorCode(\(rawValue))" }
}

/// Create modes (CreateMode) as flags on the wire.
public enum CreateMode: Int32, Sendable {
    case persistent = 0, ephemeral = 1, persistentSequential = 2, ephemeralSequential = 3
    case container = 4, persistentWithTTL = 5, persistentSequentialWithTTL = 6

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool {
        self == .persistentSequential || self == .ephemeralSequential || self == .persistentSequentialWithTTL
    }
    public var isContainer: Bool { self == .container }
    public var isTTL: Bool { self == .persistentWithTTL || self == .persistentSequentialWithTTL }
}

/// Watcher event types (Watcher.Event.EventType).
public enum EventType: Int32, Sendable {
    case none = -1, nodeCreated = 1, nodeDeleted = 2, nodeDataChanged = 3, nodeChildrenChanged = 4
    case dataWatchRemoved = 5, childWatchRemoved = 6, persistentWatchRemoved = 7
}

/// Watcher keeper states (Watcher.Event.KeeperState).
public enum KeeperState: Int32, Sendable {
    case disconnected = 0, syncConnected = 3, authFailed = 4, connectedReadOnly = 5
    case saslAuthenticated = 6, expired = -112, closed = 7
}

/// Special xids the server and client use outside the request/response numbering.
public enum SpecialXid {
    public static let notification: Int32 = -1
    public static let ping: Int32 = -2
    public static let auth: Int32 = -4
    public static let setWatches: Int32 = -8
}

/// The reply header that precedes every response body.
public struct ReplyHeader: Hashable, Sendable {
    public var xid: Int32
    public var zxid: Int64
    public var err: Int32
    public init(xid: Int32, zxid: Int64, err: Int32) { self.xid = xid; self.zxid = zxid; self.err = err }
    public func write(to b: inout ByteBuffer) { b.writeJuteInt(xid); b.writeJuteLong(zxid); b.writeJuteInt(err) }
    public static func read(_ r: inout JuteReader) throws(JuteError) -> ReplyHeader {
        ReplyHeader(xid: try r.readInt(), zxid: try r.readLong(), err: try r.readInt())
    }
}

/// The header of every request after the connect handshake.
public struct RequestHeader: Hashable, Sendable {
    public var xid: Int32
    public var type: Int32
    public init(xid: Int32, type: Int32) { self.xid = xid; self.type = type }
    public func write(to b: inout ByteBuffer) { b.writeJuteInt(xid); b.writeJuteInt(type) }
    public static func read(_ r: inout JuteReader) throws(JuteError) -> RequestHeader {
        RequestHeader(xid: try r.readInt(), type: try r.readInt())
    }
}

/// The first record a client sends. `readOnly` is nil when an old client omitted the trailing byte.
public struct ConnectRequest: Hashable, Sendable {
    public var protocolVersion: Int32 = 0
    public var lastZxidSeen: Int64 = 0
    public var timeout: Int32 = 0
    public var sessionId: Int64 = 0
    public var password: [UInt8] = Array(repeating: 0, count: 16)
    public var readOnly: Bool? = false
    public init() {}
    public init(protocolVersion: Int32, lastZxidSeen: Int64, timeout: Int32, sessionId: Int64, password: [UInt8], readOnly: Bool?) {
        self.protocolVersion = protocolVersion; self.lastZxidSeen = lastZxidSeen; self.timeout = timeout
        self.sessionId = sessionId; self.password = password; self.readOnly = readOnly
    }
    public func write(to b: inout ByteBuffer) {
        b.writeJuteInt(protocolVersion); b.writeJuteLong(lastZxidSeen); b.writeJuteInt(timeout)
        b.writeJuteLong(sessionId); b.writeJuteBuffer(password)
        if let readOnly { b.writeJuteBool(readOnly) }
    }
    public static func read(_ r: inout JuteReader) throws(JuteError) -> ConnectRequest {
        var c = ConnectRequest()
        c.protocolVersion = try r.readInt()
        c.lastZxidSeen = try r.readLong()
        c.timeout = try r.readInt()
        c.sessionId = try r.readLong()
        c.password = try r.readData()
        c.readOnly = r.readableBytes >= 1 ? try r.readBool() : nil
        return c
    }
}

/// The server's answer to `ConnectRequest`.
public struct ConnectResponse: Hashable, Sendable {
    public var protocolVersion: Int32 = 0
    public var timeout: Int32
    public var sessionId: Int64
    public var password: [UInt8]
    public var readOnly: Bool?
    public init(protocolVersion: Int32 = 0, timeout: Int32, sessionId: Int64, password: [UInt8], readOnly: Bool?) {
        self.protocolVersion = protocolVersion; self.timeout = timeout; self.sessionId = sessionId
        self.password = password; self.readOnly = readOnly
    }
    /// The answer for an expired or unknown session: zero timeout, id and password.
    public static func expired(readOnly: Bool?) -> ConnectResponse {
        ConnectResponse(timeout: 0, sessionId: 0, password: Array(repeating: 0, count: 16), readOnly: readOnly.map { _ in false })
    }
    public func write(to b: inout ByteBuffer) {
        b.writeJuteInt(protocolVersion); b.writeJuteInt(timeout); b.writeJuteLong(sessionId)
        b.writeJuteBuffer(password)
        if let readOnly { b.writeJuteBool(readOnly) }
    }
    public static func read(_ r: inout JuteReader) throws(JuteError) -> ConnectResponse {
        let v = try r.readInt(), t = try r.readInt(), s = try r.readLong(), p = try r.readData()
        let ro = r.readableBytes >= 1 ? try r.readBool() : nil
        return ConnectResponse(protocolVersion: v, timeout: t, sessionId: s, password: p, readOnly: ro)
    }
}

/// A watch notification (jute `WatcherEvent`), sent with xid -1.
public struct WatcherEvent: Hashable, Sendable {
    public var type: EventType
    public var state: KeeperState
    public var path: String
    public init(type: EventType, state: KeeperState = .syncConnected, path: String) {
        self.type = type; self.state = state; self.path = path
    }
    public func write(to b: inout ByteBuffer) {
        b.writeJuteInt(type.rawValue); b.writeJuteInt(state.rawValue); b.writeJuteString(path)
    }
    public static func read(_ r: inout JuteReader) throws(JuteError) -> WatcherEvent {
        let t = try r.readInt(), s = try r.readInt(), p = try r.readPath()
        guard let type = EventType(rawValue: t), let state = KeeperState(rawValue: s) else {
            throw JuteError(.badValue, "unknown event type \(t) or state \(s)")
        }
        return WatcherEvent(type: type, state: state, path: p)
    }
}

import NIOCore

/// A create of any kind (create, create2, createContainer, createTTL).
public struct CreateRequest: Hashable, Sendable {
    public var path: String
    /// nil when the client sent a null buffer; Apache keeps null data distinct from empty.
    public var data: [UInt8]?
    public var acl: [ACL]
    public var flags: Int32
    /// Time to live in ms for TTL nodes; -1 when not a TTL create.
    public var ttl: Int64
    public init(path: String, data: [UInt8]?, acl: [ACL], flags: Int32, ttl: Int64 = -1) {
        self.path = path; self.data = data; self.acl = acl; self.flags = flags; self.ttl = ttl
    }
}

/// The reconfig request body (jute `ReconfigRequest`).
public struct ReconfigRequest: Hashable, Sendable {
    public var joiningServers: String?
    public var leavingServers: String?
    public var newMembers: String?
    public var curConfigId: Int64
    public init(joiningServers: String?, leavingServers: String?, newMembers: String?, curConfigId: Int64) {
        self.joiningServers = joiningServers; self.leavingServers = leavingServers
        self.newMembers = newMembers; self.curConfigId = curConfigId
    }
}

/// Watches a reconnecting client asks the server to restore (SetWatches and SetWatches2).
public struct SetWatchesRequest: Hashable, Sendable {
    public var relativeZxid: Int64
    public var dataWatches: [String]
    public var existWatches: [String]
    public var childWatches: [String]
    public var persistentWatches: [String]
    public var persistentRecursiveWatches: [String]
    public init(relativeZxid: Int64, dataWatches: [String] = [], existWatches: [String] = [], childWatches: [String] = [],
                persistentWatches: [String] = [], persistentRecursiveWatches: [String] = []) {
        self.relativeZxid = relativeZxid; self.dataWatches = dataWatches; self.existWatches = existWatches
        self.childWatches = childWatches; self.persistentWatches = persistentWatches
        self.persistentRecursiveWatches = persistentRecursiveWatches
    }
}

/// Every request a client can send after the connect handshake. The opcode is carried by the case
/// (and, where several opcodes share a body, by an associated `OpCode`).
public indirect enum ZKRequest: Hashable, Sendable {
    case create(CreateRequest, OpCode)
    case delete(path: String, version: Int32, OpCode)
    case exists(path: String, watch: Bool)
    case getData(path: String, watch: Bool)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case getACL(path: String)
    case setACL(path: String, acl: [ACL], version: Int32)
    case getChildren(path: String, watch: Bool, withStat: Bool)
    case getAllChildrenNumber(path: String)
    case getEphemerals(prefix: String)
    case sync(path: String)
    case check(path: String, version: Int32)
    case multi([ZKRequest])
    case multiRead([ZKRequest])
    case ping
    case auth(type: Int32, scheme: String, auth: [UInt8])
    case setWatches(SetWatchesRequest, v2: Bool)
    case addWatch(path: String, mode: Int32)
    case removeWatches(path: String, type: Int32, checkOnly: Bool)
    case whoAmI
    case closeSession
    case reconfig(ReconfigRequest)

    public var opcode: OpCode {
        switch self {
        case .create(_, let op): return op
        case .delete(_, _, let op): return op
        case .exists: return .exists
        case .getData: return .getData
        case .setData: return .setData
        case .getACL: return .getACL
        case .setACL: return .setACL
        case .getChildren(_, _, let withStat): return withStat ? .getChildren2 : .getChildren
        case .getAllChildrenNumber: return .getAllChildrenNumber
        case .getEphemerals: return .getEphemerals
        case .sync: return .sync
        case .check: return .check
        case .multi: return .multi
        case .multiRead: return .multiRead
        case .ping: return .ping
        case .auth: return .auth
        case .setWatches(_, let v2): return v2 ? .setWatches2 : .setWatches
        case .addWatch: return .addWatch
        case .removeWatches(_, _, let checkOnly): return checkOnly ? .checkWatches : .removeWatches
        case .whoAmI: return .whoAmI
        case .closeSession: return .closeSession
        case .reconfig: return .reconfig
        }
    }

    /// True for requests that change replicated state and so go through propose → log → commit.
    public var isWrite: Bool {
        switch opcode {
        case .create, .create2, .createContainer, .createTTL, .delete, .deleteContainer, .setData, .setACL,
             .check, .multi, .reconfig, .closeSession, .createSession:
            return true
        default:
            return false
        }
    }

    /// The path a request names, for logs and `cons` (`lop`); nil when it names none.
    public var path: String? {
        switch self {
        case .create(let c, _): return c.path
        case .delete(let p, _, _), .exists(let p, _), .getData(let p, _), .setData(let p, _, _), .getACL(let p),
             .setACL(let p, _, _), .getChildren(let p, _, _), .getAllChildrenNumber(let p), .getEphemerals(let p),
             .sync(let p), .check(let p, _), .addWatch(let p, _), .removeWatches(let p, _, _):
            return p
        default: return nil
        }
    }

    /// Decodes the body of a request whose header carried `type`.
    /// Throws `JuteError(.badValue)` for an opcode this protocol does not know.
    public static func decode(type: Int32, _ r: inout JuteReader) throws(JuteError) -> ZKRequest {
        guard let op = OpCode(rawValue: type) else { throw JuteError(.badValue, "unknown opcode \(type)") }
        switch op {
        case .create, .create2, .createContainer:
            return .create(CreateRequest(path: try r.readPath(), data: try r.readBuffer(),
                                         acl: try r.readVector(ACL.read) ?? [], flags: try r.readInt()), op)
        case .createTTL:
            return .create(CreateRequest(path: try r.readPath(), data: try r.readBuffer(),
                                         acl: try r.readVector(ACL.read) ?? [], flags: try r.readInt(),
                                         ttl: try r.readLong()), op)
        case .delete:
            return .delete(path: try r.readPath(), version: try r.readInt(), op)
        case .deleteContainer:
            return .delete(path: try r.readPath(), version: -1, op)
        case .exists:
            return .exists(path: try r.readPath(), watch: try r.readBool())
        case .getData:
            return .getData(path: try r.readPath(), watch: try r.readBool())
        case .setData:
            return .setData(path: try r.readPath(), data: try r.readBuffer(), version: try r.readInt())
        case .getACL:
            return .getACL(path: try r.readPath())
        case .setACL:
            return .setACL(path: try r.readPath(), acl: try r.readVector(ACL.read) ?? [], version: try r.readInt())
        case .getChildren, .getChildren2:
            return .getChildren(path: try r.readPath(), watch: try r.readBool(), withStat: op == .getChildren2)
        case .getAllChildrenNumber:
            return .getAllChildrenNumber(path: try r.readPath())
        case .getEphemerals:
            return .getEphemerals(prefix: try r.readPath())
        case .sync:
            return .sync(path: try r.readPath())
        case .check:
            return .check(path: try r.readPath(), version: try r.readInt())
        case .multi, .multiRead:
            var ops: [ZKRequest] = []
            while true {
                let t = try r.readInt(), done = try r.readBool(); _ = try r.readInt()
                if done { break }
                guard ops.count < 100_000 else { throw JuteError(.badLength, "too many ops in multi") }
                let allowed: Set<Int32> = op == .multi
                    ? [OpCode.create.rawValue, OpCode.create2.rawValue, OpCode.createContainer.rawValue,
                       OpCode.createTTL.rawValue, OpCode.delete.rawValue, OpCode.setData.rawValue, OpCode.check.rawValue]
                    : [OpCode.getChildren.rawValue, OpCode.getData.rawValue]
                guard allowed.contains(t) else { throw JuteError(.badValue, "invalid op type \(t) in \(op)") }
                ops.append(try decode(type: t, &r))
            }
            return op == .multi ? .multi(ops) : .multiRead(ops)
        case .ping:
            return .ping
        case .auth:
            return .auth(type: try r.readInt(), scheme: try r.readPath(), auth: try r.readData())
        case .setWatches:
            return .setWatches(SetWatchesRequest(relativeZxid: try r.readLong(), dataWatches: try r.readStringVector() ?? [],
                                                 existWatches: try r.readStringVector() ?? [],
                                                 childWatches: try r.readStringVector() ?? []), v2: false)
        case .setWatches2:
            return .setWatches(SetWatchesRequest(relativeZxid: try r.readLong(), dataWatches: try r.readStringVector() ?? [],
                                                 existWatches: try r.readStringVector() ?? [],
                                                 childWatches: try r.readStringVector() ?? [],
                                                 persistentWatches: try r.readStringVector() ?? [],
                                                 persistentRecursiveWatches: try r.readStringVector() ?? []), v2: true)
        case .addWatch:
            return .addWatch(path: try r.readPath(), mode: try r.readInt())
        case .removeWatches, .checkWatches:
            return .removeWatches(path: try r.readPath(), type: try r.readInt(), checkOnly: op == .checkWatches)
        case .whoAmI:
            return .whoAmI
        case .closeSession:
            return .closeSession
        case .reconfig:
            return .reconfig(ReconfigRequest(joiningServers: try r.readString(), leavingServers: try r.readString(),
                                             newMembers: try r.readString(), curConfigId: try r.readLong()))
        case .notification, .sasl, .createSession, .error:
            throw JuteError(.badValue, "opcode \(type) is not a client request")
        }
    }

    /// Writes the request body (no header).
    public func write(to b: inout ByteBuffer) {
        switch self {
        case .create(let c, let op):
            b.writeJuteString(c.path); b.writeJuteBuffer(c.data); b.writeACLs(c.acl); b.writeJuteInt(c.flags)
            if op == .createTTL { b.writeJuteLong(c.ttl) }
        case .delete(let p, let v, let op):
            b.writeJuteString(p)
            if op == .delete { b.writeJuteInt(v) }
        case .exists(let p, let w), .getData(let p, let w), .getChildren(let p, let w, _):
            b.writeJuteString(p); b.writeJuteBool(w)
        case .setData(let p, let d, let v):
            b.writeJuteString(p); b.writeJuteBuffer(d); b.writeJuteInt(v)
        case .getACL(let p), .getAllChildrenNumber(let p), .getEphemerals(let p), .sync(let p):
            b.writeJuteString(p)
        case .setACL(let p, let acl, let v):
            b.writeJuteString(p); b.writeACLs(acl); b.writeJuteInt(v)
        case .check(let p, let v):
            b.writeJuteString(p); b.writeJuteInt(v)
        case .multi(let ops), .multiRead(let ops):
            for o in ops {
                b.writeJuteInt(o.opcode.rawValue); b.writeJuteBool(false); b.writeJuteInt(-1)
                o.write(to: &b)
            }
            b.writeJuteInt(-1); b.writeJuteBool(true); b.writeJuteInt(-1)
        case .ping, .whoAmI, .closeSession:
            break
        case .auth(let t, let s, let a):
            b.writeJuteInt(t); b.writeJuteString(s); b.writeJuteBuffer(a)
        case .setWatches(let w, let v2):
            b.writeJuteLong(w.relativeZxid); b.writeJuteStrings(w.dataWatches); b.writeJuteStrings(w.existWatches)
            b.writeJuteStrings(w.childWatches)
            if v2 { b.writeJuteStrings(w.persistentWatches); b.writeJuteStrings(w.persistentRecursiveWatches) }
        case .addWatch(let p, let m):
            b.writeJuteString(p); b.writeJuteInt(m)
        case .removeWatches(let p, let t, _):
            b.writeJuteString(p); b.writeJuteInt(t)
        case .reconfig(let r):
            b.writeJuteString(r.joiningServers); b.writeJuteString(r.leavingServers)
            b.writeJuteString(r.newMembers); b.writeJuteLong(r.curConfigId)
        }
    }
}

/// One result inside a multi or multiRead response.
public enum MultiResult: Hashable, Sendable {
    case create(path: String)
    case create2(path: String, stat: Stat)
    case delete
    case setData(Stat)
    case check
    case getData(data: [UInt8]?, stat: Stat)
    case getChildren([String])
    case error(ErrorCode)
}

/// A response body. Which case a request gets is decided by its opcode.
public enum ZKResponse: Hashable, Sendable {
    case empty
    case path(String)
    case pathStat(String, Stat)
    case stat(Stat)
    case data([UInt8]?, Stat)
    case acl([ACL], Stat)
    case children([String])
    case children2([String], Stat)
    case number(Int32)
    case strings([String])
    case multi([MultiResult])
    case whoAmI([Id])

    public func write(to b: inout ByteBuffer) {
        switch self {
        case .empty: break
        case .path(let p): b.writeJuteString(p)
        case .pathStat(let p, let s): b.writeJuteString(p); s.write(to: &b)
        case .stat(let s): s.write(to: &b)
        case .data(let d, let s): b.writeJuteBuffer(d); s.write(to: &b)
        case .acl(let a, let s): b.writeACLs(a); s.write(to: &b)
        case .children(let c), .strings(let c): b.writeJuteStrings(c)
        case .children2(let c, let s): b.writeJuteStrings(c); s.write(to: &b)
        case .number(let n): b.writeJuteInt(n)
        case .whoAmI(let ids):
            b.writeJuteInt(Int32(ids.count))
            for i in ids { b.writeJuteString(i.scheme); b.writeJuteString(i.id) }
        case .multi(let results):
            for r in results {
                switch r {
                case .create(let p):
                    b.writeJuteInt(OpCode.create.rawValue); b.writeJuteBool(false); b.writeJuteInt(0); b.writeJuteString(p)
                case .create2(let p, let s):
                    b.writeJuteInt(OpCode.create2.rawValue); b.writeJuteBool(false); b.writeJuteInt(0)
                    b.writeJuteString(p); s.write(to: &b)
                case .delete:
                    b.writeJuteInt(OpCode.delete.rawValue); b.writeJuteBool(false); b.writeJuteInt(0)
                case .setData(let s):
                    b.writeJuteInt(OpCode.setData.rawValue); b.writeJuteBool(false); b.writeJuteInt(0); s.write(to: &b)
                case .check:
                    b.writeJuteInt(OpCode.check.rawValue); b.writeJuteBool(false); b.writeJuteInt(0)
                case .getData(let d, let s):
                    b.writeJuteInt(OpCode.getData.rawValue); b.writeJuteBool(false); b.writeJuteInt(0)
                    b.writeJuteBuffer(d); s.write(to: &b)
                case .getChildren(let c):
                    b.writeJuteInt(OpCode.getChildren.rawValue); b.writeJuteBool(false); b.writeJuteInt(0)
                    b.writeJuteStrings(c)
                case .error(let e):
                    b.writeJuteInt(-1); b.writeJuteBool(false); b.writeJuteInt(e.rawValue); b.writeJuteInt(e.rawValue)
                }
            }
            b.writeJuteInt(-1); b.writeJuteBool(true); b.writeJuteInt(-1)
        }
    }

    /// Decodes the body of a successful response to a request with `opcode` (client side).
    public static func decode(for opcode: OpCode, _ r: inout JuteReader) throws(JuteError) -> ZKResponse {
        switch opcode {
        case .create, .sync: return .path(try r.readPath())
        case .create2, .createContainer, .createTTL: return .pathStat(try r.readPath(), try Stat.read(&r))
        case .exists, .setData, .setACL: return .stat(try Stat.read(&r))
        case .getData, .reconfig: return .data(try r.readBuffer(), try Stat.read(&r))
        case .getACL: return .acl(try r.readVector(ACL.read) ?? [], try Stat.read(&r))
        case .getChildren: return .children(try r.readStringVector() ?? [])
        case .getChildren2: return .children2(try r.readStringVector() ?? [], try Stat.read(&r))
        case .getAllChildrenNumber: return .number(try r.readInt())
        case .getEphemerals: return .strings(try r.readStringVector() ?? [])
        case .whoAmI:
            return .whoAmI(try r.readVector { (r: inout JuteReader) throws(JuteError) -> Id in
                Id(scheme: try r.readPath(), id: try r.readPath()) } ?? [])
        case .multi, .multiRead:
            var out: [MultiResult] = []
            while true {
                let t = try r.readInt(), done = try r.readBool(), err = try r.readInt()
                if done { break }
                switch OpCode(rawValue: t) {
                case .create: out.append(.create(path: try r.readPath()))
                case .create2: out.append(.create2(path: try r.readPath(), stat: try Stat.read(&r)))
                case .delete: out.append(.delete)
                case .setData: out.append(.setData(try Stat.read(&r)))
                case .check: out.append(.check)
                case .getData: out.append(.getData(data: try r.readBuffer(), stat: try Stat.read(&r)))
                case .getChildren: out.append(.getChildren(try r.readStringVector() ?? []))
                case .error: _ = try r.readInt(); out.append(.error(ErrorCode(rawValue: err)))
                default: throw JuteError(.badValue, "unknown multi result type \(t)")
                }
            }
            return .multi(out)
        default: return .empty
        }
    }
}

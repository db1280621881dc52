import NIOCore
import ZKCore
import ZKProtocol

/// Human-readable forms of log records and snapshots, for `zkserver dump-log` / `dump-snapshot`.
public enum TxnDescription {

    static func data(_ d: [UInt8]?) -> String {
        guard let d else { return "null" }
        if let s = String(validating: d, as: UTF8.self), s.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) {
            return "\"" + (s.count > 64 ? String(s.prefix(64)) + "…" : s) + "\""
        }
        return "#" + d.prefix(32).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + (d.count > 32 ? "…" : "")
    }

    /// One line: session, cxid, time, then the operation and its arguments.
    public static func describe(_ payload: [UInt8]) -> String {
        guard let t = try? Txn(bytes: payload) else { return "undecodable txn (\(payload.count) bytes)" }
        let head = "session:0x\(hex(t.sessionId)) cxid:0x\(hex(Int64(t.cxid))) time:\(t.time)"
        switch t.body {
        case .createSession(let timeout, _): return "\(head) createSession timeout:\(timeout)"
        case .closeSession: return "\(head) closeSession"
        case .reconfigured(let d): return "\(head) reconfig \(data(d))"
        case .failed(let code): return "\(head) error \(code.rawValue)"
        case .request(let r, let auth):
            let who = auth.isEmpty ? "" : " auth:" + auth.map(\.description).joined(separator: ",")
            return "\(head) \(request(r))\(who)"
        }
    }

    static func request(_ r: ZKRequest) -> String {
        switch r {
        case .create(let c, let op):
            return "\(op) \(c.path) \(data(c.data)) flags:\(c.flags)" + (c.ttl >= 0 ? " ttl:\(c.ttl)" : "")
                + " acl:" + c.acl.map { "\($0.id):\($0.perms.rawValue)" }.joined(separator: ",")
        case .delete(let p, let v, let op): return "\(op) \(p) version:\(v)"
        case .setData(let p, let d, let v): return "setData \(p) \(data(d)) version:\(v)"
        case .setACL(let p, let acl, let v):
            return "setACL \(p) version:\(v) acl:" + acl.map { "\($0.id):\($0.perms.rawValue)" }.joined(separator: ",")
        case .check(let p, let v): return "check \(p) version:\(v)"
        case .multi(let ops): return "multi [" + ops.map(request).joined(separator: "; ") + "]"
        default: return "\(r.opcode)"
        }
    }

    /// Sessions, then every znode with its stat, one per line.
    public static func describeSnapshot(_ payload: [UInt8]) throws -> String {
        let tree = try DataTree(snapshot: payload, skipACL: false, extendedTypesEnabled: true)
        var out = "lastZxid: 0x\(hex(tree.lastZxid))\nsessions: \(tree.sessions.count)\n"
        for (id, s) in tree.sessions.sorted(by: { $0.key < $1.key }) {
            out += "  0x\(hex(id)) timeout:\(s.timeout) ephemerals:\(tree.ephemerals[id]?.count ?? 0)\n"
        }
        out += "znodes: \(tree.nodeCount)\n"
        for path in tree.nodes.keys.sorted() {
            let n = tree.nodes[path]!
            let s = n.clientStat
            out += "  \(path) czxid:0x\(hex(s.czxid)) mzxid:0x\(hex(s.mzxid)) pzxid:0x\(hex(s.pzxid)) version:\(s.version)"
                + " cversion:\(s.cversion) aversion:\(s.aversion) ephemeralOwner:0x\(hex(n.stat.ephemeralOwner))"
                + " dataLength:\(s.dataLength) numChildren:\(s.numChildren) data:\(data(n.data))\n"
        }
        return out
    }
}

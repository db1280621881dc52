import NIOCore
import ZKProtocol

extension DataTree {
    /// Serializes the whole state (nodes, sessions, last zxid) for a snapshot file.
    public func snapshotBytes() -> [UInt8] {
        var b = ByteBuffer()
        b.reserveCapacity(approximateDataSize + nodes.count * 120 + 64)
        b.writeJuteLong(lastZxid)
        b.writeJuteInt(Int32(sessions.count))
        for (id, s) in sessions.sorted(by: { $0.key < $1.key }) {
            b.writeJuteLong(id); b.writeJuteInt(s.timeout); b.writeJuteBuffer(s.password)
        }
        b.writeJuteInt(Int32(nodes.count))
        // In table order: sorting a large tree would cost more than the rest of the snapshot;
        // restore rebuilds the child sets in a second pass instead.
        for (path, n) in nodes {
            b.writeJuteString(path); b.writeJuteBuffer(n.data); b.writeACLs(n.acl); n.stat.write(to: &b)
        }
        return b.readBytes(length: b.readableBytes) ?? []
    }

    /// Rebuilds a tree from `snapshotBytes()`.
    public init(snapshot: [UInt8], skipACL: Bool, extendedTypesEnabled: Bool) throws(JuteError) {
        self.init(skipACL: skipACL, extendedTypesEnabled: extendedTypesEnabled)
        var r = JuteReader(ByteBuffer(bytes: snapshot), maxLength: Int(Int32.max))
        let zxid = try r.readLong()
        let ns = try r.readInt()
        var sessions: [Int64: SessionRecord] = [:]
        for _ in 0..<max(0, ns) {
            let id = try r.readLong(), t = try r.readInt(), p = try r.readData()
            sessions[id] = SessionRecord(timeout: t, password: p)
        }
        let nn = try r.readInt()
        var nodes: [(String, DataNode)] = []
        nodes.reserveCapacity(Int(max(0, nn)))
        for _ in 0..<max(0, nn) {
            let path = try r.readPath(), data = try r.readBuffer(), acl = try r.readVector(ACL.read) ?? []
            let stat = try Stat.read(&r)
            nodes.append((path, DataNode(data: data, acl: acl, stat: stat)))
        }
        restore(lastZxid: zxid, sessions: sessions, nodes: nodes)
    }
}

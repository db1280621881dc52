import ZKCore

/// This server's view of the live sessions, as a value: which connection holds each session,
/// when it expires (monotonic ms) and which are being closed. The sessions themselves (timeout,
/// password, ephemerals) are replicated state in the `DataTree`; this is the local bookkeeping
/// around them.
struct SessionTable: Sendable {
    /// The connection that holds each session on this server.
    private(set) var connectionOf: [Int64: WatcherID] = [:]
    /// Deadline per tracked session. In an ensemble only the leader's deadlines expire sessions;
    /// learners track the sessions their own clients touch.
    private(set) var deadline: [Int64: Int64] = [:]
    /// Sessions with a closeSession under way (by the client or by expiry).
    private(set) var closing: Set<Int64> = []
    private var nextId: Int64

    /// Session ids follow Apache's scheme: wall-clock ms in the middle bits, `serverByte` in the
    /// high byte, counting up from there; above any id of `existing` with the same server byte.
    init(serverByte: Int64, wallMillis: Int64, existing: some Sequence<Int64>) {
        var sid = ((wallMillis << 24) >> 8) & 0x00ff_ffff_ffff_ffff | (serverByte << 56)
        for id in existing where id >> 56 == serverByte && id >= sid { sid = id + 1 }
        nextId = sid
    }

    /// A fresh session id.
    mutating func allocateId() -> Int64 {
        defer { nextId += 1 }
        return nextId
    }

    /// Starts (or restarts) the clock of `session`.
    mutating func track(_ session: Int64, timeout: Int32, now: Int64) {
        deadline[session] = now + Int64(timeout)
    }

    /// Renews the deadline of a tracked session; false when it is not tracked.
    @discardableResult
    mutating func touch(_ session: Int64, timeout: Int32, now: Int64) -> Bool {
        guard deadline[session] != nil else { return false }
        deadline[session] = now + Int64(timeout)
        return true
    }

    /// Gives every session in `timeouts` a full timeout from `now` and forgets the rest (a new
    /// leader, or a tree replaced by a snapshot).
    mutating func resetDeadlines(_ timeouts: some Sequence<(Int64, Int32)>, now: Int64) {
        deadline.removeAll(keepingCapacity: true)
        for (id, t) in timeouts { deadline[id] = now + Int64(t) }
    }

    /// `connection` now holds `session`; returns the connection that held it before, if another.
    @discardableResult
    mutating func attach(_ session: Int64, to connection: WatcherID) -> WatcherID? {
        let old = connectionOf.updateValue(connection, forKey: session)
        return old == connection ? nil : old
    }

    /// `connection` closed: it no longer holds `session` (if it did).
    mutating func detach(_ session: Int64, from connection: WatcherID) {
        if connectionOf[session] == connection { connectionOf[session] = nil }
    }

    /// Marks `session` as closing; false if it already was.
    @discardableResult
    mutating func beginClosing(_ session: Int64) -> Bool { closing.insert(session).inserted }

    /// A closeSession was given up (it could not be ordered).
    mutating func abandonClosing(_ session: Int64) { closing.remove(session) }

    /// The closeSession of `session` committed: forgets it; returns the connection that held it.
    mutating func closed(_ session: Int64) -> WatcherID? {
        deadline[session] = nil
        closing.remove(session)
        return connectionOf.removeValue(forKey: session)
    }

    /// Forgets every closeSession under way (they may be lost with an old leader).
    mutating func forgetClosing() { closing.removeAll() }

    /// Sessions past their deadline that are not closing yet, now marked closing, ascending.
    mutating func expire(now: Int64) -> [Int64] {
        var out: [Int64] = []
        for (sid, d) in deadline where d < now && !closing.contains(sid) { out.append(sid) }
        out.sort()
        for sid in out { closing.insert(sid) }
        return out
    }
}

import Logging
import NIOCore
import ZKCore
import ZKProtocol

/// Settings the request path needs, taken from zoo.cfg.
public struct CoreSettings: Sendable {
    public var myid: Int64 = 0
    public var tickTime: Int = 2000
    public var minSessionTimeout: Int = 4000
    public var maxSessionTimeout: Int = 40000
    public var maxClientCnxns: Int = 60
    public var skipACL = false
    public var extendedTypesEnabled = false
    /// `user:base64(sha1)` whose holder is super user.
    public var superDigest: String? = nil
    public var juteMaxBuffer = 0xfffff
    public var reconfigEnabled = false
    /// How often empty containers and expired TTL nodes are looked for (Apache's
    /// znode.container.checkIntervalMs).
    public var containerCheckIntervalMs: Int = 60_000
    /// Serve read-only sessions while cut off from the quorum (ensemble mode).
    public var readOnlyModeEnabled = false
    public init() {}
}

/// The request path of one server: connections, sessions, per-connection ordering, and the
/// application of committed transactions with their watches and replies. Every write goes to the
/// `WriteOrderer` and comes back through `applyCommitted`, in one way for standalone and ensemble
/// servers. Everything here runs on one event loop, so it needs no locks.
public final class ServerCore: @unchecked Sendable {
    let loop: any EventLoop
    let settings: CoreSettings
    let logger: Logger
    public private(set) var tree: DataTree
    private(set) var watches = WatchManager()
    /// Orders every write; set once, before `start()`.
    var orderer: (any WriteOrderer)!

    var connections: [WatcherID: ClientConnection] = [:]
    private var nextConnectionId: WatcherID = 1
    private var connectionsPerIP: [String: Int] = [:]
    private(set) var sessions: SessionTable
    private var dirty: [ClientConnection] = []
    var stats = TrafficStats()
    let startedAt = Clock.monotonicMillis()
    /// Called on the loop after each commit batch with the number of txns applied (snapshots).
    var onApplied: ((ServerCore, Int) -> Void)?
    /// Called on the loop, during the apply, when a committed reconfig changed the membership
    /// (its zxid, the new /zookeeper/config text). The ensemble shell switches to it.
    var onReconfigured: ((Int64, [UInt8]) -> Void)?
    /// False while an ensemble member has no synced leader: client connections are refused.
    private(set) var serving = true
    private var nextSyncId: Int64 = 1
    private var pendingSyncs: [Int64: WatcherID] = [:]

    public init(loop: any EventLoop, settings: CoreSettings, tree: DataTree, logger: Logger) {
        self.loop = loop
        self.settings = settings
        self.tree = tree
        self.logger = logger
        // A standalone Apache server uses 1 as its server byte (createSessionTrackerServerId).
        sessions = SessionTable(serverByte: settings.myid == 0 ? 1 : settings.myid, wallMillis: Clock.wallMillis(),
                                existing: tree.sessions.keys)
        sessions.resetDeadlines(tree.sessions.lazy.map { ($0.key, $0.value.timeout) }, now: Clock.monotonicMillis())
    }

    /// Starts the periodic timers. Call once, on the loop, after `orderer` is set.
    public func start() {
        precondition(orderer != nil, "ServerCore.start() before an orderer was set")
        let tick = TimeAmount.milliseconds(Int64(max(100, min(settings.tickTime / 2, 1000))))
        loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [self] _ in self.expireSessions() }
        let cc = TimeAmount.milliseconds(Int64(max(100, settings.containerCheckIntervalMs)))
        loop.scheduleRepeatedTask(initialDelay: cc, delay: cc) { [self] _ in self.cleanContainers() }
    }

    var lastZxid: Int64 { tree.lastZxid }
    /// Writes handed to the orderer and not answered yet.
    var outstanding: Int { connections.values.reduce(0) { $0 + $1.machine.pendingWrites } }

    // MARK: - Connections

    func connectionOpened(_ channel: any Channel) -> ClientConnection? {
        let (addr, port) = Self.describe(channel.remoteAddress)
        if settings.maxClientCnxns > 0 && connectionsPerIP[addr, default: 0] >= settings.maxClientCnxns {
            logger.warning("Too many connections from /\(addr) - max is \(settings.maxClientCnxns)")
            return nil
        }
        connectionsPerIP[addr, default: 0] += 1
        let c = ClientConnection(id: nextConnectionId, channel: channel, remoteAddress: addr, remotePort: port,
                                 now: Clock.wallMillis())
        nextConnectionId += 1
        connections[c.id] = c
        return c
    }

    func connectionClosed(_ c: ClientConnection) {
        guard connections.removeValue(forKey: c.id) != nil else { return }
        connectionsPerIP[c.remoteAddress, default: 1] -= 1
        if connectionsPerIP[c.remoteAddress] == 0 { connectionsPerIP[c.remoteAddress] = nil }
        watches.removeAll(watcher: c.id)
        if c.sessionId != 0 { sessions.detach(c.sessionId, from: c.id) }
        c.machine.close()
    }

    static func describe(_ a: SocketAddress?) -> (String, Int) {
        guard let a else { return ("unknown", 0) }
        return (a.ipAddress ?? "unknown", a.port ?? 0)
    }

    // MARK: - Packets

    /// A framed packet from a client. Throws to close the connection on malformed input.
    func received(_ c: ClientConnection, _ packet: ByteBuffer) throws {
        var r = JuteReader(packet, maxLength: settings.juteMaxBuffer)
        stats.packetsReceived += 1
        c.traffic.packetsReceived += 1
        switch c.state {
        case .awaitingConnect:
            try connect(c, try ConnectRequest.read(&r))
        case .connecting, .connected:
            let header = try RequestHeader.read(&r)
            touch(c)
            let now = Clock.monotonicNanos()
            guard OpCode(rawValue: header.type) != nil else {
                // Apache answers an unknown opcode with Unimplemented, zxid -1, and closes.
                answer(c, xid: header.xid, err: .unimplemented, closeAfter: true, zxid: -1, received: now)
                return
            }
            let request: ZKRequest
            do {
                request = try ZKRequest.decode(type: header.type, &r)
            } catch {
                // A body that does not decode: MarshallingError for that xid; the session goes on.
                answer(c, xid: header.xid, err: .marshallingError, received: now)
                return
            }
            handle(c, xid: header.xid, request, received: now)
        case .closing:
            break
        }
    }

    private func touch(_ c: ClientConnection) {
        if c.sessionId != 0, sessions.touch(c.sessionId, timeout: c.timeout, now: Clock.monotonicMillis()) {
            orderer.touched(session: c.sessionId)
        }
    }

    private func connect(_ c: ClientConnection, _ req: ConnectRequest) throws {
        c.readOnlyFlag = req.readOnly
        guard serving else {
            if settings.readOnlyModeEnabled && req.readOnly == true {
                readOnlyConnect(c, req)
                return
            }
            // Apache: "Zookeeper server not running" and the connection is closed; the client
            // tries another server.
            logger.debug("refusing a session: not serving (no quorum)")
            close(c)
            return
        }
        if req.lastZxidSeen > tree.lastZxid {
            logger.info("Refusing session request: client has seen zxid \(Zxid(req.lastZxidSeen)), our last zxid is \(Zxid(tree.lastZxid))")
            close(c)
            return
        }
        let timeout = clampedTimeout(req.timeout)
        guard req.sessionId != 0 else {
            let (sid, password) = newSession()
            c.sessionId = sid
            c.timeout = timeout
            c.machine.sessionProposed()
            sessions.attach(sid, to: c.id)
            let txn = Txn(zxid: 0, time: Clock.wallMillis(), sessionId: sid, cxid: 0,
                          body: .createSession(timeout: timeout, password: password))
            if !orderer.submit(txn) { close(c) }
            return
        }
        // Reconnect. Apache drops the session's current connection before it checks the password.
        if let old = sessions.connectionOf[req.sessionId], old != c.id, let oc = connections[old] {
            logger.debug("session \(Zxid(req.sessionId)) moved to a new connection; closing the old one")
            sessions.detach(req.sessionId, from: old)
            oc.sessionId = 0
            close(oc)
        }
        // The session must exist, not be closing, and the password must match.
        guard let s = tree.sessions[req.sessionId], !sessions.closing.contains(req.sessionId),
              s.password == req.password else {
            sendConnectResponse(c, .expired(readOnly: req.readOnly))
            close(c)
            return
        }
        c.sessionId = req.sessionId
        c.timeout = timeout
        sessions.attach(req.sessionId, to: c.id)
        sessions.track(req.sessionId, timeout: timeout, now: Clock.monotonicMillis())
        orderer.touched(session: req.sessionId)
        c.machine.sessionEstablished()
        sendConnectResponse(c, ConnectResponse(timeout: timeout, sessionId: req.sessionId, password: s.password,
                                               readOnly: req.readOnly.map { _ in false }))
    }

    /// Apache's read-only mode: a session local to this server (never logged, so it ends with
    /// the connection), reads from the local tree, every write answered NotReadOnly.
    private func readOnlyConnect(_ c: ClientConnection, _ req: ConnectRequest) {
        let timeout = clampedTimeout(req.timeout)
        let (sid, password) = newSession()
        c.sessionId = sid
        c.timeout = timeout
        c.readOnlySession = true
        c.machine.sessionEstablished()
        sendConnectResponse(c, ConnectResponse(timeout: timeout, sessionId: sid, password: password, readOnly: true))
    }

    /// The next session id of this server and a random 16-byte password.
    private func newSession() -> (id: Int64, password: [UInt8]) {
        var password = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<16 { password[i] = rng.next() }
        return (sessions.allocateId(), password)
    }

    /// The client's requested session timeout within min/maxSessionTimeout.
    private func clampedTimeout(_ requested: Int32) -> Int32 {
        Int32(min(max(Int(requested), settings.minSessionTimeout), settings.maxSessionTimeout))
    }

    // MARK: - Requests

    private func handle(_ c: ClientConnection, xid: Int32, _ request: ZKRequest, received now: UInt64) {
        c.lastCxid = xid
        if c.readOnlySession {
            switch request {
            case .closeSession:
                answer(c, xid: xid, err: .ok, closeAfter: true, received: now)
                return
            case .sync, .reconfig:
                answer(c, xid: xid, err: .notReadOnly, received: now)
                return
            case _ where request.isWrite:
                answer(c, xid: xid, err: .notReadOnly, received: now)
                return
            default:
                break
            }
        }
        switch request {
        case .auth(_, let scheme, let authData):
            // Applied at once so later pipelined writes carry the identity; the reply keeps its place.
            guard scheme == "digest" else {
                answer(c, xid: SpecialXid.auth, err: .authFailed, closeAfter: true, zxid: 0, received: now)
                return
            }
            let digest = DigestAuth.digest(String(decoding: authData, as: UTF8.self))
            let id = Id(scheme: "digest", id: digest)
            if !c.auth.contains(id) { c.auth.append(id) }
            if let sd = settings.superDigest, sd == digest, !c.auth.contains(ACLCheck.superId) {
                c.auth.append(ACLCheck.superId)
            }
            answer(c, xid: SpecialXid.auth, err: .ok, zxid: 0, received: now)
        case .closeSession:
            sessions.beginClosing(c.sessionId)
            submitWrite(c, xid: xid, body: .closeSession, received: now)
        case .sync(let path):
            // The reply waits until this server has applied everything ordered before it.
            let id = nextSyncId
            nextSyncId += 1
            c.machine.syncReceived(xid: xid, path: path, id: id, received: now)
            pendingSyncs[id] = c.id
            if !orderer.sync(id: id) {
                pendingSyncs[id] = nil
                close(c)
            }
        case .reconfig:
            if !settings.reconfigEnabled {
                answer(c, xid: xid, err: .reconfigDisabled, received: now)
            } else if !orderer.isEnsemble {
                // A standalone server answers reconfig as Apache's does.
                answer(c, xid: xid, err: .unimplemented, received: now)
            } else {
                // The leader decides it when ordering it (it alone knows who is synced).
                submitWrite(c, xid: xid, body: .request(request, auth: c.auth), received: now)
            }
        case _ where request.isWrite:
            submitWrite(c, xid: xid, body: .request(request, auth: c.auth), received: now)
        default:
            run(c, c.machine.readReceived(xid: xid, request: request, received: now))
        }
    }

    /// Queues a client write in its connection's FIFO and hands it to the orderer.
    private func submitWrite(_ c: ClientConnection, xid: Int32, body: Txn.Body, received: UInt64) {
        c.machine.writeReceived(xid: xid, received: received)
        let txn = Txn(zxid: 0, time: Clock.wallMillis(), sessionId: c.sessionId, cxid: xid, body: body)
        if !orderer.submit(txn) { close(c) }
    }

    /// A request whose answer is known now; it is sent in its turn.
    private func answer(_ c: ClientConnection, xid: Int32, err: ErrorCode, response: ZKResponse = .empty,
                        closeAfter: Bool = false, zxid: Int64? = nil, received: UInt64) {
        run(c, c.machine.answerReceived(xid: xid, err: err, response: response, closeAfter: closeAfter, zxid: zxid,
                                        received: received))
    }

    /// Carries out one step of the connection's state machine. False when the connection closed.
    @discardableResult
    private func run(_ c: ClientConnection, _ step: ConnectionStateMachine.Step) -> Bool {
        switch step {
        case .queued:
            return true
        case .execute(let xid, let request, let received):
            let (err, resp) = executeLocal(c, request)
            reply(c, xid: xid, err: err, response: resp, received: received)
            return true
        case .reply(let xid, let err, let resp, let zxid, let closeAfter, let received):
            reply(c, xid: xid, err: err, response: resp, received: received, zxid: zxid)
            if closeAfter { close(c); return false }
            return true
        }
    }

    /// Answers every request at the head of the queue that nothing holds back.
    private func drain(_ c: ClientConnection) {
        while let step = c.machine.nextStep() {
            guard run(c, step) else { return }
        }
    }

    /// Runs a request that does not go through the log, against the applied tree.
    private func executeLocal(_ c: ClientConnection, _ request: ZKRequest) -> (ErrorCode, ZKResponse) {
        c.lastOp = Self.shortName(request.opcode)
        switch request {
        case .ping:
            return (.ok, .empty)
        case .sync(let path):
            return (.ok, .path(path))
        case .whoAmI:
            // Apache reports the user name: a digest id shows only the part before the colon.
            return (.ok, .whoAmI(c.auth.map { id in
                guard id.scheme == "digest", let colon = id.id.firstIndex(of: ":") else { return id }
                return Id(scheme: id.scheme, id: String(id.id[..<colon]))
            }))
        case .setWatches(let w, _):
            setWatches(c, w)
            return (.ok, .empty)
        case .addWatch(let path, let mode):
            guard mode == 0 || mode == 1 else { return (.marshallingError, .empty) }
            watches.add(mode == 0 ? .persistent : .persistentRecursive, path: path, watcher: c.id)
            // The reply body is an ErrorResponse record {int err} (Apache: `new ErrorResponse(0)`);
            // the Java client reads those 4 bytes and drops the connection when they are missing.
            return (.ok, .number(ErrorCode.ok.rawValue))
        case .removeWatches(let path, let type, let checkOnly):
            return (removeWatches(c, path: path, type: type, checkOnly: checkOnly), .empty)
        default:
            let result = tree.read(request, auth: c.auth, session: c.sessionId)
            switch (request, result) {
            case (.exists(let p, true), .success), (.getData(let p, true), .success):
                watches.add(.data, path: p, watcher: c.id)
            case (.exists(let p, true), .failure(.noNode)):
                watches.add(.data, path: p, watcher: c.id)
            case (.getChildren(let p, true, _), .success):
                watches.add(.child, path: p, watcher: c.id)
            default:
                break
            }
            switch result {
            case .success(let r): return (.ok, r)
            case .failure(let e): return (e, .empty)
            }
        }
    }

    private func setWatches(_ c: ClientConnection, _ w: SetWatchesRequest) {
        let rel = w.relativeZxid
        var events: [WatcherEvent] = []
        for p in w.dataWatches {
            if let n = tree.node(p) {
                if n.stat.mzxid > rel { events.append(WatcherEvent(type: .nodeDataChanged, path: p)) }
                else { watches.add(.data, path: p, watcher: c.id) }
            } else {
                events.append(WatcherEvent(type: .nodeDeleted, path: p))
            }
        }
        for p in w.existWatches {
            if tree.node(p) != nil { events.append(WatcherEvent(type: .nodeCreated, path: p)) }
            else { watches.add(.data, path: p, watcher: c.id) }
        }
        for p in w.childWatches {
            if let n = tree.node(p) {
                if n.stat.pzxid > rel { events.append(WatcherEvent(type: .nodeChildrenChanged, path: p)) }
                else { watches.add(.child, path: p, watcher: c.id) }
            } else {
                events.append(WatcherEvent(type: .nodeDeleted, path: p))
            }
        }
        for p in w.persistentWatches { watches.add(.persistent, path: p, watcher: c.id) }
        for p in w.persistentRecursiveWatches { watches.add(.persistentRecursive, path: p, watcher: c.id) }
        for e in events { notify(c, e) }
    }

    private func removeWatches(_ c: ClientConnection, path: String, type: Int32, checkOnly: Bool) -> ErrorCode {
        // WatcherType: Children 1, Data 2, Any 3, Persistent 4, PersistentRecursive 5. Apache keeps a
        // persistent watch in both its data and child managers and a recursive one in the data
        // manager, so each type finds those too.
        let kinds: [WatchManager.Kind]
        switch type {
        case 1: kinds = [.child, .persistent]
        case 2: kinds = [.data, .persistent, .persistentRecursive]
        case 3: kinds = [.data, .child, .persistent, .persistentRecursive]
        case 4: kinds = [.persistent]
        case 5: kinds = [.persistentRecursive]
        default: return .badArguments
        }
        var found = false
        for k in kinds where watches.has(k, path: path, watcher: c.id) {
            found = true
            if !checkOnly { watches.remove(k, path: path, watcher: c.id) }
        }
        return found ? .ok : .noWatcher
    }

    // MARK: - Committed transactions (called by the orderer)

    /// Transactions the orderer committed, in zxid order: apply each, fire its watches and answer
    /// the client of this server that sent it.
    func applyCommitted(_ txns: [Txn]) {
        for txn in txns { commit(txn) }
        scheduleFlush()
        if !txns.isEmpty { onApplied?(self, txns.count) }
    }

    /// A client `sync` completed.
    func syncCompleted(id: Int64) {
        guard let cid = pendingSyncs.removeValue(forKey: id), let c = connections[cid],
              c.machine.syncCompleted(id: id) else { return }
        drain(c)
        scheduleFlush()
    }

    /// Ensemble mode: the server started or stopped serving, or its role changed. Client
    /// connections are closed either way (their forwarded requests may be lost with the old
    /// leader); clients reconnect and resume their sessions.
    func quorumStateChanged(serving on: Bool, leading: Bool) {
        for c in connections.values where c.state != .closing { close(c) }
        pendingSyncs.removeAll()
        sessions.forgetClosing()
        serving = on
        if on && leading {
            // A new leader gives every session a full timeout, as Apache's does.
            resetSessionDeadlines()
        }
    }

    /// Leader: learners reported these sessions alive.
    func touchSessions(_ ids: [Int64]) {
        let now = Clock.monotonicMillis()
        for id in ids {
            if let s = tree.sessions[id] { sessions.touch(id, timeout: s.timeout, now: now) }
        }
    }

    /// Learner: the leader sent a snapshot; it replaces the whole state.
    func replaceTree(_ t: DataTree) {
        tree = t
        watches = WatchManager()
        resetSessionDeadlines()
    }

    /// Ensemble mode: sets the membership text of /zookeeper/config.
    func setConfigData(_ data: [UInt8], version: Int64) {
        tree.setConfigData(data, zxid: version, time: Clock.wallMillis())
    }

    private func resetSessionDeadlines() {
        sessions.resetDeadlines(tree.sessions.lazy.map { ($0.key, $0.value.timeout) }, now: Clock.monotonicMillis())
    }

    /// The connection holding the session of `txn`, when its FIFO waits for exactly this write.
    private func waitingConnection(_ txn: Txn) -> ClientConnection? {
        guard let cid = sessions.connectionOf[txn.sessionId], let c = connections[cid] else { return nil }
        return c.machine.awaitsWrite(xid: txn.cxid) ? c : nil
    }

    private func commit(_ txn: Txn) {
        // Which local request this answers, decided before the apply changes the session table.
        let waiting: ClientConnection?
        switch txn.body {
        case .createSession: waiting = nil
        case .closeSession, .request, .reconfigured, .failed: waiting = waitingConnection(txn)
        }
        let outcome = tree.apply(txn)
        for t in outcome.triggers {
            let ws = watches.trigger(t)
            guard !ws.isEmpty else { continue }
            let event = WatcherEvent(type: t.type, path: t.path)
            for w in ws { if let wc = connections[w] { notify(wc, event) } }
        }
        switch txn.body {
        case .createSession:
            let timeout = tree.sessions[txn.sessionId]?.timeout ?? 0
            sessions.track(txn.sessionId, timeout: timeout, now: Clock.monotonicMillis())
            if let cid = sessions.connectionOf[txn.sessionId], let c = connections[cid], c.state == .connecting,
               let s = tree.sessions[txn.sessionId] {
                c.machine.sessionEstablished()
                sendConnectResponse(c, ConnectResponse(timeout: s.timeout, sessionId: txn.sessionId, password: s.password,
                                                       readOnly: c.readOnlyFlag.map { _ in false }))
                drain(c)
            }
            return
        case .closeSession:
            let holder = sessions.closed(txn.sessionId)
            if waiting == nil, let cid = holder, let c = connections[cid] {
                // Expired: the client learns by its connection closing (Apache closes it).
                close(c)
            }
        case .request, .reconfigured, .failed:
            break
        }
        if case .reconfigured(let data) = txn.body { onReconfigured?(txn.zxid, data) }
        guard let c = waiting, let received = c.machine.writeCommitted(xid: txn.cxid) else { return }
        c.lastOp = Self.shortName(txnOpcode(txn))
        switch outcome.result {
        case .success(let r): reply(c, xid: txn.cxid, err: .ok, response: r, received: received)
        case .failure(let e): reply(c, xid: txn.cxid, err: e, response: .empty, received: received)
        }
        if case .closeSession = txn.body {
            close(c)
            return
        }
        drain(c)
    }

    private func txnOpcode(_ t: Txn) -> OpCode {
        switch t.body {
        case .request(let r, _): return r.opcode
        case .createSession: return .createSession
        case .closeSession: return .closeSession
        case .reconfigured, .failed: return .reconfig
        }
    }

    // MARK: - Output

    /// Appends one frame to the connection's output; it leaves at the end of the loop pass.
    private func send(_ c: ClientConnection, _ frame: (inout ByteBuffer) -> Void) {
        c.out.writeFrame(frame)
        c.traffic.packetsSent += 1
        stats.packetsSent += 1
        if !c.dirty { c.dirty = true; dirty.append(c) }
    }

    private func sendConnectResponse(_ c: ClientConnection, _ r: ConnectResponse) {
        send(c) { r.write(to: &$0) }
    }

    private func reply(_ c: ClientConnection, xid: Int32, err: ErrorCode, response: ZKResponse, received: UInt64,
                       zxid: Int64? = nil) {
        let zxid = zxid ?? tree.lastZxid
        send(c) { b in
            ReplyHeader(xid: xid, zxid: zxid, err: err.rawValue).write(to: &b)
            if err == .ok { response.write(to: &b) }
        }
        c.lastZxid = zxid
        if xid != SpecialXid.ping && xid != SpecialXid.auth {
            let latency = Int64((Clock.monotonicNanos() &- received) / 1_000_000)
            c.lastLatency = latency
            c.traffic.latency.record(latency)
            stats.latency.record(latency)
        }
        c.lastResponseTime = Clock.wallMillis()
    }

    private func notify(_ c: ClientConnection, _ e: WatcherEvent, zxid: Int64 = -1) {
        guard c.state == .connected || c.state == .connecting else { return }
        send(c) { b in
            ReplyHeader(xid: SpecialXid.notification, zxid: zxid, err: 0).write(to: &b)
            e.write(to: &b)
        }
    }

    private var flushScheduled = false

    /// Flushes once the loop has handled everything it read in this pass: commits may arrive one
    /// message at a time, and their replies should still share one syscall per client.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.execute { [self] in
            flushScheduled = false
            flushDirty()
        }
    }

    /// Writes and flushes every connection that has output. Called at the end of each read burst
    /// and commit batch, so many replies share one syscall.
    func flushDirty() {
        for c in dirty {
            c.dirty = false
            guard c.out.readableBytes > 0 else { continue }
            let buf = c.out
            c.out = c.channel.allocator.buffer(capacity: max(1024, min(buf.readableBytes, 65536)))
            c.channel.writeAndFlush(buf, promise: nil)
        }
        dirty.removeAll(keepingCapacity: true)
    }

    /// Sends what is buffered for `c`, then closes it.
    func close(_ c: ClientConnection) {
        c.machine.close()
        let buf = c.out
        c.out.clear()
        let ch = c.channel
        if buf.readableBytes > 0 {
            ch.writeAndFlush(buf).whenComplete { _ in ch.close(promise: nil) }
        } else {
            ch.close(promise: nil)
        }
    }

    // MARK: - Timers

    private func expireSessions() {
        guard orderer.ownsSessions else { return }
        for sid in sessions.expire(now: Clock.monotonicMillis()) {
            logger.info("Expiring session \(Zxid(sid)), timeout of \(tree.sessions[sid]?.timeout ?? 0)ms exceeded")
            if !orderer.submit(Txn(zxid: 0, time: Clock.wallMillis(), sessionId: sid, cxid: 0, body: .closeSession)) {
                sessions.abandonClosing(sid)
            }
        }
    }

    private func cleanContainers() {
        guard orderer.ownsSessions else { return }
        for path in tree.expiredContainersAndTTLs(now: Clock.wallMillis()) {
            let body = Txn.Body.request(.delete(path: path, version: -1, .deleteContainer), auth: [ACLCheck.superId])
            _ = orderer.submit(Txn(zxid: 0, time: Clock.wallMillis(), sessionId: 0, cxid: 0, body: body))
        }
    }

    static func shortName(_ op: OpCode) -> String {
        switch op {
        case .create, .create2, .createContainer, .createTTL: return "CREA"
        case .delete, .deleteContainer: return "DELE"
        case .exists: return "EXIS"
        case .getData: return "GETD"
        case .setData: return "SETD"
        case .getACL: return "GETA"
        case .setACL: return "SETA"
        case .getChildren: return "GETC"
        case .getChildren2: return "GETC"
        case .sync: return "SYNC"
        case .ping: return "PING"
        case .check: return "CHEC"
        case .multi: return "MULT"
        case .multiRead: return "MLTR"
        case .closeSession: return "CLOS"
        case .createSession: return "SESS"
        case .setWatches, .setWatches2: return "SETW"
        case .addWatch: return "ADDW"
        case .removeWatches: return "REMW"
        case .checkWatches: return "CHKW"
        case .getEphemerals: return "GETE"
        case .getAllChildrenNumber: return "GETACN"
        case .whoAmI: return "HOMI"
        case .reconfig: return "RECO"
        case .auth: return "AUTH"
        default: return "NA"
        }
    }
}

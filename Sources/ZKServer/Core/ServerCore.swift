import DequeModule
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

/// Counters for the four-letter words.
struct ServerStats {
    var packetsReceived: Int64 = 0
    var packetsSent: Int64 = 0
    var minLatency: Int64 = Int64.max
    var maxLatency: Int64 = 0
    var totalLatency: Int64 = 0
    var latencyCount: Int64 = 0
    mutating func reset() { self = ServerStats() }
}

/// The request path of one server: sessions, per-connection ordering, propose → log → commit →
/// apply, watches. Everything here runs on one event loop, so it needs no locks.
public final class ServerCore: @unchecked Sendable {
    let loop: any EventLoop
    let settings: CoreSettings
    let logger: Logger
    public private(set) var tree: DataTree
    private(set) var watches = WatchManager()
    let log: any TxnLogSink

    var connections: [WatcherID: ClientConnection] = [:]
    private var nextConnectionId: WatcherID = 1
    private var connectionsPerIP: [String: Int] = [:]
    /// Live sessions: which connection holds each and when it expires (monotonic ms).
    private var sessionConnection: [Int64: WatcherID] = [:]
    var sessionExpiry: [Int64: Int64] = [:]
    private var closingSessions: Set<Int64> = []
    private var nextSessionId: Int64
    private var lastProposedZxid: Int64

    private enum Origin {
        case client(WatcherID)
        case connect(WatcherID)
        case internalRequest
    }
    private var inFlight = Deque<(txn: Txn, origin: Origin)>()
    private var dirty: [ClientConnection] = []
    var stats = ServerStats()
    let startedAt = Clock.monotonicMillis()
    /// Called on the loop after each commit batch with the number of txns applied (snapshots).
    var onApplied: ((ServerCore, Int) -> Void)?
    /// Ensemble mode: where writes and syncs go. Nil when standalone.
    var quorum: (any QuorumLink)?
    /// False while an ensemble member has no synced leader: client connections are refused.
    private(set) var serving = true
    private var nextSyncId: Int64 = 1
    private var pendingSyncs: [Int64: WatcherID] = [:]

    public init(loop: any EventLoop, settings: CoreSettings, tree: DataTree, log: any TxnLogSink, logger: Logger) {
        self.loop = loop
        self.settings = settings
        self.tree = tree
        self.log = log
        self.logger = logger
        self.lastProposedZxid = tree.lastZxid
        // Apache's scheme: time in the middle bits, myid in the high byte; then count up. Start above
        // any session recovered from disk with the same myid.
        // A standalone Apache server uses 1 here (createSessionTrackerServerId).
        let serverByte = settings.myid == 0 ? 1 : settings.myid
        var sid = ((Clock.wallMillis() << 24) >> 8) & 0x00ff_ffff_ffff_ffff | (serverByte << 56)
        for id in tree.sessions.keys where id >> 56 == serverByte && id >= sid { sid = id + 1 }
        self.nextSessionId = sid
        let now = Clock.monotonicMillis()
        for (id, s) in tree.sessions { sessionExpiry[id] = now + Int64(s.timeout) }
    }

    /// Hooks the log's durability callback and the periodic timers. Call once, on the loop.
    public func start() {
        log.setDurableHandler { [self] zxid in
            loop.execute { self.durable(upTo: zxid) }
        }
        let tick = TimeAmount.milliseconds(Int64(max(100, min(settings.tickTime / 2, 1000))))
        loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [self] _ in self.expireSessions() }
        let cc = TimeAmount.milliseconds(Int64(max(100, settings.containerCheckIntervalMs)))
        loop.scheduleRepeatedTask(initialDelay: cc, delay: cc) { [self] _ in self.cleanContainers() }
    }

    var lastZxid: Int64 { tree.lastZxid }
    var outstanding: Int {
        quorum == nil ? inFlight.count : connections.values.reduce(0) { $0 + $1.pendingWrites }
    }

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
        if c.sessionId != 0, sessionConnection[c.sessionId] == c.id {
            sessionConnection[c.sessionId] = nil
        }
        c.state = .closing
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
        c.packetsReceived += 1
        switch c.state {
        case .awaitingConnect:
            try connect(c, try ConnectRequest.read(&r))
        case .connecting, .connected:
            let header = try RequestHeader.read(&r)
            touch(c)
            guard OpCode(rawValue: header.type) != nil else {
                // Apache answers an unknown opcode with Unimplemented, zxid -1, and closes.
                enqueueReady(c, xid: header.xid, err: .unimplemented, response: .empty, closeAfter: true, zxid: -1)
                return
            }
            let request: ZKRequest
            do {
                request = try ZKRequest.decode(type: header.type, &r)
            } catch {
                // A body that does not decode: MarshallingError for that xid; the session goes on.
                enqueueReady(c, xid: header.xid, err: .marshallingError, response: .empty)
                return
            }
            handle(c, xid: header.xid, request)
        case .closing:
            break
        }
    }

    private func touch(_ c: ClientConnection) {
        if c.sessionId != 0, sessionExpiry[c.sessionId] != nil {
            sessionExpiry[c.sessionId] = Clock.monotonicMillis() + Int64(c.timeout)
            quorum?.touched(session: c.sessionId)
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
        if req.sessionId != 0 {
            // Apache drops the session's current connection before it checks the password.
            if let old = sessionConnection[req.sessionId], old != c.id, let oc = connections[old] {
                oc.sessionId = 0
                sessionConnection[req.sessionId] = nil
                close(oc)
            }
            // Reconnect: the session must exist, not be closing, and the password must match.
            guard let s = tree.sessions[req.sessionId], !closingSessions.contains(req.sessionId),
                  s.password == req.password else {
                sendConnectResponse(c, .expired(readOnly: req.readOnly))
                c.state = .closing
                flushAndClose(c)
                return
            }
            if let old = sessionConnection[req.sessionId], old != c.id, let oc = connections[old] {
                logger.debug("session \(Zxid(req.sessionId)) moved to a new connection; closing the old one")
                oc.sessionId = 0
                close(oc)
            }
            c.sessionId = req.sessionId
            c.timeout = timeout
            c.state = .connected
            sessionConnection[req.sessionId] = c.id
            sessionExpiry[req.sessionId] = Clock.monotonicMillis() + Int64(timeout)
            quorum?.touched(session: req.sessionId)
            sendConnectResponse(c, ConnectResponse(timeout: timeout, sessionId: req.sessionId, password: s.password,
                                                   readOnly: req.readOnly.map { _ in false }))
            return
        }
        let (sid, password) = newSession()
        c.sessionId = sid
        c.timeout = timeout
        c.state = .connecting
        sessionConnection[sid] = c.id
        propose(.createSession(timeout: timeout, password: password), session: sid, cxid: 0, origin: .connect(c.id))
    }

    /// Apache's read-only mode: a session local to this server (never logged, so it ends with
    /// the connection), reads from the local tree, every write answered NotReadOnly.
    private func readOnlyConnect(_ c: ClientConnection, _ req: ConnectRequest) {
        let timeout = clampedTimeout(req.timeout)
        let (sid, password) = newSession()
        c.sessionId = sid
        c.timeout = timeout
        c.readOnlySession = true
        c.state = .connected
        sendConnectResponse(c, ConnectResponse(timeout: timeout, sessionId: sid, password: password, readOnly: true))
    }

    /// The next session id of this server and a random 16-byte password.
    private func newSession() -> (id: Int64, password: [UInt8]) {
        let sid = nextSessionId
        nextSessionId += 1
        var password = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<16 { password[i] = rng.next() }
        return (sid, password)
    }

    /// The client's requested session timeout within min/maxSessionTimeout.
    private func clampedTimeout(_ requested: Int32) -> Int32 {
        Int32(min(max(Int(requested), settings.minSessionTimeout), settings.maxSessionTimeout))
    }

    private func sendConnectResponse(_ c: ClientConnection, _ r: ConnectResponse) {
        c.out.writeFrame { r.write(to: &$0) }
        c.packetsSent += 1
        stats.packetsSent += 1
        markDirty(c)
    }

    // MARK: - Requests

    private func handle(_ c: ClientConnection, xid: Int32, _ request: ZKRequest) {
        let now = Clock.monotonicNanos()
        c.lastCxid = xid
        if c.readOnlySession {
            switch request {
            case .closeSession:
                enqueueReady(c, xid: xid, err: .ok, response: .empty, closeAfter: true)
                return
            case .sync:
                enqueueReady(c, xid: xid, err: .notReadOnly, response: .empty)
                return
            case .reconfig:
                enqueueReady(c, xid: xid, err: .notReadOnly, response: .empty)
                return
            case _ where request.isWrite:
                enqueueReady(c, xid: xid, err: .notReadOnly, response: .empty)
                return
            default:
                break
            }
        }
        switch request {
        case .auth(_, let scheme, let authData):
            // Applied at once so later pipelined writes carry the identity; the reply keeps its place.
            guard scheme == "digest" else {
                enqueueReady(c, xid: SpecialXid.auth, err: .authFailed, response: .empty, closeAfter: true, zxid: 0)
                return
            }
            let digest = DigestAuth.digest(String(decoding: authData, as: UTF8.self))
            let id = Id(scheme: "digest", id: digest)
            if !c.auth.contains(id) { c.auth.append(id) }
            if let sd = settings.superDigest, sd == digest, !c.auth.contains(ACLCheck.superId) {
                c.auth.append(ACLCheck.superId)
            }
            enqueueReady(c, xid: SpecialXid.auth, err: .ok, response: .empty, zxid: 0)
        case .closeSession:
            c.pendingWrites += 1
            c.queue.append(.write(xid: xid, zxid: 0, received: now))
            closingSessions.insert(c.sessionId)
            propose(.closeSession, session: c.sessionId, cxid: xid, origin: .client(c.id))
        case .sync(let path) where quorum != nil:
            // The reply waits until this server has applied everything the leader had proposed.
            let id = nextSyncId
            nextSyncId += 1
            c.queue.append(.sync(xid: xid, path: path, id: id, received: now))
            pendingSyncs[id] = c.id
            if !quorum!.sync(id: id) {
                pendingSyncs[id] = nil
                close(c)
            }
        case .reconfig:
            // A standalone server answers reconfig as Apache's does.
            enqueueReady(c, xid: xid, err: settings.reconfigEnabled ? .unimplemented : .reconfigDisabled, response: .empty)
        case _ where request.isWrite:
            c.pendingWrites += 1
            c.queue.append(.write(xid: xid, zxid: 0, received: now))
            propose(.request(request, auth: c.auth), session: c.sessionId, cxid: xid, origin: .client(c.id))
        default:
            if c.queue.isEmpty && c.state == .connected {
                let (err, resp) = executeLocal(c, request)
                reply(c, xid: xid, err: err, response: resp, received: now)
            } else {
                c.queue.append(.local(xid: xid, request: request, received: now))
            }
        }
    }

    private func enqueueReady(_ c: ClientConnection, xid: Int32, err: ErrorCode, response: ZKResponse,
                              closeAfter: Bool = false, zxid: Int64? = nil) {
        if c.queue.isEmpty && c.state == .connected {
            reply(c, xid: xid, err: err, response: response, received: Clock.monotonicNanos(), zxid: zxid)
            if closeAfter { flushAndClose(c) }
        } else {
            c.queue.append(.ready(xid: xid, err: err, response: response, closeAfter: closeAfter, zxid: zxid))
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
            return (.ok, .empty)
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

    // MARK: - Propose → log → commit → apply

    private func propose(_ body: Txn.Body, session: Int64, cxid: Int32, origin: Origin) {
        if let q = quorum {
            // The zxid comes from the leader; the commit finds its connection by (session, cxid).
            let txn = Txn(zxid: 0, time: Clock.wallMillis(), sessionId: session, cxid: cxid, body: body)
            if !q.submit(txn) {
                switch origin {
                case .client(let cid), .connect(let cid):
                    if let c = connections[cid] { close(c) }
                case .internalRequest:
                    if case .closeSession = body { closingSessions.remove(session) }
                }
            }
            return
        }
        lastProposedZxid += 1
        let txn = Txn(zxid: lastProposedZxid, time: Clock.wallMillis(), sessionId: session, cxid: cxid, body: body)
        if case .client(let cid) = origin, let c = connections[cid] {
            // Remember which write entry this zxid answers.
            if let i = c.queue.lastIndex(where: { if case .write(_, 0, _) = $0 { return true } else { return false } }),
               case .write(let xid, _, let rcv) = c.queue[i] {
                c.queue[i] = .write(xid: xid, zxid: txn.zxid, received: rcv)
            }
        }
        inFlight.append((txn, origin))
        log.append(zxid: txn.zxid, payload: txn.bytes)
    }

    /// The log made everything up to `zxid` durable: apply in order and answer.
    func durable(upTo zxid: Int64) {
        var applied = 0
        while let head = inFlight.first, head.txn.zxid <= zxid {
            inFlight.removeFirst()
            commit(head.txn, origin: head.origin)
            applied += 1
        }
        flushDirty()
        if applied > 0 { onApplied?(self, applied) }
    }

    /// Ensemble mode: transactions the quorum committed, in zxid order. Each one that a client of
    /// this server sent is answered here.
    func applyCommitted(_ txns: [Txn]) {
        for txn in txns { commit(txn, origin: originOf(txn)) }
        scheduleFlush()
        if !txns.isEmpty { onApplied?(self, txns.count) }
    }

    /// Which local request a committed txn answers: the connection holding its session, if the
    /// head of that connection's queue is the write with this cxid (Apache matches the same way).
    private func originOf(_ txn: Txn) -> Origin {
        guard let cid = sessionConnection[txn.sessionId], let c = connections[cid] else { return .internalRequest }
        if case .createSession = txn.body {
            return c.state == .connecting ? .connect(cid) : .internalRequest
        }
        if case .write(let xid, _, let rcv)? = c.queue.first, xid == txn.cxid {
            c.queue[c.queue.startIndex] = .write(xid: xid, zxid: txn.zxid, received: rcv)
            return .client(cid)
        }
        return .internalRequest
    }

    /// Ensemble mode: a client `sync` completed.
    func syncCompleted(id: Int64) {
        guard let cid = pendingSyncs.removeValue(forKey: id), let c = connections[cid] else { return }
        if let i = c.queue.firstIndex(where: { if case .sync(_, _, id, _) = $0 { return true } else { return false } }),
           case .sync(let xid, let path, _, _) = c.queue[i] {
            c.queue[i] = .ready(xid: xid, err: .ok, response: .path(path), closeAfter: false, zxid: nil)
        }
        drain(c)
        scheduleFlush()
    }

    /// Ensemble mode: the server started or stopped serving, or its role changed. Client
    /// connections are closed either way (their forwarded requests may be lost with the old
    /// leader); clients reconnect and resume their sessions.
    func quorumStateChanged(serving on: Bool, leading: Bool) {
        for c in connections.values where c.state != .closing { close(c) }
        pendingSyncs.removeAll()
        closingSessions.removeAll()
        serving = on
        if on && leading {
            // A new leader gives every session a full timeout, as Apache's does.
            let now = Clock.monotonicMillis()
            sessionExpiry.removeAll()
            for (id, s) in tree.sessions { sessionExpiry[id] = now + Int64(s.timeout) }
        }
    }

    /// Leader: learners reported these sessions alive.
    func touchSessions(_ ids: [Int64]) {
        let now = Clock.monotonicMillis()
        for id in ids {
            if let s = tree.sessions[id], sessionExpiry[id] != nil { sessionExpiry[id] = now + Int64(s.timeout) }
        }
    }

    /// Learner: the leader sent a snapshot; it replaces the whole state.
    func replaceTree(_ t: DataTree) {
        tree = t
        watches = WatchManager()
        let now = Clock.monotonicMillis()
        sessionExpiry.removeAll()
        for (id, s) in t.sessions { sessionExpiry[id] = now + Int64(s.timeout) }
    }

    /// Ensemble mode: sets the membership text of /zookeeper/config.
    func setConfigData(_ data: [UInt8], version: Int64) {
        tree.setConfigData(data, zxid: version)
    }

    private func commit(_ txn: Txn, origin: Origin) {
        let outcome = tree.apply(txn)
        for t in outcome.triggers {
            let ws = watches.trigger(t)
            guard !ws.isEmpty else { continue }
            let event = WatcherEvent(type: t.type, path: t.path)
            for w in ws { if let wc = connections[w] { notify(wc, event) } }
        }
        switch txn.body {
        case .createSession:
            sessionExpiry[txn.sessionId] = Clock.monotonicMillis() + Int64(tree.sessions[txn.sessionId]?.timeout ?? 0)
        case .closeSession:
            sessionExpiry[txn.sessionId] = nil
            closingSessions.remove(txn.sessionId)
            if let cid = sessionConnection.removeValue(forKey: txn.sessionId), let c = connections[cid],
               case .internalRequest = origin {
                // Expired: the client learns by its connection closing (Apache closes it).
                close(c)
            }
        case .request:
            break
        }
        switch origin {
        case .internalRequest:
            break
        case .connect(let cid):
            guard let c = connections[cid], c.state == .connecting,
                  let s = tree.sessions[txn.sessionId] else { return }
            c.state = .connected
            sendConnectResponse(c, ConnectResponse(timeout: s.timeout, sessionId: txn.sessionId, password: s.password,
                                                   readOnly: c.readOnlyFlag.map { _ in false }))
            drain(c)
        case .client(let cid):
            guard let c = connections[cid], case .write(let xid, let z, let received)? = c.queue.first, z == txn.zxid else {
                return
            }
            c.queue.removeFirst()
            c.pendingWrites -= 1
            c.lastOp = Self.shortName(txnOpcode(txn))
            switch outcome.result {
            case .success(let r): reply(c, xid: xid, err: .ok, response: r, received: received)
            case .failure(let e): reply(c, xid: xid, err: e, response: .empty, received: received)
            }
            if case .closeSession = txn.body {
                flushAndClose(c)
                return
            }
            drain(c)
        }
    }

    private func txnOpcode(_ t: Txn) -> OpCode {
        switch t.body {
        case .request(let r, _): return r.opcode
        case .createSession: return .createSession
        case .closeSession: return .closeSession
        }
    }

    /// Sends every reply at the head of the queue that no pending write holds back.
    private func drain(_ c: ClientConnection) {
        guard c.state == .connected else { return }
        while let head = c.queue.first {
            switch head {
            case .write, .sync:
                return
            case .local(let xid, let request, let received):
                c.queue.removeFirst()
                let (err, resp) = executeLocal(c, request)
                reply(c, xid: xid, err: err, response: resp, received: received)
            case .ready(let xid, let err, let resp, let closeAfter, let zxid):
                c.queue.removeFirst()
                reply(c, xid: xid, err: err, response: resp, received: Clock.monotonicNanos(), zxid: zxid)
                if closeAfter { flushAndClose(c); return }
            }
        }
    }

    private func reply(_ c: ClientConnection, xid: Int32, err: ErrorCode, response: ZKResponse, received: UInt64,
                       zxid: Int64? = nil) {
        let zxid = zxid ?? tree.lastZxid
        c.out.writeFrame { b in
            ReplyHeader(xid: xid, zxid: zxid, err: err.rawValue).write(to: &b)
            if err == .ok { response.write(to: &b) }
        }
        c.packetsSent += 1
        stats.packetsSent += 1
        c.lastZxid = zxid
        if xid != SpecialXid.ping && xid != SpecialXid.auth {
            let latency = Int64((Clock.monotonicNanos() &- received) / 1_000_000)
            c.lastLatency = latency
            c.minLatency = min(c.minLatency, latency); c.maxLatency = max(c.maxLatency, latency)
            c.totalLatency += latency; c.latencyCount += 1
            stats.minLatency = min(stats.minLatency, latency); stats.maxLatency = max(stats.maxLatency, latency)
            stats.totalLatency += latency; stats.latencyCount += 1
        }
        c.lastResponseTime = Clock.wallMillis()
        markDirty(c)
    }

    private func notify(_ c: ClientConnection, _ e: WatcherEvent, zxid: Int64 = -1) {
        guard c.state == .connected || c.state == .connecting else { return }
        c.out.writeFrame { b in
            ReplyHeader(xid: SpecialXid.notification, zxid: zxid, err: 0).write(to: &b)
            e.write(to: &b)
        }
        c.packetsSent += 1
        stats.packetsSent += 1
        markDirty(c)
    }

    // MARK: - Output

    private func markDirty(_ c: ClientConnection) {
        if !c.dirty { c.dirty = true; dirty.append(c) }
    }

    private var flushScheduled = false

    /// Flushes once the loop has handled everything it read in this pass: in an ensemble, commits
    /// arrive one message at a time, and their replies should still share one syscall per client.
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

    private func flushAndClose(_ c: ClientConnection) {
        c.state = .closing
        let buf = c.out
        c.out.clear()
        let ch = c.channel
        if buf.readableBytes > 0 {
            ch.writeAndFlush(buf).whenComplete { _ in ch.close(promise: nil) }
        } else {
            ch.close(promise: nil)
        }
    }

    func close(_ c: ClientConnection) {
        flushAndClose(c)
    }

    // MARK: - Timers

    private func expireSessions() {
        if let q = quorum, !(serving && q.isLeader) { return }
        let now = Clock.monotonicMillis()
        for (sid, deadline) in sessionExpiry where deadline < now && !closingSessions.contains(sid) {
            logger.info("Expiring session \(Zxid(sid)), timeout of \(tree.sessions[sid]?.timeout ?? 0)ms exceeded")
            closingSessions.insert(sid)
            propose(.closeSession, session: sid, cxid: 0, origin: .internalRequest)
        }
    }

    private func cleanContainers() {
        if let q = quorum, !(serving && q.isLeader) { return }
        for path in tree.expiredContainersAndTTLs(now: Clock.wallMillis()) {
            propose(.request(.delete(path: path, version: -1, .deleteContainer), auth: [ACLCheck.superId]),
                    session: 0, cxid: 0, origin: .internalRequest)
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

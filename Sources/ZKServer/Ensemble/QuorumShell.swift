import DequeModule
import Logging
import NIOCore
import ZKCore
import ZKProtocol
import ZKQuorum
import ZKStorage

#if canImport(Glibc)
import Glibc
#endif

/// What a learner forwards to the leader, first byte of the opaque payload.
enum ForwardKind: UInt8 {
    /// A client write (a `Txn` with zxid 0) to propose.
    case txn = 1
    /// Sessions whose clients showed activity on the learner since the last report.
    case touches = 2
}

/// The thin shell around the pure `QuorumPeer`: it carries out every `Ready` against the real
/// disk (group-commit log, epoch files, snapshots), the TCP transport and the `ServerCore`.
/// Confined to the core's event loop, like the core itself, so nothing here takes a lock.
final class QuorumShell: WriteOrderer, @unchecked Sendable {
    let loop: any EventLoop
    let core: ServerCore
    let transport: QuorumNetwork
    let config: ServerConfig
    let logger: Logger
    private(set) var peer: QuorumPeer

    private let snapDir: String
    private let logDir: String
    private var writer: TxnLogWriter
    private let box = ShellBox()
    /// Bumped whenever the writer is replaced, so a late callback of an old writer is ignored.
    private var writerGeneration = 0
    private var lastAppended: Int64
    /// Storage batches appended but not yet durable: (last zxid of the batch, its watermark).
    private var pendingBatches = Deque<(last: Int64, watermark: Int64)>()

    private var work = Deque<Ready>()
    private var handling = false
    private var nextForwardId: Int64 = 1
    private var touchedSessions: Set<Int64> = []
    private var servingRole: QuorumRole?
    private var servingEpoch: Int64?
    private var leaderSince: Int64 = 0
    /// Sizes of the proposals this server made as leader, for srvr/mntr.
    private(set) var proposalSizes = (last: -1, min: -1, max: -1)
    /// Syncs asked of this server (as leader or learner) that have not completed.
    private var outstandingSyncs = 0
    /// The membership version once known (/zookeeper/config, conf).
    private(set) var configVersion: Int64?
    /// The committed membership: zoo.cfg's at start, then each applied reconfig's.
    private(set) var membership: [QuorumServerSpec]
    /// Leader: the membership of a reconfig proposed and not yet applied.
    private var proposedMembership: DynamicConfig?

    init(loop: any EventLoop, core: ServerCore, transport: QuorumNetwork, config: ServerConfig,
         persisted: PersistedState, peerConfig: PeerConfig, logger: Logger) throws {
        self.loop = loop
        self.core = core
        self.transport = transport
        self.config = config
        self.logger = logger
        self.snapDir = StorageLayout.versionDirectory(config.dataDir)
        self.logDir = StorageLayout.versionDirectory(config.dataLogDir)
        self.peer = QuorumPeer(config: peerConfig, persisted: persisted)
        self.lastAppended = persisted.log.last?.zxid ?? persisted.appliedZxid
        self.configVersion = config.configVersion
        self.membership = config.servers
        self.writer = try Self.openWriter(logDir, config: config, lastZxid: lastAppended, generation: 0, box: box)
    }

    /// Opens the group-commit writer; its durability callbacks hop onto the loop.
    private static func openWriter(_ dir: String, config: ServerConfig, lastZxid: Int64, generation: Int,
                                   box: ShellBox) throws -> TxnLogWriter {
        try TxnLogWriter(directory: dir, forceSync: config.forceSync, lastZxid: lastZxid,
                                 onDurable: { zxid in box.durable(zxid, generation: generation) },
                                 onFailure: { e in
                                     // Durability is not optional: without a log we must not ack anything.
                                     FileHandleErr.write("zkserver: transaction log failed, stopping: \(e)\n")
                                     exit(3)
                                 })
    }

    /// Wires callbacks and starts ticking. Call on the loop.
    func start() {
        box.shell = self
        transport.onMessage = { [unowned self] from, m in self.handle(self.peer.receive(m, from: from)) }
        transport.onConnectionLost = { [unowned self] id in self.handle(self.peer.connectionLost(to: id)) }
        transport.onGuest = { [unowned self] spec in
            guard config.reconfigEnabled else { return false }
            logger.info("server.\(spec.id) (\(spec.host), not a member) connected: it may sync as a \(spec.role.rawValue) until a reconfig adds it")
            handle(peer.admitGuest(spec.id, observer: spec.role == .observer))
            return true
        }
        core.onReconfigured = { [unowned self] zxid, data in self.membershipCommitted(zxid: zxid, data: data) }
        let tick = TimeAmount.milliseconds(Int64(config.tickTime / Self.subTicks(config.tickTime)))
        loop.scheduleRepeatedTask(initialDelay: .zero, delay: tick) { [unowned self] _ in self.onTick() }
    }

    /// The core counts time in ticks and waits one tick before it settles an election (like
    /// Apache's 200 ms finalizeWait). With tickTime 2000 that would cost seconds per failover, so
    /// the core runs on sub-ticks of about 200 ms and every limit is scaled to keep its wall-clock
    /// meaning (initLimit and syncLimit are still initLimit × tickTime and syncLimit × tickTime).
    static func subTicks(_ tickTime: Int) -> Int { max(1, tickTime / 200) }

    /// The core's configuration for zoo.cfg's limits, in sub-ticks.
    static func peerConfig(myid: Int64, config: ServerConfig) -> PeerConfig {
        let k = subTicks(config.tickTime)
        return PeerConfig(
            myid: myid, participants: Set(config.participants.map(\.id)), observers: Set(config.observers.map(\.id)),
            initLimit: config.initLimit * k, syncLimit: config.syncLimit * k,
            pingInterval: max(1, config.syncLimit * k / 2), electionResendInterval: 2,
            retainedCommittedEntries: 20_000)
    }

    private func onTick() {
        handle(peer.tick())
        // Learners tell the leader which sessions their clients kept alive (Apache does this in
        // its ping replies); only the leader expires sessions.
        if !touchedSessions.isEmpty, peer.role == .following || peer.role == .observing, core.serving {
            var payload: [UInt8] = [ForwardKind.touches.rawValue]
            payload.reserveCapacity(1 + 8 * touchedSessions.count)
            for id in touchedSessions { withUnsafeBytes(of: id.bigEndian) { payload.append(contentsOf: $0) } }
            touchedSessions.removeAll(keepingCapacity: true)
            let id = nextForwardId
            nextForwardId += 1
            handle(peer.forward(id: id, payload: payload).ready)
        }
    }

    // MARK: - WriteOrderer (called by the core)

    func submit(_ txn: Txn) -> Bool {
        guard core.serving else { return false }
        if peer.role == .leading {
            if case .request(.reconfig, _) = txn.body { return orderReconfig(txn) }
            return proposeTxnBytes(txn.bytes)
        }
        var payload: [UInt8] = [ForwardKind.txn.rawValue]
        payload.append(contentsOf: txn.bytes)
        let id = nextForwardId
        nextForwardId += 1
        let (sent, ready) = peer.forward(id: id, payload: payload)
        handle(ready)
        return sent
    }

    private func proposeTxnBytes(_ bytes: [UInt8]) -> Bool {
        let (zxid, ready) = peer.propose(bytes)
        if zxid != nil {
            let n = bytes.count
            proposalSizes.last = n
            proposalSizes.min = proposalSizes.min < 0 ? n : Swift.min(proposalSizes.min, n)
            proposalSizes.max = Swift.max(proposalSizes.max, n)
        }
        handle(ready)
        return zxid != nil
    }

    func sync(id: Int64) -> Bool {
        let (ok, ready) = peer.requestSync(id: id)
        if ok { outstandingSyncs += 1 }
        handle(ready)
        return ok
    }

    var ownsSessions: Bool { core.serving && peer.role == .leading }
    var isEnsemble: Bool { true }

    func touched(session: Int64) {
        if peer.role != .leading { touchedSessions.insert(session) }
    }

    // MARK: - Carrying out Ready

    /// Carries out `ready` and everything it leads to, in order. Re-entrant calls queue behind.
    func handle(_ ready: Ready) {
        if ready.isEmpty && work.isEmpty { updateServing(); return }
        work.append(ready)
        guard !handling else { return }
        handling = true
        defer { handling = false }
        while let r = work.popFirst() { carryOut(r) }
        updateServing()
    }

    private func carryOut(_ r: Ready) {
        // 1. Epochs, durably, before any message that promises them.
        if let e = r.saveEpochs {
            do {
                try EpochFile.write(directory: snapDir, name: EpochFile.accepted, value: e.acceptedEpoch)
                try EpochFile.write(directory: snapDir, name: EpochFile.current, value: e.currentEpoch)
            } catch {
                fatal("cannot write epoch files in \(snapDir): \(error)")
            }
        }
        // 2. Storage. A snapshot install or a truncate rewrites the log: everything queued before
        // must be durable first, then the files change with no writer open.
        var durableNow: [Int64] = []
        if r.installSnapshot != nil || r.truncateAfter != nil {
            do {
                try writer.flushAndWait()
            } catch {
                fatal("transaction log failed: \(error)")
            }
            durableNow = pendingBatches.map(\.watermark)
            pendingBatches.removeAll()
            writer.close()
            do {
                if let snap = r.installSnapshot {
                    let tree: DataTree
                    do {
                        tree = try DataTree(snapshot: snap.data, skipACL: config.skipACL,
                                            extendedTypesEnabled: config.extendedTypesEnabled)
                    } catch {
                        fatal("the leader's snapshot at 0x\(hex(snap.zxid)) does not decode: \(error)")
                    }
                    _ = try SnapshotStore.write(directory: snapDir, zxid: snap.zxid, payload: snap.data)
                    try TxnLog.truncate(logDir: logDir, after: snap.zxid)
                    lastAppended = snap.zxid
                    core.replaceTree(tree)
                    logger.info("installed the leader's snapshot at zxid 0x\(hex(snap.zxid)) (\(tree.nodeCount) znodes)")
                    adoptMembership(of: tree)
                }
                if let t = r.truncateAfter {
                    let removed = try TxnLog.truncate(logDir: logDir, after: t)
                    lastAppended = t
                    logger.info("truncated the log after zxid 0x\(hex(t))\(removed.isEmpty ? "" : ", removed \(removed.count) files")")
                }
                writerGeneration += 1
                writer = try Self.openWriter(logDir, config: config, lastZxid: lastAppended,
                                             generation: writerGeneration, box: box)
            } catch {
                fatal("cannot rewrite the transaction log in \(logDir): \(error)")
            }
        }
        for e in r.persist {
            writer.append(zxid: e.zxid, payload: e.payload)
            lastAppended = e.zxid
        }
        if let wm = r.storageWatermark {
            if let last = r.persist.last {
                pendingBatches.append((last.zxid, wm))
            } else if pendingBatches.isEmpty {
                durableNow.append(wm)
            } else {
                // Nothing new to write: durable when everything before it is.
                pendingBatches.append((lastAppended, wm))
            }
        }
        // 3. Messages.
        for m in r.messages { transport.send(m.message, to: m.to) }
        // 4. Commits, in order.
        if !r.commit.isEmpty {
            var txns: [Txn] = []
            txns.reserveCapacity(r.commit.count)
            for e in r.commit {
                do {
                    var t = try Txn(bytes: e.payload)
                    t.zxid = e.zxid
                    txns.append(t)
                } catch {
                    fatal("committed txn 0x\(hex(e.zxid)) does not decode: \(error)")
                }
            }
            core.applyCommitted(txns)
        }
        // 5. Events.
        for s in r.syncsCompleted {
            outstandingSyncs = Swift.max(0, outstandingSyncs - 1)
            core.syncCompleted(id: s.id)
        }
        for f in r.forwarded { handleForwarded(f) }
        if r.needSnapshot {
            let tree = core.tree
            let data = tree.snapshotBytes()
            logger.info("sending a snapshot at zxid 0x\(hex(tree.lastZxid)) (\(data.count) bytes) to a learner")
            work.append(peer.snapshotReady(zxid: tree.lastZxid, data: data))
        }
        for id in r.disconnect { transport.disconnect(id) }
        if let role = r.roleChanged {
            logger.info("role: \(role.rawValue)\(peer.lastTransitionReason.isEmpty ? "" : " (\(peer.lastTransitionReason))")")
            outstandingSyncs = 0
            proposedMembership = nil
        }
        for wm in durableNow { work.append(peer.persisted(upTo: wm)) }
    }

    private func handleForwarded(_ f: ForwardedRequest) {
        guard let kindByte = f.payload.first, let kind = ForwardKind(rawValue: kindByte) else {
            logger.warning("server \(f.from) forwarded a request of unknown kind; ignored")
            return
        }
        switch kind {
        case .txn:
            let bytes = Array(f.payload.dropFirst())
            if Txn.requestType(of: bytes) == OpCode.reconfig.rawValue {
                guard let txn = try? Txn(bytes: bytes) else {
                    logger.warning("server \(f.from) forwarded a reconfig that does not decode; dropped")
                    return
                }
                _ = orderReconfig(txn)
                return
            }
            if !proposeTxnBytes(bytes) {
                logger.debug("dropped a write forwarded by server \(f.from): not an established leader")
            }
        case .touches:
            var ids: [Int64] = []
            var i = 1
            while i + 8 <= f.payload.count {
                var v: Int64 = 0
                for j in 0..<8 { v = (v << 8) | Int64(f.payload[i + j]) }
                ids.append(v)
                i += 8
            }
            core.touchSessions(ids)
        }
    }

    /// Called on the loop when the log made everything up to `zxid` durable.
    fileprivate func durable(upTo zxid: Int64, generation: Int) {
        guard generation == writerGeneration else { return }
        var marks: [Int64] = []
        while let b = pendingBatches.first, b.last <= zxid {
            pendingBatches.removeFirst()
            marks.append(b.watermark)
        }
        guard !marks.isEmpty else { return }
        for wm in marks { work.append(peer.persisted(upTo: wm)) }
        handle(Ready())
    }

    // MARK: - Reconfig

    /// Leader: decides a client `reconfig` (Apache's checks, `ReconfigPlanner`) and proposes
    /// either the new membership or the refusal, so the answer reaches the client in its turn on
    /// whichever server it is connected to.
    private func orderReconfig(_ txn: Txn) -> Bool {
        guard case .request(.reconfig(let request), let auth) = txn.body else { return proposeTxnBytes(txn.bytes) }
        let st = peer.status
        let current = DynamicConfig(servers: membership, version: configVersion)
        let ctx = ReconfigPlanner.Context(
            reconfigEnabled: config.reconfigEnabled, isEnsemble: true, standaloneEnabled: config.standaloneEnabled,
            skipACL: config.skipACL, current: current,
            lastSeen: peer.reconfigPending ? proposedMembership ?? current : current,
            synced: Set([peer.config.myid] + st.syncedFollowers + st.syncedObservers),
            configACL: core.tree.node(DataTree.configPath)?.acl ?? [], auth: auth)
        var t = txn
        switch ReconfigPlanner.plan(request, ctx) {
        case .failure(let r):
            logger.info("reconfig refused (\(r.code.rawValue)): \(r.message)")
            t.body = .failed(r.code)
            return proposeTxnBytes(t.bytes)
        case .success(let plan):
            guard let version = peer.nextProposalZxid else { return false }
            t.body = .reconfigured(data: Array(plan.configData(version: version).utf8))
            let observers = Set(plan.servers.filter { $0.role == .observer }.map(\.id))
            let (zxid, ready) = peer.proposeReconfig(t.bytes, participants: plan.voters, observers: observers)
            if zxid != nil {
                proposedMembership = DynamicConfig(servers: plan.servers, version: version)
                logger.info("reconfig proposed at 0x\(hex(version)): \(plan.servers.map(\.line).joined(separator: " "))")
            }
            handle(ready)
            return zxid != nil
        }
    }

    /// After a SNAP: a membership change this server missed is in the snapshot's
    /// /zookeeper/config; adopt it as if its reconfig had been applied here.
    private func adoptMembership(of tree: DataTree) {
        guard let node = tree.node(DataTree.configPath), let data = node.data, !data.isEmpty,
              node.stat.mzxid > (configVersion ?? 0) else { return }
        guard let parsed = try? DynamicConfig.parse(text: String(decoding: data, as: UTF8.self), file: DataTree.configPath),
              parsed.version == node.stat.mzxid, parsed.servers.contains(where: { $0.id == peer.config.myid }) else { return }
        // Deferred: the storage step that installs the snapshot must finish first.
        loop.execute { [self] in membershipCommitted(zxid: node.stat.mzxid, data: data) }
    }

    /// A committed reconfig was applied (every server): write the new dynamic config file and
    /// point zoo.cfg at it (each durably, so a restart comes back with the new membership), then
    /// switch the transport and the consensus core to it.
    private func membershipCommitted(zxid: Int64, data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        let next: DynamicConfig
        do {
            next = try DynamicConfig.parse(text: text, file: "/zookeeper/config")
        } catch {
            fatal("committed reconfig 0x\(hex(zxid)) holds a membership that does not parse: \(error)")
        }
        proposedMembership = nil
        if let v = configVersion, zxid <= v {
            // Replayed after a restart: the config files already hold this change or a later one.
            return
        }
        let myid = peer.config.myid
        if !next.servers.contains(where: { $0.id == myid }) && peer.isSyncingLearner {
            // History a joiner replays while it syncs (a change from before it joined): its own
            // membership, the live one plus itself, stays until the reconfig that adds it.
            logger.info("membership 0x\(hex(zxid)) from before this server joined: replayed, not applied")
            return
        }
        membership = next.servers
        configVersion = zxid
        do {
            let cfgPath = config.configFile
            guard let original = _ConfigFiles.read(cfgPath) else { throw StartupError("cannot read \(cfgPath)") }
            let dynPath = absolutePath(config.dynamicConfigFileName(version: zxid))
            try DurableFile.write(dynPath, text: DynamicConfig.renderDynamic(servers: next.servers))
            try DurableFile.write(cfgPath, text: config.staticConfigAfterSplit(originalText: original, dynamicConfigPath: dynPath))
            logger.info("membership 0x\(hex(zxid)) committed: \(next.servers.map { "server.\($0.id)" }.joined(separator: ",")); now in \(dynPath)")
        } catch {
            logger.error("membership 0x\(hex(zxid)) committed but its config files could not be written: \(error)")
        }
        transport.setMembers(next.servers)
        let participants = Set(next.servers.filter { $0.role == .participant }.map(\.id))
        let observers = Set(next.servers.filter { $0.role == .observer }.map(\.id))
        handle(peer.configCommitted(participants: participants, observers: observers))
        if !peer.isMember {
            logger.warning("this server (server.\(peer.config.myid)) was removed from the ensemble: it no longer votes or serves clients")
        }
    }

    // MARK: - Serving

    /// The server serves clients while it leads an established epoch or follows a leader it has
    /// synced with. Every change closes the client connections (see `quorumStateChanged`).
    private func updateServing() {
        let st = peer.status
        let serving = st.isSynced && st.role != .looking
        let role: QuorumRole? = serving ? st.role : nil
        let epoch: Int64? = serving ? st.epoch : nil
        guard role != servingRole || epoch != servingEpoch else { return }
        servingRole = role
        servingEpoch = epoch
        core.quorumStateChanged(serving: serving, leading: role == .leading)
        if serving {
            if role == .leading { leaderSince = Clock.monotonicMillis() }
            logger.info("serving clients as \(role!.rawValue) (epoch \(st.epoch ?? peer.currentEpoch), zxid 0x\(hex(core.tree.lastZxid)))")
            publishMembership(epoch: st.epoch ?? peer.currentEpoch)
        } else {
            logger.info("not serving clients: no synced leader")
        }
    }

    /// Fills /zookeeper/config and, on the first start with reconfigEnabled, moves the server lines
    /// to zoo.cfg.dynamic.<version> as Apache does (version = the first NEWLEADER's zxid).
    private func publishMembership(epoch: Int64) {
        var version = configVersion ?? 0
        if config.reconfigEnabled && config.dynamicConfigFile == nil && configVersion == nil {
            version = Zxid.make(epoch: epoch, counter: 0)
            do {
                try splitConfig(version: version)
                configVersion = version
            } catch {
                logger.error("could not move the membership to a dynamic config file: \(error)")
            }
        }
        // After a reconfig the tree holds the text already (with its own stat); restating it
        // would move mzxid back.
        guard core.tree.lastZxid < version || core.tree.node(DataTree.configPath)?.data?.isEmpty != false else { return }
        let data = DynamicConfig.renderConfigData(servers: membership, version: version)
        core.setConfigData(Array(data.utf8), version: version)
    }

    private func splitConfig(version: Int64) throws {
        let cfgPath = config.configFile
        guard let original = _ConfigFiles.read(cfgPath) else { throw StartupError("cannot read \(cfgPath)") }
        let dynPath = absolutePath(config.dynamicConfigFileName(version: version))
        try DurableFile.write(dynPath, text: DynamicConfig.renderDynamic(servers: config.servers))
        try DurableFile.write(cfgPath + ".bak", text: original)
        try DurableFile.write(cfgPath, text: config.staticConfigAfterSplit(originalText: original, dynamicConfigPath: dynPath))
        logger.info("membership moved to \(dynPath); \(cfgPath) rewritten (old copy in \(cfgPath).bak)")
    }

    // MARK: - Status for four-letter words

    func fill(_ s: inout FourLetterSnapshot) {
        let st = peer.status
        switch st.role {
        case .leading: s.mode = .leader
        case .following: s.mode = .follower
        case .observing: s.mode = .observer
        case .looking: s.mode = .follower
        }
        if !core.serving && config.readOnlyModeEnabled {
            // Cut off from the quorum but answering read-only clients, as Apache's read-only server.
            s.mode = .readOnly
            s.serving = true
        }
        let phase = st.role == .looking ? "" : (st.isSynced ? " - broadcast" : " - synchronization")
        s.peerState = st.role.rawValue + phase
        s.quorumSize = membership.filter { $0.role == .participant }.count
        s.members = membership
        s.configVersion = configVersion ?? 0
        if st.role == .leading {
            var l = FourLetterSnapshot.LeaderStats()
            l.learners = st.syncedFollowers.count + st.syncedObservers.count
            l.syncedFollowers = st.syncedFollowers.count
            l.syncedObservers = st.syncedObservers.count
            l.pendingSyncs = outstandingSyncs
            l.lastProposalSize = proposalSizes.last
            l.minProposalSize = proposalSizes.min
            l.maxProposalSize = proposalSizes.max
            l.leaderUptimeMillis = servingRole == .leading ? Clock.monotonicMillis() - leaderSince : 0
            s.leader = l
        }
    }

    private func fatal(_ message: String) -> Never {
        logger.critical("\(message)")
        FileHandleErr.write("zkserver: \(message)\n")
        exit(3)
    }
}

/// Lets the writer thread reach the shell on its loop without a strong cycle.
final class ShellBox: @unchecked Sendable {
    weak var shell: QuorumShell?
    func durable(_ zxid: Int64, generation: Int) {
        guard let s = shell else { return }
        s.loop.execute { [weak s] in s?.durable(upTo: zxid, generation: generation) }
    }
}

enum FileHandleErr {
    static func write(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}


func absolutePath(_ p: String) -> String {
    if p.hasPrefix("/") { return p }
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, buf.count) != nil else { return p }
    let cwd = String(cString: buf)
    return cwd + "/" + (p.hasPrefix("./") ? String(p.dropFirst(2)) : p)
}

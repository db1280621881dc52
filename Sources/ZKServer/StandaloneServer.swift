import Logging
import NIOCore
import ZKCore
import ZKProtocol
import ZKStorage

#if canImport(Glibc)
import Glibc
#endif

/// The version string reported by `--version`, srvr, mntr and envi.
public enum ZKServerVersion {
    public static let version = "0.1.0"
    /// The line four-letter words print; kept in Apache's shape so parsers (zkServer.sh, zktop) work.
    public static let full = "3.8.0-zkserver-\(version), built on swift"
}

/// A server error that stops start-up with a message for the operator.
public struct StartupError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// zkserver in standalone mode: recovery, the durable log, snapshots, autopurge and the client port.
public final class StandaloneServer: Sendable {
    public let config: ServerConfig
    public let listener: ClientListener
    let log: DiskTxnLog
    let snapshotter: BackgroundSnapshotter
    let logger: Logger

    /// Txns since the last snapshot; touched only on the server loop.
    final class SnapCounter: @unchecked Sendable {
        var sinceLast = 0
        var threshold: Int
        init(threshold: Int) { self.threshold = threshold }
    }

    public var snapshotDirectory: String { StorageLayout.versionDirectory(config.dataDir) }
    public var logDirectory: String { StorageLayout.versionDirectory(config.dataLogDir) }

    public static func settings(from c: ServerConfig) -> CoreSettings {
        var s = CoreSettings()
        s.myid = c.myid ?? 0
        s.tickTime = c.tickTime
        s.minSessionTimeout = c.minSessionTimeout
        s.maxSessionTimeout = c.maxSessionTimeout
        s.maxClientCnxns = c.maxClientCnxns
        s.skipACL = c.skipACL
        s.extendedTypesEnabled = c.extendedTypesEnabled
        s.superDigest = c.superDigest
        s.juteMaxBuffer = c.juteMaxBuffer
        s.reconfigEnabled = c.reconfigEnabled
        s.containerCheckIntervalMs = c.containerCheckIntervalMs
        s.readOnlyModeEnabled = c.readOnlyModeEnabled
        return s
    }

    /// Recovers the tree from dataDir (newest valid snapshot + the log after it).
    public static func recover(config: ServerConfig, logger: Logger) throws -> DataTree {
        let snapDir = StorageLayout.versionDirectory(config.dataDir)
        let logDir = StorageLayout.versionDirectory(config.dataLogDir)
        let state = try Recovery.recover(snapshotDir: snapDir, logDir: logDir, warn: { logger.warning("\($0)") })
        var tree = try treeFromSnapshot(state.snapshot, config: config)
        for record in state.records where record.zxid > tree.lastZxid {
            let txn: Txn
            do { txn = try Txn(bytes: record.payload) } catch {
                throw StartupError("log record 0x\(String(record.zxid, radix: 16)) in \(logDir) does not decode: \(error)")
            }
            _ = tree.apply(txn)
        }
        logger.info("recovered \(tree.nodeCount) znodes and \(tree.sessions.count) sessions up to zxid 0x\(String(tree.lastZxid, radix: 16))")
        return tree
    }

    /// The tree a recovered snapshot holds (an empty tree when there is none).
    static func treeFromSnapshot(_ snap: StoredSnapshot?, config: ServerConfig) throws -> DataTree {
        guard let snap else {
            return DataTree(skipACL: config.skipACL, extendedTypesEnabled: config.extendedTypesEnabled)
        }
        do {
            return try DataTree(snapshot: snap.payload, skipACL: config.skipACL,
                                extendedTypesEnabled: config.extendedTypesEnabled)
        } catch {
            let dir = StorageLayout.versionDirectory(config.dataDir)
            throw StartupError("snapshot 0x\(String(UInt64(bitPattern: snap.zxid), radix: 16)) in \(dir) does not decode: \(error)")
        }
    }

    /// An empty data dir gets a first snapshot, as Apache writes snapshot.0 at first start.
    static func writeFirstSnapshot(_ tree: DataTree, directory: String) throws {
        if tree.lastZxid == 0, (try? SnapshotStore.snapshotFiles(in: directory).isEmpty) ?? true {
            try SnapshotStore.write(directory: directory, zxid: 0, payload: tree.snapshotBytes())
        }
    }

    /// The background snapshot writer, logging each result.
    static func makeSnapshotter(directory: String, logger: Logger) -> BackgroundSnapshotter {
        BackgroundSnapshotter(directory: directory, onComplete: { r in
            switch r {
            case .success(let f): logger.info("snapshot written: \(f.path)")
            case .failure(let e): logger.error("snapshot failed: \(e)")
            }
        })
    }

    static func randomizedSnapCount(_ snapCount: Int) -> Int {
        // Apache: snapCount/2 + random(snapCount/2), so servers in an ensemble do not snap together.
        let half = max(1, snapCount / 2)
        return half + Int.random(in: 0..<half)
    }

    public init(config: ServerConfig, logger: Logger) async throws {
        self.config = config
        self.logger = logger
        let tree = try Self.recover(config: config, logger: logger)
        let logDir = StorageLayout.versionDirectory(config.dataLogDir)
        let snapDir = StorageLayout.versionDirectory(config.dataDir)
        let log = try DiskTxnLog(directory: logDir, forceSync: config.forceSync, lastZxid: tree.lastZxid,
                                 onFailure: { e in
                                     logger.critical("transaction log failed, stopping: \(e)")
                                     exit(3)
                                 })
        self.log = log
        let snapshotter = Self.makeSnapshotter(directory: snapDir, logger: logger)
        self.snapshotter = snapshotter
        try Self.writeFirstSnapshot(tree, directory: snapDir)
        guard let port = config.clientListenPort else {
            throw StartupError("\(config.configFile): clientPort is not set")
        }
        let whitelist = config.fourLetterWhitelist
        let cfg = config
        self.listener = try await ClientListener(
            host: config.clientListenHost, port: port, settings: Self.settings(from: config), tree: tree, log: log,
            logger: logger, fourLetter: { FourLetterBridge.isFourLetterWord($0) },
            render: { core, word, cid in FourLetterBridge.render(word, core: core, connection: cid, config: cfg, whitelist: whitelist) })
        let core = listener.core
        try await core.loop.submit {
            Self.installMaintenance(core: core, config: cfg, snapshotter: snapshotter, logger: logger)
        }.get()
        logger.info("zkserver \(ZKServerVersion.version) standalone, serving clients on \(config.clientListenHost):\(listener.localPort ?? port)")
    }

    /// Periodic snapshots (every snapCount/2 + random(snapCount/2) applied txns) and autopurge.
    /// Call on the core's loop.
    static func installMaintenance(core: ServerCore, config: ServerConfig, snapshotter: BackgroundSnapshotter,
                                   logger: Logger) {
        let counter = SnapCounter(threshold: randomizedSnapCount(config.snapCount))
        let snapCount = config.snapCount
        core.onApplied = { core, n in
            counter.sinceLast += n
            guard counter.sinceLast >= counter.threshold else { return }
            counter.sinceLast = 0
            counter.threshold = randomizedSnapCount(snapCount)
            // The tree is a value: this copy is O(1) and serializes on the snapshot thread while
            // the loop goes on applying writes.
            let copy = core.tree
            if !snapshotter.start(zxid: copy.lastZxid, payload: { copy.snapshotBytes() }) {
                logger.warning("Too busy to snap, skipping")
            }
        }
        if config.purgeInterval > 0 {
            let hours = Int64(config.purgeInterval)
            let retain = max(3, config.snapRetainCount)
            let snapDir = StorageLayout.versionDirectory(config.dataDir)
            let logDir = StorageLayout.versionDirectory(config.dataLogDir)
            core.loop.scheduleRepeatedTask(initialDelay: .hours(hours), delay: .hours(hours)) { _ in
                do {
                    let removed = try Purge.purge(snapshotDir: snapDir, logDir: logDir, retain: retain)
                    logger.info("autopurge removed \(removed.count) files")
                } catch {
                    logger.error("autopurge failed: \(error)")
                }
            }
        }
    }

    public func run() async throws {
        try await listener.channel.closeFuture.get()
    }

    public func shutdown() async throws {
        try await listener.close()
        log.close()
        snapshotter.waitUntilIdle()
    }
}

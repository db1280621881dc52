#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import ZKCore
import ZKProtocol
import ZKStorage

/// zkserver in standalone mode: recovery, the durable log, snapshots, autopurge and the client port.
public final class StandaloneServer: Sendable {
    public let config: ServerConfig
    public let listener: ClientListener
    let log: DiskTxnLog
    let snapshotter: BackgroundSnapshotter
    let logger: Logger

    public var snapshotDirectory: String { StorageLayout.versionDirectory(config.dataDir) }
    public var logDirectory: String { StorageLayout.versionDirectory(config.dataLogDir) }

    /// Recovers the tree from dataDir (newest valid snapshot + the log after it).
    public static func recover(config: ServerConfig, logger: Logger) throws -> DataTree {
        let state = try ServerStartup.recoverFiles(config, logger: logger)
        var tree = try ServerStartup.treeFromSnapshot(state.snapshot, config: config)
        for record in state.records where record.zxid > tree.lastZxid {
            let txn: Txn
            do { txn = try Txn(bytes: record.payload) } catch {
                throw StartupError("log record \(Zxid(record.zxid)) in \(StorageLayout.versionDirectory(config.dataLogDir)) does not decode: \(error)")
            }
            _ = tree.apply(txn)
        }
        logger.info("recovered \(tree.nodeCount) znodes and \(tree.sessions.count) sessions up to zxid \(Zxid(tree.lastZxid))")
        return tree
    }

    public init(config: ServerConfig, logger: Logger) async throws {
        self.config = config
        self.logger = logger
        let tree = try Self.recover(config: config, logger: logger)
        let log = try DiskTxnLog(directory: StorageLayout.versionDirectory(config.dataLogDir), forceSync: config.forceSync,
                                 lastZxid: tree.lastZxid, onFailure: { e in
                                     logger.critical("transaction log failed, stopping: \(e)")
                                     exit(3)
                                 })
        self.log = log
        let snapshotter = ServerStartup.makeSnapshotter(config, logger: logger)
        self.snapshotter = snapshotter
        try ServerStartup.writeFirstSnapshot(tree, config: config)
        guard let port = config.clientListenPort else {
            throw StartupError("\(config.configFile): clientPort is not set")
        }
        let cfg = config
        self.listener = try await ServerStartup.listen(config: config, port: port, tree: tree, logger: logger) { core in
            ServerStartup.installMaintenance(core: core, config: cfg, snapshotter: snapshotter, logger: logger)
            return StandaloneOrderer(core: core, log: log)
        }
        logger.info("zkserver \(ZKServerVersion.version) standalone, serving clients on \(config.clientListenHost):\(listener.localPort ?? port)")
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

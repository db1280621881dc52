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

/// Start-up shared by the standalone and the ensemble server: settings, recovery, the first
/// snapshot, the snapshotter and the periodic maintenance.
enum ServerStartup {
    static func settings(from c: ServerConfig) -> CoreSettings {
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

    /// The newest valid snapshot and the log records after it, from dataDir / dataLogDir.
    static func recoverFiles(_ config: ServerConfig, logger: Logger) throws -> RecoveredState {
        try Recovery.recover(snapshotDir: StorageLayout.versionDirectory(config.dataDir),
                             logDir: StorageLayout.versionDirectory(config.dataLogDir),
                             warn: { logger.warning("\($0)") })
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
            throw StartupError("snapshot \(Zxid(snap.zxid)) in \(dir) does not decode: \(error)")
        }
    }

    /// An empty data dir gets a first snapshot, as Apache writes snapshot.0 at first start.
    static func writeFirstSnapshot(_ tree: DataTree, config: ServerConfig) throws {
        let directory = StorageLayout.versionDirectory(config.dataDir)
        if tree.lastZxid == 0, (try? SnapshotStore.snapshotFiles(in: directory).isEmpty) ?? true {
            try SnapshotStore.write(directory: directory, zxid: 0, payload: tree.snapshotBytes())
        }
    }

    /// The background snapshot writer, logging each result.
    static func makeSnapshotter(_ config: ServerConfig, logger: Logger) -> BackgroundSnapshotter {
        BackgroundSnapshotter(directory: StorageLayout.versionDirectory(config.dataDir), onComplete: { r in
            switch r {
            case .success(let f): logger.info("snapshot written: \(f.path)")
            case .failure(let e): logger.error("snapshot failed: \(e)")
            }
        })
    }

    /// Apache's snapshot spacing: snapCount/2 + random(snapCount/2), so servers of an ensemble do
    /// not snap together.
    static func randomizedSnapCount(_ snapCount: Int) -> Int {
        let half = max(1, snapCount / 2)
        return half + Int.random(in: 0..<half)
    }

    /// Txns since the last snapshot; touched only on the server loop.
    final class SnapCounter: @unchecked Sendable {
        var sinceLast = 0
        var threshold: Int
        init(threshold: Int) { self.threshold = threshold }
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

    /// The client port listener around a core, with four-letter words wired to `config`.
    static func listen(config: ServerConfig, port: Int, tree: DataTree, logger: Logger,
                       makeOrderer: @escaping @Sendable (ServerCore) throws -> any WriteOrderer) async throws -> ClientListener {
        let whitelist = config.fourLetterWhitelist
        return try await ClientListener(
            host: config.clientListenHost, port: port, settings: settings(from: config), tree: tree, logger: logger,
            fourLetter: { FourLetterBridge.isFourLetterWord($0) },
            render: { core, word, cid in FourLetterBridge.render(word, core: core, connection: cid, config: config, whitelist: whitelist) },
            makeOrderer: makeOrderer)
    }
}

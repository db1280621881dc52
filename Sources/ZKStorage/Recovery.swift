/// What recovery found: the snapshot to load and the log records to replay on top of it.
public struct RecoveredState: Sendable, Equatable {
    /// The newest valid snapshot, or nil if there is none (replay from an empty tree).
    public var snapshot: StoredSnapshot?
    /// Every log record with zxid above the snapshot's, in order.
    public var records: [LogRecord]
    /// The highest zxid in the recovered state (last record, else snapshot), or nil if empty.
    public var lastZxid: Int64? { records.last?.zxid ?? snapshot?.zxid }
}

/// Startup recovery.
public enum Recovery {
    /// Loads the newest valid snapshot and the log records after it, repairing a torn log tail.
    ///
    /// - A corrupt newest snapshot falls back to an older valid one with a warning; if no snapshot
    ///   validates, `.corruptSnapshot` is thrown.
    /// - A torn tail (damaged bytes at the very end of the log, followed only by zeros or EOF) is
    ///   truncated with a warning; trailing log files with no records are deleted.
    /// - Damage anywhere else throws `.corruptLog` naming the file and offset; nothing is changed.
    /// - Leftover `snapshot.*.tmp` files are deleted.
    ///
    /// `snapshotDir` and `logDir` are the `version-2` directories (see `StorageLayout`); missing
    /// directories are empty. Afterwards open a `TxnLogWriter` with
    /// `lastZxid: state.lastZxid ?? .min`; its first append starts a new log file, as Apache does
    /// on restart.
    public static func recover(snapshotDir: String, logDir: String,
                               warn: (String) -> Void = { _ in }) throws -> RecoveredState {
        for p in try SnapshotStore.removeTemporaryFiles(in: snapshotDir) {
            warn("deleted unfinished snapshot \(p)")
        }
        let snapshot = try SnapshotStore.latestValid(in: snapshotDir, warn: warn)
        let records = try TxnLogReader.scanDirectory(logDir, after: snapshot?.zxid ?? .min, repair: true, warn: warn)
        if let snap = snapshot, let first = records.first,
           first.zxid >> 32 == snap.zxid >> 32, first.zxid > snap.zxid + 1 {
            warn("txn log resumes at 0x\(StorageLayout.hex(first.zxid)) but the snapshot is at 0x\(StorageLayout.hex(snap.zxid)): txns in between are missing")
        }
        return RecoveredState(snapshot: snapshot, records: records)
    }
}

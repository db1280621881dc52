/// Deletes old snapshots and the log files only they needed (Apache's autopurge).
public enum Purge {
    /// Keeps the newest `retain` snapshots (at least 3, Apache's `autopurge.snapRetainCount`
    /// minimum) and every log file needed to replay from the oldest kept one: the newest log file
    /// starting at or below that snapshot's zxid and all later files. Deletes older snapshots and
    /// log files and returns their paths. With no snapshot nothing is deleted (the log is the
    /// only copy of the state).
    ///
    /// Which snapshots count is decided by a cheap header-and-size check, as Apache does; files
    /// failing it are not counted toward `retain` (but are not deleted if newer than the oldest
    /// kept snapshot). Safe to run while a writer is appending: the newest log file is never
    /// deleted and a log file needed by a kept snapshot is never deleted.
    public static func purge(snapshotDir: String, logDir: String, retain: Int) throws -> [String] {
        guard retain >= 3 else {
            throw StorageError(.invalidArgument, "retain must be at least 3, got \(retain)")
        }
        let snaps = try SnapshotStore.snapshotFiles(in: snapshotDir)
        let valid = snaps.reversed().filter { SnapshotStore.looksValid($0.path, nameZxid: $0.zxid) }
        guard let oldestKept = valid.prefix(retain).last else { return [] }
        var deleted: [String] = []
        for s in snaps where s.zxid < oldestKept.zxid {
            try FS.remove(s.path)
            deleted.append(s.path)
        }
        let deletedSnapshots = deleted.count
        let logs = try FS.zxidFiles(logDir, prefix: "log.")
        if let needed = logs.last(where: { $0.zxid <= oldestKept.zxid }) {
            for l in logs where l.zxid < needed.zxid {
                try FS.remove(l.path)
                deleted.append(l.path)
            }
        }
        if deletedSnapshots > 0 { try FS.fsyncDirectory(snapshotDir) }
        if deleted.count > deletedSnapshots { try FS.fsyncDirectory(logDir) }
        return deleted
    }
}

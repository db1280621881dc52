/// Reads the transaction log directory.
public enum TxnLogReader {
    /// A log file and the zxid it is named for (its first record).
    public struct LogFile: Sendable, Equatable {
        public var firstZxid: Int64
        public var path: String
    }

    /// The `log.<hex>` files in `directory`, oldest first. A missing directory has none.
    public static func logFiles(in directory: String) throws -> [LogFile] {
        try FS.zxidFiles(directory, prefix: "log.").map { LogFile(firstZxid: $0.zxid, path: $0.path) }
    }

    /// All records with zxid greater than `zxid`, in order.
    ///
    /// Read-only: a torn tail at the end of the log is reported through `warn` and reading stops
    /// there (`Recovery` also truncates it). Damage followed by valid records throws
    /// `StorageError(.corruptLog)` naming the file and byte offset.
    public static func records(in directory: String, after zxid: Int64 = .min,
                               warn: (String) -> Void = { _ in }) throws -> [LogRecord] {
        try scanDirectory(directory, after: zxid, repair: false, warn: warn)
    }

    /// Scans the log from the file that may hold `after + 1` to the end.
    ///
    /// A damaged tail is a torn write only when nothing after it holds a record: no valid record
    /// later in the same file and no later file with records. With `repair` the torn bytes are cut
    /// off (file truncated and fsynced) and trailing files without records are deleted, so the
    /// next writer starts on a clean end.
    static func scanDirectory(_ directory: String, after: Int64, repair: Bool,
                              warn: (String) -> Void) throws -> [LogRecord] {
        let files = try FS.zxidFiles(directory, prefix: "log.")
        guard !files.isEmpty else { return [] }
        // The newest file starting at or below `after` may hold records above it.
        var start = 0
        for (i, f) in files.enumerated() where f.zxid <= after { start = i }
        var out: [LogRecord] = []
        var lastZxid: Int64?
        var recordless: [String] = []  // trailing files without records
        var i = start
        while i < files.count {
            let f = files[i]
            let scan = try LogScanner.scan(path: f.path, nameZxid: f.zxid, after: after, collect: true)
            if let first = scan.firstZxid, let last = lastZxid, first <= last {
                throw StorageError(.corruptLog, "file starts at zxid 0x\(StorageLayout.hex(first)) but an earlier file reaches 0x\(StorageLayout.hex(last))",
                                   file: f.path, offset: Int64(LogFormat.fileHeaderSize))
            }
            out.append(contentsOf: scan.records)
            if scan.recordCount > 0 { recordless.removeAll() }
            lastZxid = scan.lastZxid ?? lastZxid
            if let damage = scan.damage {
                var later: [String] = []
                for g in files[(i + 1)...] {
                    let ls = try LogScanner.scan(path: g.path, nameZxid: g.zxid, after: .max, collect: false)
                    if ls.recordCount > 0 {
                        throw StorageError(.corruptLog, "\(damage.reason), and the later file \(g.path) holds records",
                                           file: f.path, offset: Int64(damage.offset))
                    }
                    later.append(g.path)
                }
                warn("txn log \(f.path): torn tail at offset \(damage.offset) (\(damage.reason)); "
                     + (repair ? "truncating \(scan.size - damage.offset) bytes" : "ignoring the rest of the file"))
                if repair {
                    try FS.truncate(f.path, to: Int64(damage.offset))
                    if scan.recordCount == 0 { recordless.append(f.path) }
                    recordless.append(contentsOf: later)
                }
                break
            }
            if scan.recordCount == 0 { recordless.append(f.path) }
            i += 1
        }
        if repair && !recordless.isEmpty {
            for p in recordless {
                warn("txn log \(p): holds no records at the end of the log; deleting it")
                try FS.remove(p)
            }
            try FS.fsyncDirectory(directory)
        }
        return out
    }
}

/// Operations on the log directory as a whole. None of them may run while a `TxnLogWriter`
/// is open on the same directory.
public enum TxnLog {
    /// Removes every record with zxid greater than `zxid` (the consensus layer's TRUNC):
    /// later files are deleted newest first, then the file holding `zxid` is cut after it, so a
    /// crash midway leaves a prefix of the log. Returns the deleted files.
    @discardableResult
    public static func truncate(logDir: String, after zxid: Int64) throws -> [String] {
        let files = try FS.zxidFiles(logDir, prefix: "log.")
        var deleted: [String] = []
        for f in files.reversed() where f.zxid > zxid {
            try FS.remove(f.path)
            deleted.append(f.path)
        }
        if let f = files.last(where: { $0.zxid <= zxid }) {
            let scan = try LogScanner.scan(path: f.path, nameZxid: f.zxid, after: zxid, collect: false)
            let cut = scan.firstOffsetAfter ?? scan.validEnd
            if cut < scan.size { try FS.truncate(f.path, to: Int64(cut)) }
        }
        if !files.isEmpty { try FS.fsyncDirectory(logDir) }
        return deleted
    }

    /// The zxid of the last valid record in the log, or nil if it holds none. Reads only the
    /// newest files, back to the first that holds a record.
    public static func lastZxid(in logDir: String) throws -> Int64? {
        let files = try FS.zxidFiles(logDir, prefix: "log.")
        for f in files.reversed() {
            let scan = try LogScanner.scan(path: f.path, nameZxid: f.zxid, after: .max, collect: false)
            if let last = scan.lastZxid { return last }
        }
        return nil
    }
}

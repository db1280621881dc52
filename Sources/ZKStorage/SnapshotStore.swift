#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A snapshot read back from disk: the state after applying every txn up to `zxid`.
public struct StoredSnapshot: Sendable, Equatable {
    public var zxid: Int64
    public var payload: [UInt8]
    public init(zxid: Int64, payload: [UInt8]) {
        self.zxid = zxid
        self.payload = payload
    }
}

/// Snapshot files: `snapshot.<hex zxid>`.
///
/// ```
/// header (24 bytes): magic "ZSSN" | version u32 = 1 | zxid i64 | payload length u64
/// payload
/// trailer (4 bytes): crc32c over header and payload
/// ```
/// Big-endian. A snapshot is written to `snapshot.<hex>.tmp`, fsynced, renamed into place and the
/// directory fsynced, so a visible `snapshot.*` file was complete when written.
public enum SnapshotStore {
    static let magic: UInt32 = 0x5A53_534E  // "ZSSN"
    static let version: UInt32 = 1
    static let headerSize = 24
    static let trailerSize = 4

    /// A snapshot file on disk.
    public struct SnapshotFile: Sendable, Equatable {
        public var zxid: Int64
        public var path: String
    }

    /// Writes a snapshot durably (unless `sync` is false) and returns its path.
    @discardableResult
    public static func write(directory: String, zxid: Int64, payload: [UInt8], sync: Bool = true) throws -> String {
        try FS.makeDirectories(directory)
        var header: [UInt8] = []
        header.appendBE(magic)
        header.appendBE(version)
        header.appendBE(zxid)
        header.appendBE(Int64(payload.count))
        let crc = CRC32C.checksum(payload, continuing: CRC32C.checksum(header))
        var trailer: [UInt8] = []
        trailer.appendBE(crc)

        let path = directory + "/" + StorageLayout.snapshotFileName(zxid)
        let tmp = path + ".tmp"
        let fd = try FS.open(tmp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try header.withUnsafeBytes { try FS.pwriteAll(fd, $0, at: 0, path: tmp) }
            try payload.withUnsafeBytes { try FS.pwriteAll(fd, $0, at: Int64(headerSize), path: tmp) }
            try trailer.withUnsafeBytes { try FS.pwriteAll(fd, $0, at: Int64(headerSize + payload.count), path: tmp) }
            if sync { try FS.fsyncFile(fd, path: tmp, dataOnly: false) }
        } catch {
            _ = close(fd)
            try? FS.remove(tmp)
            throw error
        }
        _ = close(fd)
        guard rename(tmp, path) == 0 else {
            let e = FS.error("rename", tmp)
            try? FS.remove(tmp)
            throw e
        }
        if sync { try FS.fsyncDirectory(directory) }
        return path
    }

    /// The snapshot files in `directory`, oldest first (temporary files excluded).
    public static func snapshotFiles(in directory: String) throws -> [SnapshotFile] {
        try FS.zxidFiles(directory, prefix: "snapshot.").map { SnapshotFile(zxid: $0.zxid, path: $0.path) }
    }

    /// Reads and fully validates one snapshot file (magic, version, zxid matching the name,
    /// length, checksum). Damage throws `.corruptSnapshot` with the offset of the bad field.
    public static func read(path: String) throws -> StoredSnapshot {
        // Read the payload straight into its final array: snapshots can be large.
        let fd = try FS.open(path, O_RDONLY)
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FS.error("fstat", path) }
        let fileSize = Int(st.st_size)
        let nameZxid = StorageLayout.zxid(fromFileName: (path as NSString).lastPathComponent, prefix: "snapshot.")
        let header = try preadExactly(fd, min(headerSize, fileSize), at: 0, path: path)
        let (zxid, length) = try header.withUnsafeBytes {
            try validateHeader($0, fileSize: fileSize, path: path, nameZxid: nameZxid)
        }
        let payload = try preadExactly(fd, length, at: headerSize, path: path)
        let trailer = try preadExactly(fd, trailerSize, at: headerSize + length, path: path)
        let stored = trailer.withUnsafeBytes { $0.be32(0) }
        let actual = CRC32C.checksum(payload, continuing: CRC32C.checksum(header))
        guard stored == actual else {
            throw StorageError(.corruptSnapshot,
                               "checksum mismatch (stored \(String(stored, radix: 16)), computed \(String(actual, radix: 16)))",
                               file: path, offset: Int64(headerSize + length))
        }
        return StoredSnapshot(zxid: zxid, payload: payload)
    }

    private static func preadExactly(_ fd: Int32, _ count: Int, at offset: Int, path: String) throws -> [UInt8] {
        if count == 0 { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            initialized = 0
            var done = 0
            while done < count {
                let n = pread(fd, buf.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FS.error("read", path)
                }
                if n == 0 {
                    throw StorageError(.corruptSnapshot, "file ends early", file: path, offset: Int64(offset + done))
                }
                done += n
            }
            initialized = count
        }
    }

    /// Checks the header fields against the file size; returns (zxid, payload length).
    static func validateHeader(_ b: UnsafeRawBufferPointer, fileSize: Int, path: String,
                               nameZxid: Int64?) throws -> (Int64, Int) {
        guard b.count >= headerSize else {
            throw StorageError(.corruptSnapshot, "file of \(fileSize) bytes is shorter than the header", file: path, offset: 0)
        }
        guard b.be32(0) == magic else {
            throw StorageError(.corruptSnapshot, "bad magic, not a snapshot file", file: path, offset: 0)
        }
        guard b.be32(4) == version else {
            throw StorageError(.unsupportedVersion, "snapshot format version \(b.be32(4)), expected \(version)", file: path, offset: 4)
        }
        let zxid = b.be64(8)
        if let nameZxid, nameZxid != zxid {
            throw StorageError(.corruptSnapshot, "header zxid 0x\(StorageLayout.hex(zxid)) does not match the file name",
                               file: path, offset: 8)
        }
        let length = b.be64(16)
        guard length >= 0, length == Int64(fileSize) - Int64(headerSize + trailerSize) else {
            throw StorageError(.corruptSnapshot, "header says \(length) payload bytes but the file has \(fileSize) bytes",
                               file: path, offset: 16)
        }
        return (zxid, Int(length))
    }

    /// Cheap check used by purge: header and size are right (the checksum is not read).
    static func looksValid(_ path: String, nameZxid: Int64) -> Bool {
        guard let fd = try? FS.open(path, O_RDONLY) else { return false }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        var header = [UInt8](repeating: 0, count: headerSize)
        let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, headerSize, 0) }
        guard n == headerSize else { return false }
        return (try? header.withUnsafeBytes {
            try validateHeader($0, fileSize: Int(st.st_size), path: path, nameZxid: nameZxid)
        }) != nil
    }

    /// The newest snapshot that validates.
    ///
    /// A corrupt newer snapshot is skipped with a warning when an older one validates. If
    /// snapshots exist but none validates, the error of the newest is thrown: starting from an
    /// empty tree would silently lose data. Returns nil only when there are no snapshot files.
    public static func latestValid(in directory: String, warn: (String) -> Void = { _ in }) throws -> StoredSnapshot? {
        var firstError: StorageError?
        for f in try snapshotFiles(in: directory).reversed() {
            do {
                let s = try read(path: f.path)
                if firstError != nil {
                    warn("using older snapshot \(f.path) (zxid 0x\(StorageLayout.hex(s.zxid))) instead")
                }
                return s
            } catch let e as StorageError where e.kind == .corruptSnapshot {
                warn("snapshot is invalid, trying an older one: \(e)")
                if firstError == nil { firstError = e }
            }
        }
        if var e = firstError {
            e.message = "no valid snapshot; newest: " + e.message
            throw e
        }
        return nil
    }

    /// Deletes `snapshot.*.tmp` files left by a crash mid-write. Only call this when no
    /// snapshot is being written (at startup). Returns the deleted paths.
    @discardableResult
    public static func removeTemporaryFiles(in directory: String) throws -> [String] {
        var removed: [String] = []
        for name in try FS.list(directory) where name.hasPrefix("snapshot.") && name.hasSuffix(".tmp") {
            try FS.remove(directory + "/" + name)
            removed.append(directory + "/" + name)
        }
        if !removed.isEmpty { try FS.fsyncDirectory(directory) }
        return removed
    }
}

/// Writes snapshots on a background thread so client traffic does not stop.
///
/// At most one snapshot is in flight: `start` returns false while one is being written (Apache
/// logs "Too busy to snap, skipping" in the same situation). The payload closure runs on the
/// background thread, so the caller can capture an immutable (copy-on-write) value of its data
/// tree and serialize it there.
public final class BackgroundSnapshotter: @unchecked Sendable {
    /// The snapshot directory.
    public let directory: String
    private let sync: Bool
    private let onComplete: @Sendable (Result<SnapshotStore.SnapshotFile, StorageError>) -> Void
    private let condition = NSCondition()
    private var busy = false

    /// - Parameter onComplete: called on the background thread after each snapshot attempt.
    public init(directory: String, sync: Bool = true,
                onComplete: @escaping @Sendable (Result<SnapshotStore.SnapshotFile, StorageError>) -> Void = { _ in }) {
        self.directory = directory
        self.sync = sync
        self.onComplete = onComplete
    }

    /// Starts writing the snapshot for `zxid` with the bytes `payload()` produces.
    /// Returns false (and does nothing) if a snapshot is already being written.
    @discardableResult
    public func start(zxid: Int64, payload: @escaping @Sendable () -> [UInt8]) -> Bool {
        condition.lock()
        if busy {
            condition.unlock()
            return false
        }
        busy = true
        condition.unlock()
        let thread = Thread { [self] in
            let result: Result<SnapshotStore.SnapshotFile, StorageError>
            do {
                let path = try SnapshotStore.write(directory: directory, zxid: zxid, payload: payload(), sync: sync)
                result = .success(.init(zxid: zxid, path: path))
            } catch {
                result = .failure(error as? StorageError ?? StorageError(.io, "\(error)"))
            }
            onComplete(result)
            condition.lock()
            busy = false
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "zk-snapshot"
        thread.start()
        return true
    }

    /// Whether a snapshot is being written.
    public var isBusy: Bool {
        condition.lock(); defer { condition.unlock() }
        return busy
    }

    /// Blocks until no snapshot is being written.
    public func waitUntilIdle() {
        condition.lock()
        while busy { condition.wait() }
        condition.unlock()
    }
}

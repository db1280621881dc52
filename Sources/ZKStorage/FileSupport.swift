#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Directory layout helpers. Apache ZooKeeper keeps both logs and snapshots in a `version-2`
/// subdirectory of `dataLogDir` / `dataDir`; every API in this module takes that inner directory.
public enum StorageLayout {
    /// `<base>/version-2`, the directory Apache uses for files of format version 2.
    public static func versionDirectory(_ base: String) -> String {
        base.hasSuffix("/") ? base + "version-2" : base + "/version-2"
    }

    /// `log.<hex zxid>` (lowercase hex, no `0x`), the name of the log file whose first record is `zxid`.
    public static func logFileName(_ zxid: Int64) -> String { "log." + hex(zxid) }

    /// `snapshot.<hex zxid>`, the name of the snapshot of the state after applying `zxid`.
    public static func snapshotFileName(_ zxid: Int64) -> String { "snapshot." + hex(zxid) }

    /// The zxid encoded in a file name such as `log.1a` for the given prefix (`"log."`), or nil.
    public static func zxid(fromFileName name: String, prefix: String) -> Int64? {
        guard name.hasPrefix(prefix) else { return nil }
        let hexPart = name.dropFirst(prefix.count)
        guard !hexPart.isEmpty, hexPart.count <= 16,
              hexPart.allSatisfy({ $0.isHexDigit }),
              let v = UInt64(hexPart, radix: 16) else { return nil }
        return Int64(bitPattern: v)
    }

    static func hex(_ zxid: Int64) -> String { String(UInt64(bitPattern: zxid), radix: 16) }
}

/// Thin wrappers over the system calls we need, turning failures into `StorageError`.
enum FS {
    static func error(_ what: String, _ path: String, _ e: Int32 = errno) -> StorageError {
        StorageError(.io, "\(what) failed: \(String(cString: strerror(e)))", file: path, errno: e)
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw error("open", path) }
        }
    }

    /// Reads the whole file.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw error("fstat", path) }
        let size = Int(st.st_size)
        if size == 0 { return [] }
        return try [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var done = 0
            count = 0
            while done < size {
                let n = read(fd, buf.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error("read", path)
                }
                if n == 0 { break }  // the file shrank while we read it
                done += n
            }
            count = done
        }
    }

    /// Writes all of `buf` at `offset`, retrying short writes and EINTR.
    static func pwriteAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < buf.count {
            let n = pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw error("write", path)
            }
            done += n
        }
    }

    static func fsyncFile(_ fd: Int32, path: String, dataOnly: Bool) throws {
        while (dataOnly ? fdatasync(fd) : fsync(fd)) != 0 {
            if errno != EINTR { throw error(dataOnly ? "fdatasync" : "fsync", path) }
        }
    }

    /// Makes creations, renames and deletions in `dir` durable.
    static func fsyncDirectory(_ dir: String) throws {
        let fd = try open(dir, O_RDONLY | O_DIRECTORY)
        defer { _ = close(fd) }
        try fsyncFile(fd, path: dir, dataOnly: false)
    }

    static func makeDirectories(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.io, "cannot create directory: \(error)", file: path)
        }
    }

    /// Entry names in `dir`; a missing directory has none.
    static func list(_ dir: String) throws -> [String] {
        guard let d = opendir(dir) else {
            if errno == ENOENT { return [] }
            throw error("opendir", dir)
        }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Files in `dir` named `<prefix><hex zxid>`, sorted by zxid ascending.
    static func zxidFiles(_ dir: String, prefix: String) throws -> [(zxid: Int64, path: String)] {
        try list(dir).compactMap { name -> (zxid: Int64, path: String)? in
            guard let z = StorageLayout.zxid(fromFileName: name, prefix: prefix) else { return nil }
            return (z, dir + "/" + name)
        }.sorted { $0.zxid < $1.zxid }
    }

    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw error("unlink", path) }
    }

    /// Truncates the file to `length` and makes that durable.
    static func truncate(_ path: String, to length: Int64) throws {
        let fd = try open(path, O_WRONLY)
        defer { _ = close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw error("ftruncate", path) }
        try fsyncFile(fd, path: path, dataOnly: false)
    }

    static func fileSize(_ path: String) throws -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw error("stat", path) }
        return Int64(st.st_size)
    }
}

// Big-endian field access for the on-disk formats.
extension UnsafeRawBufferPointer {
    @inline(__always) func be32(_ at: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }
    @inline(__always) func be64(_ at: Int) -> Int64 {
        Int64(bigEndian: loadUnaligned(fromByteOffset: at, as: Int64.self))
    }
    /// True when every byte in `from..<to` is zero.
    func isZero(_ from: Int, _ to: Int) -> Bool {
        var p = from
        while p + 8 <= to {
            if loadUnaligned(fromByteOffset: p, as: UInt64.self) != 0 { return false }
            p += 8
        }
        while p < to {
            if self[p] != 0 { return false }
            p += 1
        }
        return true
    }
}

extension Array where Element == UInt8 {
    mutating func appendBE(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 24)); append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8)); append(UInt8(truncatingIfNeeded: v))
    }
    mutating func appendBE(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        appendBE(UInt32(truncatingIfNeeded: u >> 32)); appendBE(UInt32(truncatingIfNeeded: u))
    }
}

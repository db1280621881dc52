/// One transaction in the log: its zxid and the opaque bytes the server serialized.
public struct LogRecord: Sendable, Equatable {
    /// The transaction id, `epoch << 32 | counter`. Strictly increasing through the log.
    public var zxid: Int64
    /// The serialized transaction; the storage layer never looks inside.
    public var payload: [UInt8]

    public init(zxid: Int64, payload: [UInt8]) {
        self.zxid = zxid
        self.payload = payload
    }
}

/// The on-disk format of a transaction log file.
///
/// ```
/// file header (16 bytes): magic "ZSLG" | version u32 = 1 | reserved 8 zero bytes
/// record:                 crc32c u32 | length u32 | zxid i64 | payload (length bytes)
/// ```
/// All integers are big-endian. The CRC covers length, zxid and payload, so a damaged length is
/// caught too. A record header of 16 zero bytes followed only by zeros (the preallocated tail)
/// is the end of the log; a real record never looks like that because the CRC-32C of its
/// fields is never zero together with a zero length and zero zxid.
enum LogFormat {
    static let magic: UInt32 = 0x5A53_4C47  // "ZSLG"
    static let version: UInt32 = 1
    static let fileHeaderSize = 16
    static let recordHeaderSize = 16

    static var fileHeader: [UInt8] {
        var h: [UInt8] = []
        h.appendBE(magic)
        h.appendBE(version)
        h.appendBE(Int64(0))
        return h
    }

    /// The CRC of a record: over length and zxid (big-endian), then the payload.
    static func recordChecksum(zxid: Int64, payload: UnsafeRawBufferPointer) -> UInt32 {
        let z = UInt64(bitPattern: zxid)
        // Three UInt32s are laid out contiguously: exactly the 12 on-disk bytes.
        var fields: (UInt32, UInt32, UInt32) = (UInt32(payload.count).bigEndian,
                                                UInt32(truncatingIfNeeded: z >> 32).bigEndian,
                                                UInt32(truncatingIfNeeded: z).bigEndian)
        let c = withUnsafeBytes(of: &fields) { CRC32C.checksum($0) }
        return CRC32C.checksum(payload, continuing: c)
    }
}

/// What a scan of one log file found.
struct LogFileScan {
    /// Records with zxid greater than the `after` given to the scan (when collecting).
    var records: [LogRecord] = []
    /// Number of valid records in the file, including those at or below `after`.
    var recordCount = 0
    var firstZxid: Int64?
    var lastZxid: Int64?
    /// Offset of the first record with zxid greater than `after`.
    var firstOffsetAfter: Int?
    /// Offset just past the last valid record (or the header).
    var validEnd = 0
    /// Size of the file.
    var size = 0
    /// Invalid bytes at `offset` not followed by any valid record in this file: a torn tail
    /// if no later file holds records.
    var damage: (offset: Int, reason: String)?
}

enum LogScanner {
    /// Scans a log file. Throws on damage that valid records follow (mid-log corruption),
    /// on records out of order and on a bad file header; reports a damaged tail in `damage`.
    static func scan(path: String, nameZxid: Int64, after: Int64, collect: Bool) throws -> LogFileScan {
        let bytes = try FS.readFile(path)
        return try bytes.withUnsafeBytes { try scan(buffer: $0, path: path, nameZxid: nameZxid, after: after, collect: collect) }
    }

    static func scan(buffer b: UnsafeRawBufferPointer, path: String, nameZxid: Int64, after: Int64,
                     collect: Bool) throws -> LogFileScan {
        let n = b.count
        var s = LogFileScan()
        s.size = n
        if n == 0 { return s }
        let hs = LogFormat.fileHeaderSize
        if n < hs || b.isZero(0, hs) {
            // The header never reached the disk. Only acceptable if nothing else did either.
            if b.isZero(0, n) { return s }
            if n >= hs, let q = findValidRecord(b, from: hs, lowerBound: nameZxid) {
                throw StorageError(.corruptLog, "missing file header but a valid record follows at offset \(q)",
                                   file: path, offset: 0)
            }
            s.damage = (0, n < hs ? "short file header (\(n) bytes)" : "zero file header followed by non-zero bytes")
            return s
        }
        guard b.be32(0) == LogFormat.magic else {
            throw StorageError(.corruptLog, "bad magic \(String(b.be32(0), radix: 16)), not a transaction log file",
                               file: path, offset: 0)
        }
        guard b.be32(4) == LogFormat.version else {
            throw StorageError(.unsupportedVersion, "log format version \(b.be32(4)), expected \(LogFormat.version)",
                               file: path, offset: 4)
        }
        var p = hs
        s.validEnd = p
        var prev: Int64?
        while p < n {
            var reason: String?
            var len = 0
            var zxid: Int64 = 0
            if n - p < LogFormat.recordHeaderSize {
                reason = "short record header (\(n - p) bytes)"
            } else {
                let crc = b.be32(p)
                len = Int(b.be32(p + 4))
                zxid = b.be64(p + 8)
                if crc == 0 && len == 0 && zxid == 0 {
                    if b.isZero(p, n) { break }  // preallocated zero tail: clean end of log
                    reason = "zero record header followed by non-zero bytes"
                } else if len > n - p - LogFormat.recordHeaderSize {
                    reason = "record length \(len) runs past end of file (\(n - p - LogFormat.recordHeaderSize) bytes left)"
                } else if CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(p + 4)..<(p + 16 + len)])) != crc {
                    reason = "checksum mismatch in record of length \(len)"
                }
            }
            if let reason {
                if b.isZero(p, n) { break }
                let lower = prev.map { $0 &+ 1 } ?? nameZxid
                if let q = findValidRecord(b, from: p + 1, lowerBound: lower) {
                    throw StorageError(.corruptLog, "\(reason); a valid record follows at offset \(q)",
                                       file: path, offset: Int64(p))
                }
                s.damage = (p, reason)
                break
            }
            if let prev, zxid <= prev {
                throw StorageError(.corruptLog, "zxid 0x\(StorageLayout.hex(zxid)) is not above the previous 0x\(StorageLayout.hex(prev))",
                                   file: path, offset: Int64(p))
            }
            if prev == nil && zxid != nameZxid {
                throw StorageError(.corruptLog, "first record has zxid 0x\(StorageLayout.hex(zxid)) but the file is named for 0x\(StorageLayout.hex(nameZxid))",
                                   file: path, offset: Int64(p))
            }
            if zxid > after {
                if s.firstOffsetAfter == nil { s.firstOffsetAfter = p }
                if collect {
                    s.records.append(LogRecord(zxid: zxid, payload: Array(b[(p + 16)..<(p + 16 + len)])))
                }
            }
            s.recordCount += 1
            if s.firstZxid == nil { s.firstZxid = zxid }
            s.lastZxid = zxid
            prev = zxid
            p += LogFormat.recordHeaderSize + len
            s.validEnd = p
        }
        return s
    }

    /// The offset of the first plausible valid record at or after `from`: zxid at least
    /// `lowerBound` (and not absurdly far above it), length within the file, CRC correct.
    /// Used to tell a torn tail (nothing valid follows) from corruption in the middle.
    static func findValidRecord(_ b: UnsafeRawBufferPointer, from: Int, lowerBound: Int64) -> Int? {
        let n = b.count
        var q = from
        while q + LogFormat.recordHeaderSize <= n {
            if b.isZero(q, q + LogFormat.recordHeaderSize) {
                // No valid header is all zeros, so one must include the next non-zero byte:
                // skip zero runs (the preallocated tail) instead of testing each offset.
                var z = q + LogFormat.recordHeaderSize
                while z + 8 <= n && b.loadUnaligned(fromByteOffset: z, as: UInt64.self) == 0 { z += 8 }
                while z < n && b[z] == 0 { z += 1 }
                if z >= n { return nil }
                q = max(q + 1, z - LogFormat.recordHeaderSize + 1)
                continue
            }
            let zxid = b.be64(q + 8)
            if zxid >= lowerBound && zxid &- lowerBound < (1 << 40) {
                let len = Int(b.be32(q + 4))
                if len <= n - q - LogFormat.recordHeaderSize,
                   CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(q + 4)..<(q + 16 + len)])) == b.be32(q) {
                    return q
                }
            }
            q += 1
        }
        return nil
    }
}

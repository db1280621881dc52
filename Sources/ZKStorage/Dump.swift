/// Human-readable dumps of log and snapshot files, for operators and the `zkserver` CLI.
public enum Dump {
    /// One line per record: `zxid=0x… offset=… len=… crc=ok <formatted payload>`, then a summary
    /// of how the file ends. Damaged records are shown as `crc=BAD` and the dump goes on when the
    /// length field still fits in the file. `formatPayload` is only called for records whose
    /// checksum is correct; the default prints the first 32 payload bytes in hex.
    public static func logFile(_ path: String,
                               formatPayload: (LogRecord) -> String = { defaultFormat($0.payload) }) throws -> String {
        let bytes = try FS.readFile(path)
        return bytes.withUnsafeBytes { b -> String in
            let n = b.count
            var lines = ["log file \(path): \(n) bytes"]
            let hs = LogFormat.fileHeaderSize
            guard n >= hs else {
                lines.append("short or missing file header (\(n) bytes)")
                return lines.joined(separator: "\n") + "\n"
            }
            if b.be32(0) != LogFormat.magic {
                lines.append("bad magic 0x\(String(b.be32(0), radix: 16)), expected 0x\(String(LogFormat.magic, radix: 16))")
                return lines.joined(separator: "\n") + "\n"
            }
            lines.append("format version \(b.be32(4))")
            var p = hs
            var ok = 0, bad = 0
            while p < n {
                if n - p < LogFormat.recordHeaderSize {
                    lines.append(b.isZero(p, n) ? "end: zero tail of \(n - p) bytes at offset \(p)"
                                                : "end: \(n - p) unparseable bytes at offset \(p) (short record header)")
                    p = n
                    break
                }
                let crc = b.be32(p), len = Int(b.be32(p + 4)), zxid = b.be64(p + 8)
                if crc == 0 && len == 0 && zxid == 0 {
                    if b.isZero(p, n) {
                        lines.append("end: zero tail (preallocated) of \(n - p) bytes at offset \(p)")
                    } else {
                        lines.append("end: zero record header at offset \(p) followed by non-zero bytes")
                    }
                    p = n
                    break
                }
                guard len <= n - p - LogFormat.recordHeaderSize else {
                    lines.append("zxid=0x\(StorageLayout.hex(zxid)) offset=\(p) len=\(len) BAD: runs past end of file")
                    lines.append("end: \(n - p) unparseable bytes at offset \(p)")
                    bad += 1
                    p = n
                    break
                }
                let payload = UnsafeRawBufferPointer(rebasing: b[(p + 16)..<(p + 16 + len)])
                let good = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(p + 4)..<(p + 16 + len)])) == crc
                let text = good ? formatPayload(LogRecord(zxid: zxid, payload: Array(payload))) : "<damaged>"
                lines.append("zxid=0x\(StorageLayout.hex(zxid)) offset=\(p) len=\(len) crc=\(good ? "ok" : "BAD") \(text)")
                if good { ok += 1 } else { bad += 1 }
                p += LogFormat.recordHeaderSize + len
            }
            if p == n && !(lines.last ?? "").hasPrefix("end:") { lines.append("end: EOF at offset \(n)") }
            lines.append("records: \(ok) ok, \(bad) damaged")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// The snapshot header and whether the file validates:
    /// `snapshot <path>: zxid=0x… payload=N bytes crc=ok`.
    public static func snapshotFile(_ path: String) throws -> String {
        do {
            let s = try SnapshotStore.read(path: path)
            return "snapshot \(path): zxid=0x\(StorageLayout.hex(s.zxid)) payload=\(s.payload.count) bytes crc=ok\n"
        } catch let e as StorageError where e.kind == .corruptSnapshot || e.kind == .unsupportedVersion {
            return "snapshot \(path): INVALID: \(e.message)" + (e.offset.map { " at offset \($0)" } ?? "") + "\n"
        }
    }

    /// Hex of the first 32 bytes, then the total length if longer.
    public static func defaultFormat(_ payload: [UInt8]) -> String {
        let head = payload.prefix(32).map { b -> String in
            let s = String(b, radix: 16)
            return b < 16 ? "0" + s : s
        }.joined()
        return payload.count > 32 ? head + "… (\(payload.count) bytes)" : head
    }
}

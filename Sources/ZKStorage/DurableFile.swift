#if canImport(Glibc)
import Glibc
#endif

/// Small files that must never be seen half written (epoch files, zoo.cfg, the dynamic config):
/// written to a temporary file, fsynced, renamed over the target, and the directory fsynced.
public enum DurableFile {
    /// Replaces `path` with `bytes` atomically and durably.
    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let tmp = path + ".tmp"
        let fd = try FS.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        do {
            try bytes.withUnsafeBytes { try FS.pwriteAll(fd, $0, at: 0, path: tmp) }
            try FS.fsyncFile(fd, path: tmp, dataOnly: false)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = FS.error("rename", tmp)
            unlink(tmp)
            throw e
        }
        try FS.fsyncDirectory(dir)
    }

    /// `write` for text.
    public static func write(_ path: String, text: String, mode: mode_t = 0o644) throws {
        try write(path, Array(text.utf8), mode: mode)
    }
}

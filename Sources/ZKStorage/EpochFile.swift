#if canImport(Glibc)
import Glibc
#endif

/// Apache's `acceptedEpoch` / `currentEpoch` files: one decimal number each, in the snapshot
/// directory. The consensus core must find them durable before it sends what depends on them.
public enum EpochFile {
    public static let accepted = "acceptedEpoch"
    public static let current = "currentEpoch"

    /// Reads `name` in `directory`; nil when the file does not exist.
    public static func read(directory: String, name: String) throws -> Int64? {
        let path = directory + "/" + name
        if access(path, F_OK) != 0 { return nil }
        let bytes = try FS.readFile(path)
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
        guard let v = Int64(text), v >= 0 else {
            throw StorageError(.invalidArgument, "\(path): expected an epoch number, found \"\(text)\"")
        }
        return v
    }

    /// Writes `value` durably: a temporary file, fsync, rename over `name`, fsync the directory.
    public static func write(directory: String, name: String, value: Int64) throws {
        try FS.makeDirectories(directory)
        try DurableFile.write(directory + "/" + name, text: "\(value)\n")
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\n" || c == "\r" || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\n" || c == "\r" || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// ZooKeeper path rules (Apache's PathUtils.validatePath), shared by the tree and the request checks.
public enum PathUtils {
    /// Returns nil when `path` is a valid znode path, else the reason.
    public static func validate(_ path: String, sequential: Bool = false) -> String? {
        let scalars = Array((sequential ? path + "1" : path).unicodeScalars)
        guard !scalars.isEmpty else { return "Path length must be > 0" }
        guard scalars[0] == "/" else { return "Path must start with / character" }
        if scalars.count == 1 { return nil }
        if scalars[scalars.count - 1] == "/" { return "Path must not end with / character" }
        var last: Unicode.Scalar = "/"
        for i in 1..<scalars.count {
            let c = scalars[i]
            let v = c.value
            if v == 0 { return "null character not allowed @\(i)" }
            if c == "/" && last == "/" { return "empty node name specified @\(i)" }
            if c == "." && last == "." {
                if scalars[i - 2] == "/" && (i + 1 == scalars.count || scalars[i + 1] == "/") {
                    return "relative paths not allowed @\(i)"
                }
            } else if c == "." {
                if scalars[i - 1] == "/" && (i + 1 == scalars.count || scalars[i + 1] == "/") {
                    return "relative paths not allowed @\(i)"
                }
            } else if (v > 0 && v <= 0x1f) || (v >= 0x7f && v <= 0x9f) || (v >= 0xd800 && v <= 0xf8ff)
                        || (v >= 0xfff0) {
                // Java sees scalars above U+FFFF as surrogate pairs, which it rejects; so do we.
                return "invalid character @\(i)"
            }
            last = c
        }
        return nil
    }

    /// The parent of a valid non-root path.
    @inlinable
    public static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "/" }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[path.startIndex..<slash])
    }

    /// The last component of a path.
    @inlinable
    public static func name(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// `%010d` of a Java int, as the sequential suffix is formatted.
    public static func sequenceSuffix(_ n: Int32) -> String {
        if n < 0 {
            let digits = String(-Int64(n))
            return "-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits
        }
        let digits = String(n)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }
}

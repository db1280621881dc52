/// One `key=value` entry of a java `.properties` file, with the line it started on.
public struct ZooCfgEntry: Sendable, Equatable {
    public var key: String
    public var value: String
    /// 1-based line number where the entry starts (for error messages).
    public var line: Int

    public init(key: String, value: String, line: Int) {
        self.key = key; self.value = value; self.line = line
    }
}

/// The one reader, for server and tools alike, of the java `.properties` syntax zoo.cfg uses (`java.util.Properties.load`).
///
/// Apache reads zoo.cfg with `Properties.load`, so we follow its rules rather than a naive
/// `split("=")`: `#`/`!` comments, `=`, `:` or whitespace as separator, backslash line
/// continuation and `\t \n \uXXXX` escapes. Keys and values are trimmed afterwards, as
/// `QuorumPeerConfig.parseProperties` does. Entries keep file order (Apache's hash order is
/// not meaningful) and duplicates are kept so the caller can decide (Java keeps the last).
public enum ZooCfgProperties {
    /// Entries in file order; duplicates kept.
    public static func parse(_ text: String) -> [ZooCfgEntry] {
        // Natural lines, accepting \n, \r\n and \r.
        var natural: [String] = []
        var current = ""
        var lastWasCR = false
        for ch in text.unicodeScalars {
            if ch == "\r" {
                natural.append(current); current = ""; lastWasCR = true; continue
            }
            if ch == "\n" {
                if lastWasCR { lastWasCR = false; continue }
                natural.append(current); current = ""; continue
            }
            lastWasCR = false
            current.unicodeScalars.append(ch)
        }
        if !current.isEmpty { natural.append(current) }

        var entries: [ZooCfgEntry] = []
        var i = 0
        while i < natural.count {
            let startLine = i + 1
            let first = natural[i].unicodeScalars.drop(while: isBlank)
            i += 1
            guard let head = first.first else { continue }
            if head == "#" || head == "!" { continue }
            // Join continuation lines: an odd number of trailing backslashes continues.
            var logical = Array(first)
            while trailingBackslashes(logical) % 2 == 1 {
                logical.removeLast()
                guard i < natural.count else { break }
                logical.append(contentsOf: natural[i].unicodeScalars.drop(while: isBlank))
                i += 1
            }
            let (key, value) = splitKeyValue(logical)
            entries.append(ZooCfgEntry(key: unescape(key).cfgTrimmed, value: unescape(value).cfgTrimmed, line: startLine))
        }
        return entries
    }

    private static func isBlank(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\u{0C}" }

    private static func trailingBackslashes(_ s: [Unicode.Scalar]) -> Int {
        var n = 0
        for c in s.reversed() { if c == "\\" { n += 1 } else { break } }
        return n
    }

    /// Key ends at the first unescaped `=`, `:` or blank; one `=`/`:` after blanks is skipped.
    private static func splitKeyValue(_ s: [Unicode.Scalar]) -> ([Unicode.Scalar], [Unicode.Scalar]) {
        var k = 0
        var escaped = false
        while k < s.count {
            let c = s[k]
            if escaped { escaped = false; k += 1; continue }
            if c == "\\" { escaped = true; k += 1; continue }
            if c == "=" || c == ":" || isBlank(c) { break }
            k += 1
        }
        let key = Array(s[..<k])
        var v = k
        var sawSeparator = false
        if v < s.count, s[v] == "=" || s[v] == ":" { sawSeparator = true; v += 1 }
        while v < s.count, isBlank(s[v]) { v += 1 }
        if !sawSeparator, v < s.count, s[v] == "=" || s[v] == ":" {
            v += 1
            while v < s.count, isBlank(s[v]) { v += 1 }
        }
        return (key, Array(s[v...]))
    }

    private static func unescape(_ s: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            let c = s[i]
            guard c == "\\", i + 1 < s.count else { out.append(c); i += 1; continue }
            let n = s[i + 1]
            i += 2
            switch n {
            case "t": out.append("\t")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "f": out.append("\u{0C}")
            case "u":
                let hex = String(String.UnicodeScalarView(s[i..<min(i + 4, s.count)]))
                if hex.count == 4, let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) {
                    out.append(u); i += 4
                } else {
                    out.append("u")
                }
            default: out.append(n)
            }
        }
        return String(out)
    }
}

extension String {
    /// Whitespace-trimmed copy (Java `String.trim` trims every char <= U+0020).
    public var cfgTrimmed: String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { $0.value > 0x20 }) else { return "" }
        let end = scalars.lastIndex(where: { $0.value > 0x20 })!
        return String(scalars[start...end])
    }
}

extension ZooCfgProperties {
    /// The file as Java's `Properties` sees it: the last of duplicate keys wins.
    public static func dictionary(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for e in parse(text) { out[e.key] = e.value }
        return out
    }
}

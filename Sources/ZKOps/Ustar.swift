import Foundation

/// A POSIX ustar archive of regular files, written and read in memory.
///
/// Deploy sends every file a host needs as one ustar stream on the stdin of one SSH command
/// (`tar -xf - -C /` on the host), so a host costs one round trip however many files change.
/// Only what that needs: regular files, names up to ustar's 100 + 155 bytes, no links.
public enum Ustar {
    public struct Member: Equatable, Sendable {
        /// Path inside the archive (relative: `opt/zookeeper/bin/zkserver`).
        public var name: String
        public var mode: Int32
        public var data: Data
        /// Seconds since 1970; nil: now.
        public var mtime: Int?

        public init(name: String, mode: Int32, data: Data, mtime: Int? = nil) {
            self.name = name; self.mode = mode; self.data = data; self.mtime = mtime
        }
    }

    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    static let block = 512

    /// The archive: a 512-byte header per member, its data padded to 512, two zero blocks.
    public static func archive(_ members: [Member]) throws -> Data {
        var out = Data()
        out.reserveCapacity(members.reduce(2 * block) { $0 + block + padded($1.data.count) })
        for m in members { out.append(try bytes(m)) }
        out.append(end)
        return out
    }

    /// One member as it appears in an archive: header, data, padding. An archive is the
    /// members' bytes in a row, then `end`.
    public static func bytes(_ m: Member) throws -> Data {
        var out = try header(m)
        out.append(m.data)
        out.append(Data(count: padded(m.data.count) - m.data.count))
        return out
    }

    /// The end-of-archive marker: two zero blocks.
    public static var end: Data { Data(count: 2 * block) }

    /// The members of an archive `archive` wrote (what test fakes need to see what was sent).
    public static func members(_ archive: Data) throws -> [Member] {
        let bytes = [UInt8](archive)
        var out: [Member] = []
        var at = 0
        while at + block <= bytes.count {
            let h = Array(bytes[at..<at + block])
            if h.allSatisfy({ $0 == 0 }) { return out }
            let stored = octal(h[148..<156])
            var sum = h
            for i in 148..<156 { sum[i] = 0x20 }
            guard let stored, stored == sum.reduce(0, { $0 + Int($1) }) else {
                throw FormatError(description: "bad header checksum at offset \(at)")
            }
            guard let size = octal(h[124..<136]), let mode = octal(h[100..<108]) else {
                throw FormatError(description: "bad size or mode at offset \(at)")
            }
            let name = string(h[0..<100]), prefix = string(h[345..<500])
            let start = at + block
            guard start + size <= bytes.count else { throw FormatError(description: "truncated member \(name)") }
            out.append(Member(name: prefix.isEmpty ? name : prefix + "/" + name, mode: Int32(mode),
                              data: Data(bytes[start..<start + size])))
            at = start + padded(size)
        }
        throw FormatError(description: "archive ends without its end-of-archive blocks")
    }

    static func padded(_ n: Int) -> Int { (n + block - 1) / block * block }

    /// ustar splits a long name at a `/` into prefix (≤ 155 bytes) and name (≤ 100 bytes).
    static func split(_ path: String) throws -> (prefix: String, name: String) {
        let u = Array(path.utf8)
        if u.count <= 100 { return ("", path) }
        for i in stride(from: min(u.count - 1, 155), to: 0, by: -1) where u[i] == UInt8(ascii: "/") {
            if u.count - i - 1 <= 100 {
                return (String(decoding: u[..<i], as: UTF8.self), String(decoding: u[(i + 1)...], as: UTF8.self))
            }
        }
        throw FormatError(description: "path too long for a ustar archive (255 bytes, a name part ≤ 100): \(path)")
    }

    static func header(_ m: Member) throws -> Data {
        let (prefix, name) = try split(m.name)
        var h = [UInt8](repeating: 0, count: block)
        func put(_ s: String, _ at: Int, _ width: Int) {
            for (i, b) in s.utf8.prefix(width).enumerated() { h[at + i] = b }
        }
        func putOctal(_ v: Int, _ at: Int, _ width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(v, radix: 8).count)) + String(v, radix: 8), at, width - 1)
        }
        guard m.data.count < 8 * 1024 * 1024 * 1024 else { throw FormatError(description: "\(m.name) is 8 GiB or more") }
        put(name, 0, 100)
        putOctal(Int(m.mode & 0o7777), 100, 8)
        putOctal(0, 108, 8)                     // uid
        putOctal(0, 116, 8)                     // gid
        putOctal(m.data.count, 124, 12)
        putOctal(m.mtime ?? Int(Date().timeIntervalSince1970), 136, 12)
        h[156] = UInt8(ascii: "0")              // regular file
        put("ustar", 257, 6)
        put("00", 263, 2)
        put(prefix, 345, 155)
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) }
        putOctal(sum, 148, 7)                   // six digits, NUL, space
        h[154] = 0; h[155] = 0x20
        return Data(h)
    }

    static func octal(_ field: ArraySlice<UInt8>) -> Int? {
        let digits = field.drop { $0 == 0x20 }.prefix { $0 != 0 && $0 != 0x20 }
        if digits.isEmpty { return 0 }
        return Int(String(decoding: digits, as: UTF8.self), radix: 8)
    }

    static func string(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}

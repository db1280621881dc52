import ZKProtocol

/// ACL evaluation and fix-up as Apache's ZooKeeperServer.checkACL and PrepRequestProcessor.fixupACL.
public enum ACLCheck {
    /// The identity that marks a super user in a session's auth ids.
    public static let superId = Id(scheme: "super", id: "")

    /// Whether `auth` may do `perm` on a node with `acl`.
    public static func allowed(_ acl: [ACL], _ perm: Perms, auth: [Id], skipACL: Bool) -> Bool {
        if skipACL || acl.isEmpty { return true }
        for id in auth where id.scheme == "super" { return true }
        for entry in acl where !entry.perms.intersection(perm).isEmpty {
            let e = entry.id
            if e.scheme == "world" && e.id == "anyone" { return true }
            for a in auth where a.scheme == e.scheme {
                switch e.scheme {
                case "ip": if ipMatches(client: a.id, acl: e.id) { return true }
                default: if a.id == e.id { return true }
                }
            }
        }
        return false
    }

    /// Expands `auth` entries to the session's authenticated ids and validates every entry.
    /// Returns nil when Apache would answer InvalidACL.
    public static func fixup(_ acl: [ACL], auth: [Id]) -> [ACL]? {
        if acl.isEmpty { return nil }
        var out: [ACL] = []
        for a in acl {
            switch a.id.scheme {
            case "world":
                guard a.id.id == "anyone" else { return nil }
                out.append(a)
            case "auth":
                var added = false
                for id in auth where id.scheme == "digest" {
                    out.append(ACL(perms: a.perms, id: id)); added = true
                }
                if !added { return nil }
            case "digest":
                guard a.id.id.split(separator: ":", omittingEmptySubsequences: false).count == 2 else { return nil }
                out.append(a)
            case "ip":
                guard validIPACL(a.id.id) else { return nil }
                out.append(a)
            case "super":
                out.append(a)
            default:
                return nil
            }
        }
        var seen = Set<ACL>()
        return out.filter { seen.insert($0).inserted }
    }

    static func parseIPv4(_ s: Substring) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        return v
    }

    static func validIPACL(_ s: String) -> Bool {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 { guard let bits = Int(parts[1]), bits >= 0, bits <= 32 else { return false } }
        return parseIPv4(parts[0]) != nil || parts[0].contains(":")
    }

    static func ipMatches(client: String, acl: String) -> Bool {
        let parts = acl.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let want = parseIPv4(parts[0]), let have = parseIPv4(Substring(client)) else { return client == acl }
        let bits = parts.count == 2 ? (Int(parts[1]) ?? 32) : 32
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
        return want & mask == have & mask
    }
}

/// Digest authentication: `user:base64(sha1(user:password))`, as Apache's DigestAuthenticationProvider.
public enum DigestAuth {
    public static func digest(_ userPassword: String) -> String {
        guard let colon = userPassword.firstIndex(of: ":") else { return userPassword }
        let user = userPassword[..<colon]
        return "\(user):\(base64(SHA1.hash(Array(userPassword.utf8))))"
    }

    public static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(n >> 18)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [table[Int(n >> 18)], table[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(n >> 18)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SHA-1, needed only for digest ACL ids (not for security of our own protocol).
public enum SHA1 {
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
        var msg = message
        let ml = UInt64(message.count) * 8
        msg.append(0x80)
        while msg.count % 64 != 56 { msg.append(0) }
        for i in (0..<8).reversed() { msg.append(UInt8(truncatingIfNeeded: ml >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: msg.count, by: 64) {
            for i in 0..<16 {
                w[i] = UInt32(msg[chunk + 4 * i]) << 24 | UInt32(msg[chunk + 4 * i + 1]) << 16
                    | UInt32(msg[chunk + 4 * i + 2]) << 8 | UInt32(msg[chunk + 4 * i + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                default: f = b ^ c ^ d; k = 0xCA62C1D6
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = b << 30 | b >> 2; b = a; a = t
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        var out: [UInt8] = []
        for v in [h.0, h.1, h.2, h.3, h.4] {
            out += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
        }
        return out
    }
}

import Foundation
import Yams

/// Edits an inventory file as text, so its comments, order and style survive: `add-server` and
/// `remove-server` change one entry of `hosts:` and nothing else. Pure (text in, text out);
/// the result is re-parsed before it is returned, so a broken edit never reaches the file.
public enum InventoryEdit {
    /// One entry of the `hosts:` list: its first and last line (0-based, inclusive).
    struct Entry {
        var first: Int
        var last: Int
        var name: String?
    }

    struct HostsBlock {
        var headerLine: Int
        var indent: Int
        var entries: [Entry]
        /// The last line of the block that holds something (where a new entry goes after).
        var lastContentLine: Int
        var flowStyle: Bool
    }

    private static func indentation(_ line: Substring) -> Int { line.prefix { $0 == " " }.count }
    private static func isBlankOrComment(_ line: Substring) -> Bool {
        let t = line.drop { $0 == " " || $0 == "\t" }
        return t.isEmpty || t.hasPrefix("#")
    }

    static func hostsBlock(_ lines: [Substring]) throws -> HostsBlock {
        guard let header = lines.firstIndex(where: { $0.hasPrefix("hosts:") }) else {
            throw MembershipError("the inventory has no top-level hosts: list")
        }
        let rest = lines[header].dropFirst("hosts:".count).drop { $0 == " " }
        guard rest.isEmpty || rest.hasPrefix("#") else {
            throw MembershipError("hosts: is written inline (\(lines[header])); write it as a list, one '- ' entry per host, to edit it with zkops")
        }
        // The block runs until the next line at column 0 that is not a comment.
        var end = header + 1
        while end < lines.count {
            let l = lines[end]
            if !isBlankOrComment(l) && indentation(l) == 0 && !l.hasPrefix("-") { break }
            end += 1
        }
        let body = (header + 1)..<end
        let starts = body.filter { i in
            let l = lines[i]
            return !isBlankOrComment(l) && l.drop { $0 == " " }.hasPrefix("- ")
        }
        guard let firstStart = starts.first else {
            return HostsBlock(headerLine: header, indent: 2, entries: [], lastContentLine: header, flowStyle: false)
        }
        let indent = indentation(lines[firstStart])
        let itemStarts = starts.filter { indentation(lines[$0]) == indent }
        var entries: [Entry] = []
        for (k, s) in itemStarts.enumerated() {
            var last = (k + 1 < itemStarts.count ? itemStarts[k + 1] : end) - 1
            // Comments and blanks right before the next entry belong to it.
            while last > s && isBlankOrComment(lines[last]) { last -= 1 }
            let chunk = lines[s...last].map { String($0.dropFirst(min(indent, indentation($0)))) }.joined(separator: "\n")
            let name = ((try? Yams.load(yaml: chunk)) as? [Any])?.first.flatMap { ($0 as? [String: Any])?["name"] }.map { "\($0)" }
            entries.append(Entry(first: s, last: last, name: name))
        }
        let flow = lines[itemStarts.last!].drop { $0 == " " }.dropFirst(2).drop { $0 == " " }.hasPrefix("{")
        return HostsBlock(headerLine: header, indent: indent, entries: entries, lastContentLine: entries.last!.last,
                          flowStyle: flow)
    }

    /// Adds a host with these keys (in this order) at the end of `hosts:`, in the style of the
    /// last entry (flow `- {…}` or block). Throws if a host of that name or id exists.
    public static func addHost(_ text: String, fields: [(String, String)]) throws -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let block = try hostsBlock(lines)
        let inv = try Inventory.parse(yaml: text, baseDir: "/")
        let dict = Dictionary(fields, uniquingKeysWith: { a, _ in a })
        if let n = dict["name"], inv.host(named: n) != nil { throw MembershipError("a host named \(n) is already in the inventory") }
        if let i = dict["id"].flatMap(Int.init), let h = inv.hosts.first(where: { $0.id == i }) {
            throw MembershipError("id \(i) is already taken by \(h.name)")
        }
        func scalar(_ v: String) -> String {
            // Quote what YAML would read as something else.
            let plain = v.allSatisfy { $0.isLetter || $0.isNumber || "./_-~".contains($0) } && !v.isEmpty
            return plain ? v : "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let pad = String(repeating: " ", count: block.indent)
        var added: [Substring] = []
        if block.flowStyle {
            added.append(Substring(pad + "- {" + fields.map { "\($0.0): \(scalar($0.1))" }.joined(separator: ", ") + "}"))
        } else {
            for (k, (key, value)) in fields.enumerated() {
                added.append(Substring(pad + (k == 0 ? "- " : "  ") + "\(key): \(scalar(value))"))
            }
        }
        lines.insert(contentsOf: added, at: block.lastContentLine + 1)
        let out = lines.joined(separator: "\n")
        let check = try Inventory.parse(yaml: out, baseDir: "/")
        guard check.hosts.count == inv.hosts.count + 1, let n = dict["name"], check.host(named: n) != nil else {
            throw MembershipError("internal error: the edited inventory does not hold the new host; file left unchanged")
        }
        return out
    }

    /// Removes the entry of host `name` (its comment lines just above go with it).
    public static func removeHost(_ text: String, name: String) throws -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let block = try hostsBlock(lines)
        guard let e = block.entries.first(where: { $0.name == name }) else {
            throw MembershipError("no host named \(name) in the inventory")
        }
        var first = e.first
        while first - 1 > block.headerLine && lines[first - 1].drop(while: { $0 == " " }).hasPrefix("#") { first -= 1 }
        lines.removeSubrange(first...e.last)
        let out = lines.joined(separator: "\n")
        let before = try Inventory.parse(yaml: text, baseDir: "/")
        let check = try Inventory.parse(yaml: out, baseDir: "/")
        guard check.hosts.count == before.hosts.count - 1, check.host(named: name) == nil else {
            throw MembershipError("internal error: the edited inventory still holds \(name); file left unchanged")
        }
        return out
    }

    /// Replaces `path` with `text` atomically (temp file in the same folder, fsync, rename),
    /// keeping the file's permissions.
    public static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).zkops-\(getpid())")
        guard FileManager.default.createFile(atPath: tmp.path, contents: Data(text.utf8), attributes: attrs.flatMap {
            $0[.posixPermissions].map { [.posixPermissions: $0] } }) else {
            throw MembershipError("cannot write \(tmp.path)")
        }
        let fd = open(tmp.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(tmp.path, path) == 0 else {
            let err = String(cString: strerror(errno))
            unlink(tmp.path)
            throw MembershipError("cannot replace \(path): \(err)")
        }
    }
}

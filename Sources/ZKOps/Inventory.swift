import Foundation
import Yams

/// Which server software a host runs.
public enum Flavor: String, Sendable, Codable, CaseIterable {
    /// The bundled Swift `zkserver` binary.
    case swift
    /// Apache ZooKeeper from a distribution (tarball or directory) plus the host's java.
    case apache
}

/// How zkops reaches a host.
public enum ConnectionKind: String, Sendable, Codable {
    case ssh
    /// This machine, without SSH.
    case local
}

/// A server's role in the ensemble.
public enum Role: String, Sendable, Codable {
    case participant
    case observer
}

/// Server settings; the `ensemble:` map gives defaults, any host may override them.
public struct ServerSettings: Sendable, Equatable {
    public var flavor: Flavor = .swift
    public var tickTime = 2000
    public var initLimit = 10
    public var syncLimit = 5
    public var clientPort = 2181
    public var quorumPort = 2888
    public var electionPort = 3888
    public var dataDir = "/var/lib/zookeeper"
    public var installDir = "/opt/zookeeper"
    /// Apache flavor: a local distribution tarball (.tar.gz/.tgz) or directory.
    public var distribution: String?
    /// A folder of the user's own templates (same file names as the built-in ones).
    public var templates: String?
    /// Extra zoo.cfg keys, passed through verbatim.
    public var config: [String: String] = [:]
    /// JVM options for the Apache flavor.
    public var javaOptions = "-Xms64m -Xmx256m"

    public init() {}
}

/// SSH settings; the `ssh:` map gives defaults, any host may override them.
public struct SSHSettings: Sendable, Equatable {
    public var user = "root"
    public var port = 22
    /// nil: use ssh-agent.
    public var identityFile: String? = "~/.ssh/id_ed25519"
    public var knownHosts = "~/.ssh/known_hosts"
    /// The environment variable holding the key's passphrase (never on argv).
    public var passphraseEnv = "ZKOPS_SSH_PASSPHRASE"

    public init() {}
}

/// One host of the inventory with every setting resolved.
public struct HostSpec: Sendable, Equatable {
    public var name: String
    public var address: String
    public var id: Int
    public var role: Role
    public var connection: ConnectionKind
    public var server: ServerSettings
    public var ssh: SSHSettings
}

/// A parsed inventory. Use `Inventory.load(path:)` or `Inventory.parse(yaml:baseDir:)`,
/// then `validate()`.
public struct Inventory: Sendable, Equatable {
    public var hosts: [HostSpec]
    /// The directory relative local paths are resolved against (the inventory's folder).
    public var baseDir: String
    /// Problems found while reading (type errors, unknown keys); `validate()` adds more.
    public var parseIssues: [InventoryIssue]
    /// The secret of the super user zkops authenticates as for `reconfig` (see `SuperUser`);
    /// nil: none rendered (membership changes by reconfig are then not possible).
    public var superSecret: String? = nil

    /// Participants (voting members), in inventory order.
    public var participants: [HostSpec] { hosts.filter { $0.role == .participant } }

    /// The host with this name, if any.
    public func host(named name: String) -> HostSpec? { hosts.first { $0.name == name } }
}

/// A validation finding that names the key it is about.
public struct InventoryIssue: Sendable, Equatable, CustomStringConvertible, Codable {
    public enum Severity: String, Sendable, Codable { case error, warning }
    public var severity: Severity
    /// The key path, e.g. `hosts[2].id`.
    public var key: String
    public var message: String

    public init(_ severity: Severity, _ key: String, _ message: String) {
        self.severity = severity
        self.key = key
        self.message = message
    }

    public var description: String { "\(severity): \(key): \(message)" }
}

/// Thrown when an inventory cannot be used; carries every issue found.
public struct InventoryError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var issues: [InventoryIssue]
    public var description: String {
        "inventory \(path) is invalid:\n" + issues.filter { $0.severity == .error }.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension Inventory {
    /// Reads and parses an inventory file (relative paths resolve against its folder).
    public static func load(path: String) throws -> Inventory {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InventoryError(path: path, issues: [InventoryIssue(.error, "(file)", "cannot read \(path)")])
        }
        let abs = URL(fileURLWithPath: path).standardizedFileURL.path
        return try parse(yaml: String(decoding: data, as: UTF8.self), baseDir: (abs as NSString).deletingLastPathComponent)
    }

    /// Parses inventory YAML. Throws only when the text is not YAML or not a map; every
    /// other problem is collected in `parseIssues` so the user sees them all at once.
    public static func parse(yaml: String, baseDir: String) throws -> Inventory {
        let root: Any?
        do {
            root = try Yams.load(yaml: yaml)
        } catch {
            throw InventoryError(path: baseDir, issues: [InventoryIssue(.error, "(yaml)", "not valid YAML: \(error)")])
        }
        guard let top = root as? [String: Any] else {
            throw InventoryError(path: baseDir, issues: [InventoryIssue(.error, "(top)", "expected a map with ensemble, ssh and hosts")])
        }
        var r = Reader()
        for k in top.keys.sorted() where !["ensemble", "ssh", "hosts"].contains(k) {
            r.issue(.error, k, "unknown top-level key (expected ensemble, ssh, hosts)")
        }
        var server = ServerSettings()
        var ssh = SSHSettings()
        if let e = top["ensemble"] {
            if let m = e as? [String: Any] {
                r.applyServer(m, prefix: "ensemble", to: &server, allowHostKeys: false)
            } else {
                r.issue(.error, "ensemble", "expected a map")
            }
        }
        if let s = top["ssh"] {
            if let m = s as? [String: Any] {
                r.applySSH(m, prefix: "ssh", to: &ssh)
            } else {
                r.issue(.error, "ssh", "expected a map")
            }
        }
        var hosts: [HostSpec] = []
        if let list = top["hosts"] as? [Any] {
            for (i, item) in list.enumerated() {
                let p = "hosts[\(i)]"
                guard let m = item as? [String: Any] else { r.issue(.error, p, "expected a map"); continue }
                var hs = server
                var hssh = ssh
                let name = r.string(m, "name", p) ?? ""
                let address = r.string(m, "address", p) ?? ""
                let id = r.int(m, "id", p) ?? 0
                if m["name"] == nil { r.issue(.error, "\(p).name", "missing") }
                if m["address"] == nil { r.issue(.error, "\(p).address", "missing") }
                if m["id"] == nil { r.issue(.error, "\(p).id", "missing") }
                var role = Role.participant
                if let s = r.string(m, "role", p) {
                    if let v = Role(rawValue: s) { role = v } else { r.issue(.error, "\(p).role", "unknown role '\(s)' (participant or observer)") }
                }
                var conn = ConnectionKind.ssh
                if let s = r.string(m, "connection", p) {
                    if let v = ConnectionKind(rawValue: s) { conn = v } else { r.issue(.error, "\(p).connection", "unknown connection '\(s)' (ssh or local)") }
                }
                var rest = m
                for k in ["name", "address", "id", "role", "connection"] { rest[k] = nil }
                let sshKeys = Set(["user", "port", "identityFile", "knownHosts", "passphraseEnv"])
                r.applySSH(rest.filter { sshKeys.contains($0.key) }, prefix: p, to: &hssh)
                r.applyServer(rest.filter { !sshKeys.contains($0.key) }, prefix: p, to: &hs, allowHostKeys: true)
                hosts.append(HostSpec(name: name, address: address, id: id, role: role, connection: conn, server: hs, ssh: hssh))
            }
        } else if top["hosts"] != nil {
            r.issue(.error, "hosts", "expected a list")
        } else {
            r.issue(.error, "hosts", "missing")
        }
        var inv = Inventory(hosts: hosts, baseDir: baseDir, parseIssues: r.issues)
        inv.resolvePaths()
        return inv
    }

    /// Makes local paths absolute: distribution, templates, identity, known_hosts, and
    /// for `connection: local` hosts also their data and install dirs.
    mutating func resolvePaths() {
        func abs(_ p: String) -> String {
            let e = (p as NSString).expandingTildeInPath
            if e.hasPrefix("/") { return e }
            return URL(fileURLWithPath: baseDir).appendingPathComponent(e).standardizedFileURL.path
        }
        for i in hosts.indices {
            if let d = hosts[i].server.distribution { hosts[i].server.distribution = abs(d) }
            if let t = hosts[i].server.templates { hosts[i].server.templates = abs(t) }
            if let f = hosts[i].ssh.identityFile { hosts[i].ssh.identityFile = abs(f) }
            hosts[i].ssh.knownHosts = abs(hosts[i].ssh.knownHosts)
            if hosts[i].connection == .local {
                hosts[i].server.dataDir = abs(hosts[i].server.dataDir)
                hosts[i].server.installDir = abs(hosts[i].server.installDir)
            }
        }
    }
}

/// Collects issues while reading untyped YAML values.
private struct Reader {
    var issues: [InventoryIssue] = []

    mutating func issue(_ s: InventoryIssue.Severity, _ key: String, _ message: String) {
        issues.append(InventoryIssue(s, key, message))
    }

    mutating func string(_ m: [String: Any], _ k: String, _ p: String) -> String? {
        guard let v = m[k] else { return nil }
        if let s = v as? String { return s }
        if let i = v as? Int { return String(i) }
        if let d = v as? Double { return String(d) }
        if let b = v as? Bool { return String(b) }
        issue(.error, "\(p).\(k)", "expected a string")
        return nil
    }

    mutating func int(_ m: [String: Any], _ k: String, _ p: String) -> Int? {
        guard let v = m[k] else { return nil }
        if let i = v as? Int { return i }
        if let s = v as? String, let i = Int(s) { return i }
        issue(.error, "\(p).\(k)", "expected an integer, got '\(v)'")
        return nil
    }

    mutating func applyServer(_ m: [String: Any], prefix p: String, to s: inout ServerSettings, allowHostKeys: Bool) {
        for (k, v) in m.sorted(by: { $0.key < $1.key }) {
            switch k {
            case "flavor":
                if let f = string(m, k, p) {
                    if let fl = Flavor(rawValue: f) { s.flavor = fl } else { issue(.error, "\(p).flavor", "unknown flavor '\(f)' (swift or apache)") }
                }
            case "tickTime": if let i = int(m, k, p) { s.tickTime = i }
            case "initLimit": if let i = int(m, k, p) { s.initLimit = i }
            case "syncLimit": if let i = int(m, k, p) { s.syncLimit = i }
            case "clientPort": if let i = int(m, k, p) { s.clientPort = i }
            case "quorumPort": if let i = int(m, k, p) { s.quorumPort = i }
            case "electionPort": if let i = int(m, k, p) { s.electionPort = i }
            case "dataDir": if let x = string(m, k, p) { s.dataDir = x }
            case "installDir": if let x = string(m, k, p) { s.installDir = x }
            case "distribution": if let x = string(m, k, p) { s.distribution = x }
            case "templates": if let x = string(m, k, p) { s.templates = x }
            case "javaOptions": if let x = string(m, k, p) { s.javaOptions = x }
            case "config":
                guard let cm = v as? [String: Any] else { issue(.error, "\(p).config", "expected a map of zoo.cfg keys"); continue }
                for (ck, cv) in cm.sorted(by: { $0.key < $1.key }) {
                    if ck.hasPrefix("server.") || ck == "dynamicConfigFile" {
                        issue(.error, "\(p).config.\(ck)", "managed by zkops; set hosts instead")
                        continue
                    }
                    s.config[ck] = "\(cv)"
                }
            default:
                issue(.error, "\(p).\(k)", "unknown key")
            }
        }
    }

    mutating func applySSH(_ m: [String: Any], prefix p: String, to s: inout SSHSettings) {
        for (k, v) in m.sorted(by: { $0.key < $1.key }) {
            switch k {
            case "user": if let x = string(m, k, p) { s.user = x }
            case "port": if let i = int(m, k, p) { s.port = i }
            case "identityFile":
                if v is NSNull { s.identityFile = nil } else if let x = string(m, k, p) { s.identityFile = x.isEmpty ? nil : x }
            case "knownHosts": if let x = string(m, k, p) { s.knownHosts = x }
            case "passphraseEnv": if let x = string(m, k, p) { s.passphraseEnv = x }
            default: issue(.error, "\(p).\(k)", "unknown key")
            }
        }
    }
}

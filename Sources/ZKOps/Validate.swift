import Foundation

/// What validation may look at beyond the inventory itself (injected so tests need no files).
public struct ValidationEnvironment: Sendable {
    /// Does a local path exist?
    public var fileExists: @Sendable (String) -> Bool
    /// The `--binary` given to deploy (swift flavor), if any.
    public var binary: String?
    /// Whether the command needs the swift binary (deploy) or only renders (render/plan).
    public var requireBinary: Bool
    /// False for `render`, which reads templates only: no key, distribution or binary needed.
    public var checkDeployFiles: Bool

    public init(fileExists: @escaping @Sendable (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
                binary: String? = nil, requireBinary: Bool = false, checkDeployFiles: Bool = true) {
        self.fileExists = fileExists
        self.binary = binary
        self.requireBinary = requireBinary
        self.checkDeployFiles = checkDeployFiles
    }
}

extension Inventory {
    /// Every problem with this inventory: the parse issues plus cross-host checks
    /// (ids, address:port clashes, participants, missing files). Errors block any
    /// command; warnings (an even number of participants) are printed.
    public func validate(_ env: ValidationEnvironment = ValidationEnvironment()) -> [InventoryIssue] {
        var out = parseIssues
        func err(_ k: String, _ m: String) { out.append(InventoryIssue(.error, k, m)) }

        var ids: [Int: Int] = [:]
        var names: [String: Int] = [:]
        var endpoints: [String: (Int, String)] = [:]
        for (i, h) in hosts.enumerated() {
            let p = "hosts[\(i)]"
            if !(1...255).contains(h.id) {
                err("\(p).id", "id \(h.id) out of range (1...255)")
            } else if let j = ids[h.id] {
                err("\(p).id", "duplicate id \(h.id) (also hosts[\(j)] \(hosts[j].name))")
            } else {
                ids[h.id] = i
            }
            if let j = names[h.name], !h.name.isEmpty {
                err("\(p).name", "duplicate name '\(h.name)' (also hosts[\(j)])")
            } else {
                names[h.name] = i
            }
            if h.name.isEmpty || h.name.contains("/") || h.name.contains(" ") {
                err("\(p).name", "'\(h.name)' is not a usable host name")
            }
            if h.address.isEmpty { err("\(p).address", "empty address") }
            for (key, port) in [("clientPort", h.server.clientPort), ("quorumPort", h.server.quorumPort), ("electionPort", h.server.electionPort)] {
                guard (1...65535).contains(port) else {
                    err("\(p).\(key)", "port \(port) out of range")
                    continue
                }
                let ep = "\(h.address):\(port)"
                if let (j, other) = endpoints[ep] {
                    err("\(p).\(key)", "duplicate address:port \(ep) (also hosts[\(j)].\(other))")
                } else {
                    endpoints[ep] = (i, key)
                }
            }
            for (key, dir) in [("dataDir", h.server.dataDir), ("installDir", h.server.installDir)] where !dir.hasPrefix("/") {
                err("\(p).\(key)", "must be an absolute path on the host: '\(dir)'")
            }
            for (key, v) in [("tickTime", h.server.tickTime), ("initLimit", h.server.initLimit), ("syncLimit", h.server.syncLimit)] where v <= 0 {
                err("\(p).\(key)", "must be positive")
            }
            switch h.server.flavor {
            case _ where !env.checkDeployFiles:
                break
            case .apache:
                if let d = h.server.distribution {
                    if !env.fileExists(d) { err("\(p).distribution", "Apache distribution not found: \(d)") }
                } else {
                    err("\(p).distribution", "the apache flavor needs a distribution (a ZooKeeper tarball or directory)")
                }
            case .swift:
                if env.requireBinary {
                    if let b = env.binary {
                        if !env.fileExists(b) { err("--binary", "zkserver binary not found: \(b)") }
                    } else {
                        err("--binary", "the swift flavor needs --binary PATH (a zkserver build)")
                    }
                }
            }
            if let t = h.server.templates, !env.fileExists(t) {
                err("\(p).templates", "template folder not found: \(t)")
            }
            if h.connection == .ssh {
                if env.checkDeployFiles, let f = h.ssh.identityFile, !env.fileExists(f) {
                    err("\(p).identityFile", "identity file not found: \(f)")
                }
                if !(1...65535).contains(h.ssh.port) { err("\(p).port", "ssh port \(h.ssh.port) out of range") }
            }
        }
        if !hosts.isEmpty && participants.isEmpty {
            err("hosts", "no participant: at least one host must have role participant")
        }
        if hosts.isEmpty && !out.contains(where: { $0.key == "hosts" }) {
            err("hosts", "no hosts")
        }
        if participants.count > 1 && participants.count % 2 == 0 {
            out.append(InventoryIssue(.warning, "hosts", "\(participants.count) participants: an even number tolerates no more failures (\((participants.count - 1) / 2)) than \(participants.count - 1) would"))
        }
        return out
    }

    /// Validates and throws `InventoryError` if there is any error.
    public func checked(_ env: ValidationEnvironment = ValidationEnvironment(), path: String) throws -> [InventoryIssue] {
        let issues = validate(env)
        if issues.contains(where: { $0.severity == .error }) {
            throw InventoryError(path: path, issues: issues)
        }
        return issues.filter { $0.severity == .warning }
    }
}

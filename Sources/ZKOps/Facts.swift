import Foundation
import ZKSSH

/// One question the facts script asks a host. The whole list goes to the host as one shell
/// command (one SSH round trip per host, however many files there are).
enum FactQuery: Codable, Equatable, Sendable {
    /// sha256 lines (`hex  path`) of the paths that exist, cached on the host (see `cachedHashCommand`).
    case hashes(paths: [String], cacheDir: String)
    /// A file's contents; `ok` when it exists and is readable.
    case file(path: String)
    /// The `dynamicConfigFile` that `zooCfg` names (else `fallback`) as text, its contents as extra.
    case dynamicFile(zooCfg: String, fallback: String)
    /// `ok` when the launcher exists; text `<status exit code> <1 if the restart marker exists>`.
    case launcher(path: String, restartMarker: String)
    /// `ok` when the shell test succeeds (the previous version is kept).
    case test(command: String)
    /// /proc/net/tcp and tcp6, for the ports something listens on.
    case listeningPorts
    /// `df -Pk` of `path`, or of its nearest existing parent.
    case freeSpace(path: String)
    /// The java the Apache launcher would run (JAVA_HOME/bin/java, else java on PATH); `ok` if found.
    case java
    /// `ok` when `path` is a directory (the hash cache exists, so deploy need not create it).
    case directory(path: String)
    /// `ok` when the host has zstd.
    case zstd
}

/// A query's answer: what it printed, whether it succeeded, and a second text for `dynamicFile`.
struct FactAnswer: Equatable, Sendable {
    var text = ""
    var ok = false
    var extra: String?
}

/// Shell: `sha256sum`-style lines for `paths` (already quoted), re-hashing a file only when its
/// size, ctime or inode changed since the hash was cached in `cacheDir`. Reading a 100 MB binary
/// on every host was most of a no-change deploy; ctime cannot be set back by a user and an
/// `mv` over the file changes the inode, so a replaced file is always hashed again. Reading
/// changes nothing: without `cacheDir` (deploy creates it) nothing is cached.
func cachedHashCommand(paths: String, cacheDir: String) -> String {
    let d = shellQuote(cacheDir)
    return "for p in \(paths); do h=; [ -f \"$p\" ] || continue; "
        + "k=\(d)/$(printf '%s' \"$p\" | tr / %); s=$(stat -c '%s %Z %i' -- \"$p\"); "
        + "if [ -f \"$k\" ] && [ \"$(sed -n 1p \"$k\")\" = \"$s\" ]; then h=$(sed -n 2p \"$k\"); "
        + "else h=$(sha256sum -- \"$p\" | cut -d' ' -f1); { printf '%s\\n%s\\n' \"$s\" \"$h\" > \"$k.tmp\"; } 2>/dev/null && mv \"$k.tmp\" \"$k\" 2>/dev/null; fi; "
        + "[ -n \"$h\" ] && printf '%s  %s\\n' \"$h\" \"$p\"; done; true"
}

/// The facts script: one shell command asking every query, answers in sections.
///
/// Output: for query `i`, a marker line `@<nonce> i`, its text; `@<nonce> i +` and the extra
/// text; `@<nonce> i ok` when it succeeded. Each marker starts with a newline of its own, so a
/// file's bytes come back exactly. The first line is a comment with the queries as JSON, which
/// the shell ignores and test fakes answer from.
struct FactsScript {
    var queries: [FactQuery]
    var nonce: String

    init(_ queries: [FactQuery], nonce: String = String(UUID().uuidString.prefix(8))) {
        self.queries = queries
        self.nonce = nonce
    }

    static let header = "# zkops-facts "

    var command: String {
        let json = (try? JSONEncoder().encode(QueryList(nonce: nonce, queries: queries))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var s = Self.header + json + "\n"
        s += "m() { printf '\\n@\(nonce) %s\\n' \"$1\"; }\n"
        s += "near() { p=$1; while [ ! -e \"$p\" ] && [ \"$p\" != / ]; do p=$(dirname \"$p\"); done; printf '%s' \"$p\"; }\n"
        for (i, q) in queries.enumerated() {
            s += "m \(i); "
            switch q {
            case let .hashes(paths, cacheDir):
                s += "{ " + cachedHashCommand(paths: paths.map(shellQuote).joined(separator: " "), cacheDir: cacheDir) + "; }; m '\(i) ok'"
            case let .file(path):
                s += "cat -- \(shellQuote(path)) 2>/dev/null && m '\(i) ok'"
            case let .dynamicFile(zooCfg, fallback):
                // The last dynamicConfigFile= line wins, as in ZooConfig.parse; trailing blanks dropped.
                s += "d=$(sed -n 's/^[[:space:]]*dynamicConfigFile[[:space:]]*=[[:space:]]*//p' \(shellQuote(zooCfg)) 2>/dev/null"
                    + " | tail -n 1 | sed 's/[[:space:]]*$//'); [ -n \"$d\" ] || d=\(shellQuote(fallback)); printf '%s' \"$d\"; "
                    + "m '\(i) +'; cat -- \"$d\" 2>/dev/null && m '\(i) ok'"
            case let .launcher(path, marker):
                s += "if [ -f \(shellQuote(path)) ]; then sh \(shellQuote(path)) status >/dev/null 2>&1; r=$?; "
                    + "if [ -e \(shellQuote(marker)) ]; then echo \"$r 1\"; else echo \"$r 0\"; fi; m '\(i) ok'; fi"
            case let .test(command):
                s += "if \(command) 2>/dev/null; then m '\(i) ok'; fi"
            case .listeningPorts:
                s += "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; m '\(i) ok'"
            case let .freeSpace(path):
                s += "df -Pk -- \"$(near \(shellQuote(path)))\" 2>/dev/null | tail -n 1 && m '\(i) ok'"
            case .java:
                s += "J=java; [ -n \"${JAVA_HOME:-}\" ] && J=\"$JAVA_HOME/bin/java\"; command -v \"$J\" 2>/dev/null && m '\(i) ok'"
            case let .directory(path):
                s += "[ -d \(shellQuote(path)) ] && m '\(i) ok'"
            case .zstd:
                s += "command -v zstd >/dev/null 2>&1 && m '\(i) ok'"
            }
            s += "\n"
        }
        s += "m end; true\n"
        return s
    }

    struct QueryList: Codable {
        var nonce: String
        var queries: [FactQuery]
    }

    /// The queries a facts command asks (for test fakes), or nil if it is not one.
    static func decode(command: String) -> QueryList? {
        guard command.hasPrefix(header), let nl = command.firstIndex(of: "\n") else { return nil }
        return try? JSONDecoder().decode(QueryList.self, from: Data(command[command.index(command.startIndex, offsetBy: header.count)..<nl].utf8))
    }

    /// What the script prints for `answers` (test fakes use it; the parser's inverse).
    static func encode(_ answers: [FactAnswer], nonce: String) -> String {
        var s = ""
        for (i, a) in answers.enumerated() {
            s += "\n@\(nonce) \(i)\n" + a.text
            if let e = a.extra { s += "\n@\(nonce) \(i) +\n" + e }
            if a.ok { s += "\n@\(nonce) \(i) ok\n" }
        }
        return s + "\n@\(nonce) end\n"
    }

    /// Splits the script's output into one answer per query. Throws when the output is cut
    /// short (the end marker missing): half an answer must not look like "file missing".
    func parse(_ output: String) throws -> [FactAnswer] {
        var sections: [String: String] = [:]
        let marker = "\n@\(nonce) "
        var pieces = output.components(separatedBy: marker)
        pieces.removeFirst()
        for p in pieces {
            let (label, body) = p.firstIndex(of: "\n").map { (String(p[..<$0]), String(p[p.index(after: $0)...])) } ?? (p, "")
            sections[label] = body
        }
        guard sections["end"] != nil else { throw FactsError("the facts script's output ended early") }
        return queries.indices.map { i in
            FactAnswer(text: sections["\(i)"] ?? "", ok: sections["\(i) ok"] != nil, extra: sections["\(i) +"])
        }
    }
}

struct FactsError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Free space where a directory is (or will be created).
public struct FreeSpace: Sendable, Equatable, Codable {
    public var path: String
    public var mount: String
    public var availableKiB: Int

    /// Parses the last line of `df -Pk` (filesystem, blocks, used, available, capacity, mount).
    static func parse(dfLine: String, path: String) -> FreeSpace? {
        let f = dfLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard f.count >= 6, let avail = Int(f[3]) else { return nil }
        return FreeSpace(path: path, mount: f[5...].joined(separator: " "), availableKiB: avail)
    }
}

/// The ports in LISTEN state (state 0A) in /proc/net/tcp and tcp6 text.
func listeningPorts(procNetTCP text: String) -> Set<Int> {
    var ports = Set<Int>()
    for line in text.split(separator: "\n") {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count > 3, f[3] == "0A", let colon = f[1].lastIndex(of: ":"),
              let port = Int(f[1][f[1].index(after: colon)...], radix: 16) else { continue }
        ports.insert(port)
    }
    return ports
}

/// Reads a host's current state (no change), in one round trip.
public func gatherFacts(_ conn: any HostConnection, host: HostSpec, rendered: [RenderedFile], artifacts: [Artifact]) throws -> HostFacts {
    let layout = HostLayout(host.server)
    var queries: [FactQuery] = []
    if !artifacts.isEmpty { queries.append(.hashes(paths: artifacts.map(\.remotePath), cacheDir: layout.hashCacheDir)) }
    queries += rendered.map { .file(path: $0.remotePath) }
    queries.append(.dynamicFile(zooCfg: layout.zooCfg, fallback: layout.dynamicFile))
    queries.append(.launcher(path: layout.launcher, restartMarker: layout.restartMarker))
    queries.append(.test(command: VersionSlot(host).hasPrevious))
    queries.append(.listeningPorts)
    queries.append(.freeSpace(path: layout.installDir))
    queries.append(.freeSpace(path: layout.dataDir))
    if host.server.flavor == .apache { queries.append(.java) }
    queries.append(.directory(path: layout.hashCacheDir))
    if !artifacts.isEmpty { queries.append(.zstd) }
    let script = FactsScript(queries)
    let r = try conn.run(script.command, host: host.name, step: "read state", timeout: 120)
    let answers: [FactAnswer]
    do { answers = try script.parse(r.stdoutString) } catch {
        throw OpsError(host: host.name, step: "read state", "\(error)", detail: r.stderrString)
    }
    var facts = HostFacts()
    for (q, a) in zip(queries, answers) {
        switch q {
        case .hashes:
            for line in a.text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2 { facts.sha256[String(parts[1]).trimmingCharacters(in: .whitespaces)] = String(parts[0]) }
            }
        case let .file(path):
            if a.ok { facts.files[path] = a.text }
        case .dynamicFile:
            if a.ok { facts.dynamic = a.extra }
            // The shell's reading of dynamicConfigFile must be ours; if not, ask again by our parse.
            if let zoo = facts.files[layout.zooCfg] {
                let pointer = ZooConfig.parse(zoo)["dynamicConfigFile"] ?? layout.dynamicFile
                if pointer != a.text {
                    let d = try conn.exec("cat -- \(shellQuote(pointer))", timeout: 30)
                    facts.dynamic = d.status == 0 ? d.stdoutString : nil
                }
            }
        case .launcher:
            if a.ok {
                let f = a.text.split(separator: " ")
                facts.running = f.first == "0"
                facts.restartPending = f.count > 1 && f[1].hasPrefix("1")
            }
        case .test:
            facts.keepsPrevious = !artifacts.isEmpty && a.ok
        case .listeningPorts:
            facts.listening = a.ok ? listeningPorts(procNetTCP: a.text) : nil
        case let .freeSpace(path):
            let space = a.ok ? FreeSpace.parse(dfLine: a.text, path: path) : nil
            if path == layout.installDir { facts.installSpace = space } else { facts.dataSpace = space }
        case .java:
            facts.java = a.ok ? a.text.trimmingCharacters(in: .whitespacesAndNewlines) : ""
        case .directory:
            facts.hashCacheReady = a.ok
        case .zstd:
            facts.zstd = a.ok
        }
    }
    return facts
}

/// The ports a host's server will listen on, with the inventory key that sets each.
public func serverPorts(_ host: HostSpec, ensemble: Bool) -> [(port: Int, key: String)] {
    var ports = [(host.server.clientPort, "clientPort")]
    if ensemble { ports += [(host.server.quorumPort, "quorumPort"), (host.server.electionPort, "electionPort")] }
    if host.server.flavor == .apache, host.server.config["admin.enableServer"] == "true" {
        ports.append((Int(host.server.config["admin.serverPort"] ?? "") ?? 8080, "config admin.serverPort"))
    }
    return ports
}

/// The least free space the dataDir must have: Apache preallocates its transaction log in
/// 64 MiB steps, and a server that cannot write its log stops serving.
public let minimumDataDirKiB = 64 * 1024

/// Preflight: what would stop this host's server from installing or starting, found from the
/// facts before anything is changed on any host. Pure. Empty when deploy leaves the host alone.
///
/// - ports: only when the server is not running (a running one holds its own ports).
/// - space: the installDir must take the uploads (they are written beside the old files, then
///   moved) plus a margin; the dataDir must have `minimumDataDirKiB`.
/// - java: the Apache flavor needs JAVA_HOME/bin/java or java on PATH.
public func preflightProblems(_ host: HostSpec, plan: HostPlan, facts: HostFacts, uploadBytes: Int,
                              ensemble: Bool) -> [String] {
    guard plan.action != .none || !plan.toWrite.isEmpty else { return [] }
    var problems: [String] = []
    if !facts.running, let listening = facts.listening {
        for (port, key) in serverPorts(host, ensemble: ensemble) where listening.contains(port) {
            problems.append("port \(port) (\(key)) is already in use by another process on \(host.name): stop it, or set "
                            + "another \(key) in the inventory")
        }
    }
    func mib(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }
    let layout = HostLayout(host.server)
    let needInstallKiB = uploadBytes / 1024 + 8 * 1024
    if let s = facts.installSpace, s.availableKiB < needInstallKiB {
        problems.append("installDir \(layout.installDir): only \(mib(s.availableKiB)) free on \(s.mount), the upload needs "
                        + "\(mib(needInstallKiB)): free space there or choose another installDir")
    }
    if let s = facts.dataSpace, s.availableKiB < minimumDataDirKiB {
        problems.append("dataDir \(layout.dataDir) is on a full disk: \(mib(s.availableKiB)) free on \(s.mount), the server "
                        + "needs at least \(mib(minimumDataDirKiB)) for its transaction log")
    }
    if host.server.flavor == .apache, facts.java == "" {
        problems.append("java not found on \(host.name) (the apache flavor runs JAVA_HOME/bin/java, else java on PATH): "
                        + "install a JRE (Debian: apt-get install default-jre-headless) or set JAVA_HOME for the SSH user")
    }
    return problems
}

/// A zkserver binary that cannot run on hosts without this machine's Swift toolchain: one that
/// loads the Swift runtime dynamically. Returns why (nil when it is self-contained).
public func binaryNotSelfContained(_ path: String) -> String? {
    guard let r = try? LocalConnection().exec("ldd \(shellQuote(path)) 2>&1", timeout: 30), r.status == 0 else { return nil }
    let swiftLibs = r.stdoutString.split(separator: "\n").filter { $0.contains("libswift") || $0.contains("libFoundation") }
    guard let first = swiftLibs.first else { return nil }
    return "--binary \(path) is not self-contained: it loads the Swift runtime dynamically "
        + "(\(first.trimmingCharacters(in: .whitespaces))), which hosts without this toolchain do not have. "
        + "Build it with: swift build -c release --static-swift-stdlib --product zkserver"
}

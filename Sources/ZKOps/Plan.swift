import Foundation
import ZKSSH

/// A file deploy copies as is (the zkserver binary, or an Apache distribution's jars).
public struct Artifact: Sendable, Equatable {
    public var localPath: String
    public var remotePath: String
    public var mode: Int32
    public var sha256: String

    public init(localPath: String, remotePath: String, mode: Int32, sha256: String) {
        self.localPath = localPath; self.remotePath = remotePath; self.mode = mode; self.sha256 = sha256
    }
}

/// Hashes of local files kept across runs (`$XDG_CACHE_HOME/zkops/sha256`, else
/// `~/.cache/zkops/sha256`): hashing a 100 MB binary was half a second of every deploy. An
/// entry is used only while the file's device, inode, size, mtime and ctime are all unchanged
/// (any write or replacement changes ctime, which a user cannot set back). A cache that cannot
/// be read or written is simply not used.
struct LocalHashCache {
    var dir: String

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache")
        dir = base + "/zkops/sha256"
    }

    /// What identifies this version of the file; nil if it cannot be stat-ed.
    static func stamp(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return "\(st.st_dev) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    }

    /// The file's mtime in seconds, for the archive header.
    static func mtime(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec)
    }

    func entry(_ path: String) -> String {
        let abs = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return dir + "/" + abs.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
    }

    func lookup(_ path: String) -> String? {
        guard let stamp = Self.stamp(path),
              let text = try? String(contentsOfFile: entry(path), encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0] == stamp, lines[1].count == 64 else { return nil }
        return String(lines[1])
    }

    /// Records `hash`, if the file still has the `stamp` it had before it was hashed.
    func store(_ path: String, hash: String, stamp: String?) {
        guard let stamp, Self.stamp(path) == stamp else { return }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = entry(path) + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data("\(stamp)\n\(hash)\n".utf8)) else { return }
        if rename(tmp, entry(path)) != 0 { unlink(tmp) }
    }
}

/// Builds the artifact list per host, hashing each local file once.
public final class ArtifactBuilder: @unchecked Sendable {
    private var hashes: [String: String] = [:]
    private var extracted: [String: String] = [:]
    private let lock = NSLock()

    public init() {}

    private func hash(_ path: String) throws -> String {
        if let h = lock.withLock({ hashes[path] }) { return h }
        // sha256sum is far faster than our portable SHA-256 in a debug build; same digest.
        let cache = LocalHashCache()
        let stamp = LocalHashCache.stamp(path)
        if let h = cache.lookup(path) {
            lock.withLock { hashes[path] = h }
            return h
        }
        let h: String
        if let r = try? LocalConnection().exec("sha256sum -- \(shellQuote(path))", timeout: 300), r.status == 0,
           let first = r.stdoutString.split(separator: " ").first, first.count == 64 {
            h = String(first)
        } else {
            h = try SHA256.hex(fileAtPath: path)
        }
        cache.store(path, hash: h, stamp: stamp)
        lock.withLock { hashes[path] = h }
        return h
    }

    /// The directory holding an Apache distribution: itself, or a tarball extracted
    /// once into a temporary directory (its single top folder stripped).
    private func distributionDir(_ dist: String, host: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dist, isDirectory: &isDir) else {
            throw OpsError(host: host, step: "distribution", "not found: \(dist)")
        }
        if isDir.boolValue { return dist }
        if let d = lock.withLock({ extracted[dist] }) { return d }
        let tmp = NSTemporaryDirectory() + "zkops-dist-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let r = try LocalConnection().exec("tar -xzf \(shellQuote(dist)) -C \(shellQuote(tmp)) --strip-components=1", timeout: 120)
        guard r.status == 0 else {
            throw OpsError(host: host, step: "distribution", "cannot extract \(dist)", detail: r.stderrString)
        }
        lock.withLock { extracted[dist] = tmp }
        return tmp
    }

    /// What to copy to `host`: for swift the binary, for apache the distribution's lib/*.jar.
    public func artifacts(for host: HostSpec, binary: String?) throws -> [Artifact] {
        let layout = HostLayout(host.server)
        switch host.server.flavor {
        case .swift:
            guard let binary else { return [] }
            return [Artifact(localPath: binary, remotePath: layout.binary, mode: 0o755, sha256: try hash(binary))]
        case .apache:
            guard let dist = host.server.distribution else {
                throw OpsError(host: host.name, step: "distribution", "no distribution set for the apache flavor")
            }
            let dir = try distributionDir(dist, host: host.name)
            let lib = dir + "/lib"
            let jars = ((try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []).filter { $0.hasSuffix(".jar") }.sorted()
            guard jars.contains(where: { $0.hasPrefix("zookeeper") }) else {
                throw OpsError(host: host.name, step: "distribution", "\(dist) has no lib/zookeeper*.jar: not an Apache ZooKeeper binary distribution")
            }
            return try jars.map { j in
                Artifact(localPath: lib + "/" + j, remotePath: layout.libDir + "/" + j, mode: 0o644, sha256: try hash(lib + "/" + j))
            }
        }
    }
}

/// What zkops read from a host before changing anything.
public struct HostFacts: Sendable, Equatable {
    /// sha256 of remote files that exist (path → hex).
    public var sha256: [String: String] = [:]
    /// Contents of the small config files that exist (path → text).
    public var files: [String: String] = [:]
    /// The dynamic file zoo.cfg currently points to (or ours), if readable.
    public var dynamic: String?
    /// The launcher reports the server running.
    public var running = false
    /// An earlier deploy wrote new files but did not get to restart the server on them.
    public var restartPending = false
    /// The host keeps a previous version (`.prev`, left by `zkops upgrade` / `rollback`): its
    /// current version was chosen by those commands, and deploy does not replace it unasked.
    public var keepsPrevious = false
    /// Preflight: ports something listens on (nil: unknown), free space where installDir and
    /// dataDir are, and the java the Apache launcher would run ("" when none; nil: not asked).
    public var listening: Set<Int>?
    public var installSpace: FreeSpace?
    public var dataSpace: FreeSpace?
    public var java: String?
    /// The host's hash cache directory exists (see `cachedHashCommand`).
    public var hashCacheReady = false
    /// The host has zstd (deploy then streams files compressed).
    public var zstd = false

    public init(sha256: [String: String] = [:], files: [String: String] = [:], dynamic: String? = nil, running: Bool = false,
                restartPending: Bool = false) {
        self.sha256 = sha256; self.files = files; self.dynamic = dynamic; self.running = running
        self.restartPending = restartPending
    }
}

/// A file's state on the host compared with what deploy would write.
public enum FileState: String, Sendable, Codable {
    case missing, changed, same
    /// The server lines differ, and the running ensemble changes them itself by `reconfig`:
    /// not written, no restart.
    case reconfig
}

/// One line of a plan.
public struct FilePlan: Sendable, Codable, Equatable {
    public var name: String
    public var path: String
    public var state: FileState
}

/// What deploy will do to the server process.
public enum ServerAction: String, Sendable, Codable {
    /// Not running: start it.
    case start
    /// Running, but something it reads changed (or a restart is pending): stop, then
    /// start — one host at a time, the leader last, when the ensemble is healthy.
    case restart
    /// Running and nothing it reads changed.
    case none
}

/// The plan for one host. Pure data, computed by `planHost`.
public struct HostPlan: Sendable, Codable, Equatable {
    public var host: String
    public var files: [FilePlan]
    public var running: Bool
    public var action: ServerAction
    /// Set when deploy would replace a version that `zkops upgrade` / `rollback` installed (the
    /// host keeps a `.prev`): deploy refuses unless told `--replace-version`.
    public var versionHeld: String? = nil

    /// Files deploy writes.
    public var toWrite: [FilePlan] { files.filter { $0.state != .same && $0.state != .reconfig } }
}

/// Compares what deploy would write with what the host has. Pure.
///
/// zoo.cfg and the dynamic file are compared by meaning (`ZooConfig.effective`): the
/// server rewrites them itself. Artifacts compare by sha256, the rest by bytes.
///
/// With `membershipByReconfig`, a difference in the server lines alone is left to the `reconfig`
/// that the deploy issues (state `.reconfig`): the running server rewrites its own dynamic file.
public func planHost(_ host: HostSpec, rendered: [RenderedFile], artifacts: [Artifact], facts: HostFacts,
                     membershipByReconfig: Bool = false) -> HostPlan {
    var files: [FilePlan] = []
    var restartNeeded = facts.restartPending
    for a in artifacts {
        let state: FileState = facts.sha256[a.remotePath] == nil ? .missing : (facts.sha256[a.remotePath] == a.sha256 ? .same : .changed)
        files.append(FilePlan(name: (a.remotePath as NSString).lastPathComponent, path: a.remotePath, state: state))
        if state != .same { restartNeeded = true }
    }
    let zoo = rendered.first { $0.kind == .zooCfg }
    let dyn = rendered.first { $0.kind == .dynamic }
    var want: [String: String] = [:]
    var have: [String: String]? = nil
    if let zoo {
        want = ZooConfig.effective(zooCfg: zoo.content, dynamic: dyn?.content, myid: host.id)
        if let remote = facts.files[zoo.remotePath] {
            have = ZooConfig.effective(zooCfg: remote, dynamic: facts.dynamic, myid: host.id)
        }
    }
    for f in rendered {
        let state: FileState
        switch f.kind {
        case .zooCfg:
            if let have {
                let a = want.filter { !$0.key.hasPrefix("server.") }, b = have.filter { !$0.key.hasPrefix("server.") }
                state = a == b ? .same : .changed
            } else {
                state = .missing
            }
        case .dynamic:
            if let have, facts.dynamic != nil {
                let a = want.filter { $0.key.hasPrefix("server.") }, b = have.filter { $0.key.hasPrefix("server.") }
                state = a == b ? .same : (membershipByReconfig && facts.running ? .reconfig : .changed)
            } else {
                state = .missing
            }
        case .plain:
            if let remote = facts.files[f.remotePath] {
                state = remote == f.content ? .same : .changed
            } else {
                state = .missing
            }
        }
        files.append(FilePlan(name: f.name, path: f.remotePath, state: state))
        // The launcher is only read when starting; anything else the server reads.
        if state != .same && state != .reconfig && f.name != "zkops-server" { restartNeeded = true }
    }
    let action: ServerAction = !facts.running ? .start : (restartNeeded ? .restart : .none)
    var plan = HostPlan(host: host.name, files: files, running: facts.running, action: action)
    if facts.keepsPrevious, let a = artifacts.first(where: { a in files.contains { $0.path == a.remotePath && $0.state == .changed } }) {
        plan.versionHeld = "\(host.name) runs a version installed by `zkops upgrade`/`rollback` (it keeps "
            + "\(VersionSlot(host).previous)); deploy would replace it with \(a.localPath): pass deploy the version the "
            + "hosts run, use `zkops upgrade` / `zkops rollback` to change versions, or --replace-version"
    }
    return plan
}

import Foundation
import ZKSSH

/// Everything deploy changes on one host, as one shell command whose stdin is a ustar archive
/// of the new files: one SSH round trip per host (it was two per file, plus one per step).
///
/// The files land next to their targets under a temporary name (same directory, so the same
/// filesystem) and are renamed into place only once all of them arrived; a transfer that
/// fails (a full disk, a dropped connection) removes what it staged and leaves every target
/// as it was. The first line is a comment with the script as JSON, which the shell ignores
/// and test fakes act on.
struct ApplyScript: Codable, Equatable {
    struct File: Codable, Equatable {
        var path: String
        var mode: Int32
        /// An artifact's sha256: recorded in the host's hash cache once installed, so the next
        /// deploy does not read the file again to hash it.
        var sha256: String?
    }

    enum Action: String, Codable { case none, markRestart, start }

    var nonce: String
    var dirs: [String]
    /// In archive order; artifacts first.
    var files: [File]
    var hashCacheDir: String
    /// Set when zoo.cfg or the dynamic file changed: the versioned dynamic files an earlier run
    /// left in this directory would contradict the new config.
    var staleDynamicDir: String?
    var action: Action
    var launcher: String
    var restartMarker: String
    /// "zstd" when the stream is zstd-compressed (both ends have zstd), else nil.
    var compression: String? = nil

    static let header = "# zkops-apply "

    /// The temporary name a file is received under. An artifact's is named by its hash, so its
    /// archive member is the same for every host and is compressed once per run.
    func staged(_ f: File) -> String { f.path + ".zkops-new." + (f.sha256.map { String($0.prefix(12)) } ?? nonce) }

    /// The archive member that carries `f`, relative to /.
    func member(_ f: File, _ data: Data, mtime: Int?) -> Ustar.Member {
        Ustar.Member(name: String(staged(f).drop { $0 == "/" }), mode: f.mode, data: data, mtime: mtime)
    }

    var command: String {
        let json = String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
        let q = shellQuote
        var s = [ApplyScript.header + json]
        let staged = files.map { q(self.staged($0)) }.joined(separator: " ")
        s.append("fail() { printf 'zkops: %s\\n' \"$1\" >&2; rm -f -- \(staged); exit 1; }")
        s.append("mkdir -p -- \(dirs.map(q).joined(separator: " ")) || fail 'cannot create the directories'")
        if !files.isEmpty {
            if compression == "zstd" {
                // A zstd that fails leaves tar a truncated archive, so tar fails too.
                s.append("zstd -dcq | tar -xf - -C / || fail 'receiving the files failed'")
            } else {
                s.append("tar -xf - -C / || fail 'receiving the files failed'")
            }
            for f in files {
                let t = q(self.staged(f))
                s.append("[ -f \(t) ] || fail \(q("\(f.path) was not received"))")
                s.append("chmod \(String(f.mode, radix: 8)) \(t) || fail \(q("cannot chmod \(f.path)"))")
            }
            for f in files {
                s.append("mv -f -- \(q(self.staged(f))) \(q(f.path)) || fail \(q("cannot install \(f.path)"))")
            }
            for f in files {
                guard let h = f.sha256 else { continue }
                let k = q(hashCacheDir + "/" + f.path.replacingOccurrences(of: "/", with: "%"))
                s.append("{ printf '%s\\n%s\\n' \"$(stat -c '%s %Z %i' -- \(q(f.path)))\" \(h) > \(k).tmp && mv -f \(k).tmp \(k); } 2>/dev/null")
            }
        }
        if let d = staleDynamicDir {
            s.append("rm -f \(q(d))/zoo.cfg.dynamic.* \(q(d))/zoo.cfg.bak")
        }
        switch action {
        case .none: break
        case .markRestart:
            // The restart itself comes later, one host at a time (see rollingRestart); the
            // marker makes a later deploy finish it if this one stops before.
            s.append("touch \(q(restartMarker)) || fail 'cannot mark the restart pending'")
        case .start:
            s.append("sh \(q(launcher)) start || exit 1")
            s.append("rm -f \(q(restartMarker))")
        }
        s.append("exit 0")
        return s.joined(separator: "\n")
    }

    /// The script a command carries in its first line (for test fakes).
    static func decode(command: String) -> ApplyScript? {
        guard command.hasPrefix(header), let line = command.split(separator: "\n").first else { return nil }
        return try? JSONDecoder().decode(ApplyScript.self, from: Data(line.dropFirst(header.count).utf8))
    }
}

/// Applies one host's plan in one round trip: dirs, artifacts, configs, then start or mark the
/// restart as planned. A host with nothing to change is not contacted again.
func applyHost(_ host: HostSpec, conn: any HostConnection, plan: HostPlan, rendered: [RenderedFile], artifacts: [Artifact],
               facts: HostFacts, context: OpsContext) throws -> [String] {
    let layout = HostLayout(host.server)
    let changed = Set(plan.toWrite.map(\.path))
    let uploads = artifacts.filter { changed.contains($0.remotePath) }
    // zoo.cfg and the dynamic file go together: our zoo.cfg points at our dynamic file.
    let configChanged = rendered.contains { ($0.kind == .zooCfg || $0.kind == .dynamic) && changed.contains($0.remotePath) }
    let configs = rendered.filter { changed.contains($0.remotePath) || (configChanged && $0.kind != .plain) }
    let action: ApplyScript.Action = plan.action == .start ? .start : plan.action == .restart ? .markRestart : .none
    if uploads.isEmpty && configs.isEmpty && action == .none && facts.hashCacheReady { return [] }

    var script = ApplyScript(
        nonce: String(UUID().uuidString.prefix(8)),
        dirs: [layout.confDir, layout.binDir, layout.libDir, layout.installDir + "/logs", layout.installDir + "/run",
               layout.hashCacheDir, layout.dataDir],
        files: uploads.map { .init(path: $0.remotePath, mode: $0.mode, sha256: $0.sha256) }
            + configs.map { .init(path: $0.remotePath, mode: $0.mode, sha256: nil) },
        hashCacheDir: layout.hashCacheDir, staleDynamicDir: configChanged ? layout.confDir : nil, action: action,
        launcher: layout.launcher, restartMarker: layout.restartMarker)
    let compress = !uploads.isEmpty && facts.zstd && LocalZstd.shared.available
    if compress { script.compression = "zstd" }
    let stream: Data
    do {
        var plain = Data(), packed = Data()
        for (f, a) in zip(script.files, uploads) {
            let mtime = LocalHashCache.mtime(a.localPath)
            func bytes() throws -> Data {
                guard let d = FileManager.default.contents(atPath: a.localPath) else {
                    throw OpsError(host: host.name, step: "upload \(a.remotePath)", "cannot read local \(a.localPath)")
                }
                return try Ustar.bytes(script.member(f, d, mtime: mtime))
            }
            if compress {
                packed.append(try LocalZstd.shared.frame(key: "\(script.staged(f)) \(f.mode) \(mtime ?? 0) \(a.localPath)", bytes))
            } else {
                plain.append(try bytes())
            }
        }
        for (f, c) in zip(script.files.dropFirst(uploads.count), configs) {
            plain.append(try Ustar.bytes(script.member(f, Data(c.content.utf8), mtime: nil)))
        }
        plain.append(Ustar.end)
        // zstd frames in a row decompress to their contents in a row.
        stream = compress ? packed + (try LocalZstd.shared.compress(plain)) : plain
    } catch let e as OpsError {
        throw e
    } catch {
        throw OpsError(host: host.name, step: "upload", "\(error)")
    }
    if !uploads.isEmpty { context.progress("\(host.name): uploading \(uploads.count) file(s)") }
    if action == .start { context.progress("\(host.name): \(uploads.isEmpty ? "" : "then ")starting") }
    let step = action == .start ? "install and start" : "install"
    try conn.run(script.command, stdin: script.files.isEmpty ? nil : stream, host: host.name, step: step,
                 timeout: 600)
    var done: [String] = []
    if !uploads.isEmpty { done.append("uploaded \(uploads.count) file(s)") }
    if !configs.isEmpty { done.append("wrote " + configs.map(\.name).joined(separator: ", ")) }
    if action == .start { done.append("started") }
    return done
}

/// The local zstd, if there is one: compresses what deploy streams to hosts that have zstd too
/// (a static zkserver is a third of its size at level 1, and decompressing costs a host less than
/// receiving the difference through SSH). An artifact's frame is made once per run, shared by all
/// hosts.
final class LocalZstd: @unchecked Sendable {
    static let shared = LocalZstd()

    let available: Bool = {
        (try? LocalConnection().exec("command -v zstd >/dev/null 2>&1", timeout: 10))?.status == 0
    }()
    private let lock = NSLock()
    private var frames: [String: Data] = [:]

    /// The compressed frame for `key`, made from `bytes()` by the first thread that asks; the
    /// others wait for it under the lock (they need that very frame next anyway).
    func frame(key: String, _ bytes: () throws -> Data) throws -> Data {
        try lock.withLock {
            if let f = frames[key] { return f }
            let f = try compress(try bytes())
            frames[key] = f
            return f
        }
    }

    func compress(_ data: Data) throws -> Data {
        let start = Date()
        defer { trace("local", "zstd \(data.count) bytes", start) }
        let r = try LocalConnection().exec("zstd -1 -T0 -q -c", stdin: data, timeout: 300)
        guard r.status == 0 else { throw OpsError(host: "local", step: "zstd", "exit \(r.status)", detail: r.stderrString) }
        return r.stdout
    }
}

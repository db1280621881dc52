import Foundation
import ZKSSH

/// Where a host keeps the version it runs, the one before, and one on its way in.
///
/// swift flavor: the binary `bin/zkserver`, `bin/zkserver.prev`, `bin/zkserver.new`.
/// apache flavor: the jar folder `lib`, `lib.prev`, `lib.new` (the launcher's classpath is `lib/*`).
/// A version that failed its gate after an upgrade is kept as `….failed` for a look.
public struct VersionSlot: Sendable, Equatable {
    public var current: String
    public var flavor: Flavor
    public var previous: String { current + ".prev" }
    public var incoming: String { current + ".new" }
    public var failed: String { current + ".failed" }

    public init(_ host: HostSpec) {
        let l = HostLayout(host.server)
        flavor = host.server.flavor
        current = flavor == .swift ? l.binary : l.libDir
    }

    /// Shell: the previous version exists.
    var hasPrevious: String { "test -e \(shellQuote(previous))" }

    /// Shell: the current version moves aside to `aside` (replacing what was there) and
    /// `replacement` becomes current.
    func replaceCurrent(with replacement: String, keepingItAs aside: String) -> String {
        let q = shellQuote
        return "rm -rf \(q(aside)) && mv \(q(current)) \(q(aside)) && mv \(q(replacement)) \(q(current))"
    }
}

/// `zkops upgrade`: `artifacts` is the new version per host (the binary, or a distribution's
/// jars, with their usual remote paths). A host already running exactly that is skipped. Otherwise
/// the new version is uploaded beside the old while the server still serves (`.new`); with the
/// server stopped the old one becomes `.prev` and the new one current; when the new one fails its
/// after-gate, `.prev` is put back (the failed one kept as `.failed`).
public func upgradeAction(artifacts: [String: [Artifact]]) -> RolloutAction {
    RolloutAction(
        name: "upgrade", verb: "upgrading",
        prepare: { host, conn in
            let slot = VersionSlot(host)
            let want = artifacts[host.name] ?? []
            if try runsExactly(want, host: host, slot: slot, conn: conn) { return nil }
            let q = shellQuote
            switch slot.flavor {
            case .swift:
                guard let a = want.first else { throw OpsError(host: host.name, step: "upgrade", "no binary given") }
                try upload(a, to: slot.incoming, host: host, conn: conn)
            case .apache:
                try conn.run("rm -rf \(q(slot.incoming)) && mkdir -p \(q(slot.incoming))", host: host.name, step: "prepare lib.new")
                for a in want {
                    try upload(a, to: slot.incoming + "/" + (a.remotePath as NSString).lastPathComponent, host: host, conn: conn)
                }
            }
            return ["uploaded the new version as \(slot.incoming)"]
        },
        whileStopped: { host, conn in
            let slot = VersionSlot(host)
            try conn.run(slot.replaceCurrent(with: slot.incoming, keepingItAs: slot.previous),
                         host: host.name, step: "install the new version")
            return ["new version in place; the old one kept as \(slot.previous)"]
        },
        restore: { host, conn in
            let slot = VersionSlot(host)
            try conn.run(slot.replaceCurrent(with: slot.previous, keepingItAs: slot.failed),
                         host: host.name, step: "restore the previous version")
            return ["previous version restored; the failed one kept as \(slot.failed)"]
        })
}

/// `zkops rollback`: on every host that keeps a previous version, swaps it with the current one
/// (so the version rolled back from becomes `.prev`: a second rollback undoes the first). Hosts
/// without one are skipped. A host that fails its after-gate is swapped back.
public func rollbackAction() -> RolloutAction {
    @Sendable func swap(_ host: HostSpec, _ conn: any HostConnection) throws {
        let slot = VersionSlot(host)
        let q = shellQuote
        let tmp = slot.current + ".swap"
        try conn.run("rm -rf \(q(tmp)) && mv \(q(slot.current)) \(q(tmp)) && mv \(q(slot.previous)) \(q(slot.current)) && mv \(q(tmp)) \(q(slot.previous))",
                     host: host.name, step: "swap versions")
    }
    return RolloutAction(
        name: "rollback", verb: "rolling back",
        prepare: { host, conn in
            let slot = VersionSlot(host)
            let r = try conn.exec(slot.hasPrevious, timeout: 30)
            return r.status == 0 ? [] : nil
        },
        whileStopped: { host, conn in
            try swap(host, conn)
            return ["previous version in place; the one rolled back from kept as \(VersionSlot(host).previous)"]
        },
        restore: { host, conn in
            try swap(host, conn)
            return ["rolled-back version failed; the version it ran before the rollback is back"]
        })
}

/// Whether the host's current version is exactly `want` (same files, same hashes; for apache no
/// other jar in lib either).
func runsExactly(_ want: [Artifact], host: HostSpec, slot: VersionSlot, conn: any HostConnection) throws -> Bool {
    let q = shellQuote
    let cmd: String
    switch slot.flavor {
    case .swift: cmd = "sha256sum -- \(q(slot.current)) 2>/dev/null; true"
    case .apache: cmd = "cd \(q(slot.current)) 2>/dev/null && sha256sum -- *.jar 2>/dev/null; true"
    }
    let r = try conn.run(cmd, host: host.name, step: "read current version")
    var have: [String: String] = [:]
    for line in r.stdoutString.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { continue }
        let path = String(parts[1]).trimmingCharacters(in: .whitespaces)
        have[slot.flavor == .swift ? path : slot.current + "/" + path] = String(parts[0])
    }
    guard have.count == want.count else { return false }
    return want.allSatisfy { have[$0.remotePath] == $0.sha256 }
}

private func upload(_ a: Artifact, to path: String, host: HostSpec, conn: any HostConnection) throws {
    guard let data = FileManager.default.contents(atPath: a.localPath) else {
        throw OpsError(host: host.name, step: "upload \(path)", "cannot read local \(a.localPath)")
    }
    do { try conn.write(data, to: path, mode: a.mode) } catch {
        throw OpsError.wrap(error, host: host.name, step: "upload \(path)")
    }
}

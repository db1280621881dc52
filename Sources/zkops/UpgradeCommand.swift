import ArgumentParser
import Foundation
import ZKOps

/// `zkops upgrade -i INV --binary NEW | --distribution DIR`.
struct UpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Replace the server version host by host (rolling, gated), keeping the previous one for rollback.",
        discussion: """
            Same order and gates as rolling-restart. On each host the new version is uploaded beside the old \
            (bin/zkserver.new, or lib.new for apache) while the server still serves; with it stopped the old one \
            becomes bin/zkserver.prev (lib.prev) and the new one current. A host whose new version fails its \
            after-gate gets the previous version back (restarted and gated again; the failed one is kept as .failed) \
            and the roll stops with exit 2. Hosts already running exactly the new version are skipped. \
            `zkops rollback` returns hosts to their .prev version. \
            Deploy afterwards: `zkops deploy` refuses (exit 1, nothing changed) to replace a version on a host \
            that keeps a .prev unless given --replace-version, so pass deploy the new --binary (or set the \
            inventory's distribution to the new one) after an upgrade.
            """)

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @OptionGroup var roll: RollOptions

    @Option(help: "The new zkserver binary (swift flavor hosts).")
    var binary: String?

    @Option(help: "The new Apache ZooKeeper binary distribution, a folder or .tar.gz (apache flavor hosts).")
    var distribution: String?

    func run() throws {
        let raw = try Inventory.load(path: options.inventory)
        let flavors = Set(raw.hosts.map(\.server.flavor))
        func abs(_ p: String) -> String { URL(fileURLWithPath: (p as NSString).expandingTildeInPath).standardizedFileURL.path }
        let bin = binary.map(abs), dist = distribution.map(abs)
        if flavors.contains(.swift) && bin == nil { throw ValidationError("swift flavor hosts: give the new zkserver with --binary PATH") }
        if flavors.contains(.apache) && dist == nil { throw ValidationError("apache flavor hosts: give the new distribution with --distribution DIR") }
        if !flavors.contains(.swift) && bin != nil { throw ValidationError("--binary is for swift flavor hosts; this inventory has none") }
        if !flavors.contains(.apache) && dist != nil { throw ValidationError("--distribution is for apache flavor hosts; this inventory has none") }
        if let bin {
            guard FileManager.default.isExecutableFile(atPath: bin) else { throw ValidationError("--binary \(bin): not an executable file") }
            // It would fail its gate on the first host and be rolled back: refuse before touching any.
            try refuseUnlessSelfContained(bin)
        }
        var inv = try options.load(binary: bin)
        if let dist { for i in inv.hosts.indices where inv.hosts[i].server.flavor == .apache { inv.hosts[i].server.distribution = dist } }
        let only = try roll.selected(in: inv)
        let builder = ArtifactBuilder()
        var artifacts: [String: [Artifact]] = [:]
        for h in inv.hosts { artifacts[h.name] = try builder.artifacts(for: h, binary: bin) }
        let report = ZKOps.roll(inv, action: upgradeAction(artifacts: artifacts), only: only, timing: roll.timing,
                                context: OpsContext(connections: ssh.factory, progress: Terminal.progress))
        try finishRoll(report, json: roll.json)
    }
}

/// `zkops rollback -i INV`.
struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Return every host to its previous version (rolling, gated, as rolling-restart).",
        discussion: """
            On each host that keeps a previous version (bin/zkserver.prev, or lib.prev for apache, left by \
            `zkops upgrade`) the two are swapped with the server stopped: the version rolled back from becomes the \
            .prev, so a second rollback undoes the first. Hosts without a previous version are skipped; when no \
            host has one, nothing is done (exit 1). A host failing its after-gate gets the version back it ran \
            before the rollback and the roll stops (exit 2).
            """)

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @OptionGroup var roll: RollOptions

    func run() throws {
        let inv = try options.load()
        let only = try roll.selected(in: inv)
        var report = ZKOps.roll(inv, action: rollbackAction(), only: only, timing: roll.timing,
                                context: OpsContext(connections: ssh.factory, progress: Terminal.progress))
        if report.failures.isEmpty && !report.hosts.isEmpty && report.hosts.allSatisfy({ $0.status == .skipped }) {
            report.refused = true
            report.failures.append(OpsError(host: "-", step: "rollback", "no host keeps a previous version; nothing was changed"))
        }
        try finishRoll(report, json: roll.json)
    }
}

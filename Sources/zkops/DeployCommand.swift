import ArgumentParser
import Foundation
import ZKOps

/// `zkops deploy -i INV [--binary PATH]`.
struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Install, configure and start every host in parallel, then wait until quorum is proven.",
        discussion: """
            Versions: deploy installs the --binary given (swift) or the inventory's distribution (apache). On a host \
            that keeps a previous version (bin/zkserver.prev or lib.prev: `zkops upgrade` or `rollback` ran there) \
            deploy refuses to replace the version it runs (exit 1, nothing changed on any host) unless \
            --replace-version is given: after an upgrade pass the new binary (set the new distribution), so that an \
            old --binary does not silently downgrade the ensemble. Use `zkops upgrade` / `rollback` to change versions.
            """)

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions

    @Option(help: "The zkserver binary to upload (swift flavor).")
    var binary: String?

    @Option(help: "Seconds to wait for a proven quorum.")
    var timeout: Double = 90

    @Flag(help: "Replace the version on hosts where `zkops upgrade`/`rollback` installed it (see above).")
    var replaceVersion = false

    @Flag(help: "JSON output.")
    var json = false

    func run() throws {
        let needsBinary = try Inventory.load(path: options.inventory).hosts.contains { $0.server.flavor == .swift }
        let bin = binary.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath).standardizedFileURL.path }
        let inv = try options.load(binary: bin, requireBinary: needsBinary)
        if needsBinary { try refuseUnlessSelfContained(bin) }
        let inputs = try DeployInputs.prepare(inv, binary: bin)
        let report = deploy(inv, inputs: inputs, timeout: timeout,
                            context: OpsContext(connections: ssh.factory, progress: Terminal.progress),
                            replaceVersion: replaceVersion)
        try finish(report, json: json)
    }
}

/// Prints a deploy report; exit code 0 done, 1 refused by a gate (nothing changed), 2 failed.
func finish(_ report: DeployReport, json: Bool) throws {
        if json {
            Terminal.json(report)
        } else {
            if !report.membership.isEmpty { print("membership: " + report.membership.joined(separator: ", ")) }
            for r in report.hosts where r.ok {
                print("\(r.host): " + (r.done.isEmpty ? "unchanged" : r.done.joined(separator: "; ")))
            }
            Terminal.failures(report.failures)
            if let v = report.verdict {
                print("ensemble: \(v.health.rawValue)" + (v.leader.map { ", leader \($0)" } ?? ""))
            }
            if report.ok && report.unchanged { print("nothing changed; no server restarted") }
        }
        if !report.ok { throw ExitCode(report.refused ? 1 : 2) }
}

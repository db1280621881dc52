import ArgumentParser
import Foundation
import ZKOps

/// `zkops rolling-restart -i INV [--hosts a,b] [--pause S] [--timeout S] [--json]`.
struct RollingRestartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rolling-restart",
        abstract: "Restart servers one at a time (observers, followers, the leader last), gated on a healthy ensemble.",
        discussion: """
            Before each host the ensemble must be healthy: one leader, every voter synced, nobody else down. \
            After each, the host must serve again in its mode (observer, or follower/leader) with its zxid caught up \
            to the leader's from before it was stopped, and the ensemble must be healthy again. \
            Exit 0 done; 1 stopped by a before-gate with nothing broken (nothing further was touched); \
            2 failed (a host did not come back, an SSH error). Progress lines go to stderr.
            """)

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @OptionGroup var roll: RollOptions

    func run() throws {
        let inv = try options.load()
        let only = try roll.selected(in: inv)
        let report = ZKOps.roll(inv, action: .restart, only: only, timing: roll.timing,
                                context: OpsContext(connections: ssh.factory, progress: Terminal.progress))
        try finishRoll(report, json: roll.json)
    }
}

/// Options of the rolling commands (rolling-restart, upgrade, rollback).
struct RollOptions: ParsableArguments {
    @Option(help: "Only these hosts (comma-separated names), still in rolling order.")
    var hosts: String?

    @Option(help: "Seconds to pause between hosts.")
    var pause: Double = 0

    @Option(help: "Seconds a host has to come back (after-gate).")
    var timeout: Double = 90

    @Flag(help: "JSON report on stdout.")
    var json = false

    var timing: RolloutTiming { RolloutTiming(timeout: timeout, pause: pause) }

    func selected(in inv: Inventory) throws -> [String]? {
        guard let hosts else { return nil }
        let names = hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("--hosts: no host named") }
        let unknown = names.filter { inv.host(named: $0) == nil }
        guard unknown.isEmpty else { throw ValidationError("--hosts: unknown host(s): \(unknown.joined(separator: ", "))") }
        guard pause >= 0, timeout > 0 else { throw ValidationError("--pause must be ≥ 0 and --timeout > 0") }
        return names
    }
}

/// Prints a rolling report; exit 0 done, 1 refused by a gate (nothing further touched), 2 failed.
func finishRoll(_ report: RolloutReport, json: Bool) throws {
    if json {
        Terminal.json(report)
    } else {
        for h in report.hosts {
            var line = "\(h.host) (\(h.kind.rawValue)): \(h.status.rawValue)"
            if let s = h.outSeconds { line += ", out \(String(format: "%.1f", s))s" }
            print(line)
        }
        Terminal.failures(report.failures)
        if let at = report.stoppedAt {
            print("stopped at \(at): done \(report.done.isEmpty ? "none" : report.done.joined(separator: ", ")); "
                  + "not done \(report.notDone.joined(separator: ", "))")
        }
        if let v = report.verdict { print("ensemble: \(v.health.rawValue)" + (v.leader.map { ", leader \($0)" } ?? "")) }
    }
    if report.exitCode != 0 { throw ExitCode(report.exitCode) }
}

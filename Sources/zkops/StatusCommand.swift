import ArgumentParser
import Foundation
import ZKOps

/// `zkops status -i INV`: per-host probes, then the ensemble verdict.
/// Exit 0 healthy, 1 degraded but quorate, 2 no quorum.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Probe every host (ruok, srvr, mntr) and judge the ensemble.")

    @OptionGroup var options: InventoryOptions

    @Option(help: "Seconds per probe.")
    var timeout: Double = 3

    @Flag(help: "JSON output.")
    var json = false

    struct Report: Codable {
        var hosts: [HostProbe]
        var verdict: Verdict
    }

    func run() throws {
        let inv = try options.load()
        let probes = probeAll(inv, context: OpsContext(), timeout: timeout)
        let verdict = judge(inv, probes)
        if json {
            Terminal.json(Report(hosts: probes, verdict: verdict))
        } else {
            let header = ["HOST", "ADDRESS", "REACH", "RUOK", "MODE", "ZXID", "LAT min/avg/max", "CONNS", "OUTST", "ZNODES", "VERSION"]
            var rows = [header]
            for p in probes {
                let s = p.srvr
                rows.append([p.name, "\(p.address):\(p.clientPort)", p.reachable ? "yes" : "no", p.ruok ? "imok" : "-", p.mode,
                             s.map { "0x" + String($0.zxid, radix: 16) } ?? "-",
                             s.map { "\(fmt($0.latencyMin))/\(fmt($0.latencyAvg))/\(fmt($0.latencyMax))" } ?? "-",
                             s.map { String($0.connections) } ?? "-", s.map { String($0.outstanding) } ?? "-",
                             p.mntr?["zk_znode_count"] ?? s.map { String($0.nodeCount) } ?? "-",
                             p.mntr?["zk_version"].map { String($0.split(separator: ",").first ?? "") } ?? s?.version ?? "-"])
            }
            let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
            for r in rows {
                print(r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
            print("ensemble: \(verdict.health.rawValue)" + (verdict.leader.map { ", leader \($0)" } ?? ""))
            for r in verdict.reasons { print("  - \(r)") }
        }
        if verdict.health != .healthy { throw ExitCode(verdict.health.exitCode) }
    }

    private func fmt(_ d: Double) -> String {
        d == d.rounded() ? String(Int(d)) : String(format: "%.2f", d)
    }
}

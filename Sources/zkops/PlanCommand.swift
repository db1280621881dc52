import ArgumentParser
import Foundation
import ZKOps

/// `zkops plan -i INV`: what deploy would change on each host, read from the hosts.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Show what deploy would change (nothing is changed).")

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions

    @Option(help: "The zkserver binary deploy would upload (swift flavor).")
    var binary: String?

    @Flag(help: "JSON output.")
    var json = false

    func run() throws {
        let inv = try options.load(binary: binary)
        let inputs = try DeployInputs.prepare(inv, binary: binary)
        let context = OpsContext(connections: ssh.factory, progress: Terminal.progress)
        var membership: MembershipStep?
        var refusal: String?
        do { membership = try prepareMembership(inv, context: context) } catch { refusal = "\(error)" }
        let results = planAll(inv, inputs: inputs, context: context, membership: membership)
        if json {
            Terminal.json(PlanReport(membership: membership?.plan.lines ?? [], membershipRefused: refusal, hosts: results))
        } else {
            if let m = membership {
                print("membership (applied by reconfig, no restart of unchanged servers):")
                for l in m.plan.lines { print("  \(l)") }
            }
            if let refusal { print("membership: \(refusal)") }
            for r in results {
                guard let p = r.plan else { continue }
                let counts = Dictionary(grouping: p.files, by: \.state).mapValues(\.count)
                print("\(p.host): server \(p.running ? "running" : "not running"); would \(p.action == .none ? "leave it" : p.action.rawValue)"
                      + " — \(counts[.same] ?? 0) same, \(counts[.changed] ?? 0) changed, \(counts[.missing] ?? 0) missing")
                for f in p.files where f.state != .same {
                    print("  \(f.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(f.path)")
                }
            }
            Terminal.failures(results.compactMap(\.error))
        }
        if results.contains(where: { !$0.ok }) || refusal != nil { throw ExitCode(1) }
    }
}

/// `zkops plan --json`.
struct PlanReport: Encodable {
    var membership: [String]
    var membershipRefused: String?
    var hosts: [HostResult]
}

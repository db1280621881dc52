import ArgumentParser
import Foundation
import ZKOps

/// Shared body of `start` and `stop`.
private func control(_ verb: String, options: InventoryOptions, ssh: SSHOptions, names: [String]) throws {
    let inv = try options.load()
    let unknown = names.filter { inv.host(named: $0) == nil }
    guard unknown.isEmpty else { throw ValidationError("unknown host(s): \(unknown.joined(separator: ", "))") }
    let hosts = names.isEmpty ? inv.hosts : inv.hosts.filter { names.contains($0.name) }
    let results = ZKOps.control(inv, hosts: hosts, verb: verb, context: OpsContext(connections: ssh.factory, progress: Terminal.progress))
    for r in results where r.ok { print("\(r.host): \(r.done.joined(separator: "; "))") }
    Terminal.failures(results.compactMap(\.error))
    if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
}

/// `zkops start -i INV [HOST…]`.
struct StartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start the server on some or all hosts.")
    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @Argument(help: "HostSpec names (default: all).") var hosts: [String] = []
    func run() throws { try control("start", options: options, ssh: ssh, names: hosts) }
}

/// `zkops stop -i INV [HOST…]`.
struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop the server on some or all hosts.")
    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @Argument(help: "HostSpec names (default: all).") var hosts: [String] = []
    func run() throws { try control("stop", options: options, ssh: ssh, names: hosts) }
}

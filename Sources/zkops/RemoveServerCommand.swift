import ArgumentParser
import Foundation
import ZKOps

/// `zkops remove-server -i INV NAME`: removes the host from the inventory file (its comments
/// kept) and reconciles: the server leaves the ensemble by `reconfig` and is then stopped; no
/// other server restarts. Refused, with the inventory left as it was, when the change would leave
/// no majority alive or remove the last participant.
struct RemoveServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-server",
        abstract: "Remove a server from the running ensemble (dynamic reconfig) and from the inventory, then stop it.")

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @Argument(help: "The host to remove.") var name: String
    @Option(help: "The zkserver binary (swift flavor).") var binary: String?
    @Option(help: "Seconds to wait for each step.") var timeout: Double = 90
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try editAndReconcile(options: options, ssh: ssh, binary: binary, timeout: timeout, json: json,
                             what: "remove \(name)") { text in
            (try InventoryEdit.removeHost(text, name: name), [])
        }
    }
}

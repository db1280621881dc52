import ArgumentParser
import Foundation
import ZKOps

/// `zkops add-server -i INV --name N --address A --id ID [--role observer]`: adds the host to the
/// inventory file (its comments kept) and reconciles: the new server is installed and started
/// with the live membership plus itself, then joins by `reconfig`; no other server restarts.
struct AddServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-server",
        abstract: "Add a server to the inventory and to the running ensemble (dynamic reconfig, no restarts).")

    @OptionGroup var options: InventoryOptions
    @OptionGroup var ssh: SSHOptions
    @Option(help: "Host name (unique in the inventory).") var name: String
    @Option(help: "Address the other servers and clients reach it at.") var address: String
    @Option(help: "Server id (myid), unique.") var id: Int
    @Option(help: "participant or observer.") var role: String = "participant"
    @Option(name: .customLong("client-port"), help: "Per-host client port (default: the ensemble's).") var clientPort: Int?
    @Option(name: .customLong("quorum-port")) var quorumPort: Int?
    @Option(name: .customLong("election-port")) var electionPort: Int?
    @Option(name: .customLong("data-dir")) var dataDir: String?
    @Option(name: .customLong("install-dir")) var installDir: String?
    @Option(help: "ssh or local.") var connection: String?
    @Option(help: "The zkserver binary (swift flavor).") var binary: String?
    @Option(help: "Seconds to wait for each step (sync, reconfig, quorum).") var timeout: Double = 90
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        guard Role(rawValue: role) != nil else { throw ValidationError("--role must be participant or observer") }
        var fields: [(String, String)] = [("name", name), ("address", address), ("id", String(id))]
        if role != "participant" { fields.append(("role", role)) }
        if let connection { fields.append(("connection", connection)) }
        if let clientPort { fields.append(("clientPort", String(clientPort))) }
        if let quorumPort { fields.append(("quorumPort", String(quorumPort))) }
        if let electionPort { fields.append(("electionPort", String(electionPort))) }
        if let dataDir { fields.append(("dataDir", dataDir)) }
        if let installDir { fields.append(("installDir", installDir)) }
        try editAndReconcile(options: options, ssh: ssh, binary: binary, timeout: timeout, json: json,
                             what: "add \(name)") { text in
            (try InventoryEdit.addHost(text, fields: fields), [])
        }
    }
}

/// Edits the inventory, validates it, writes it atomically, and deploys; a deploy that a gate
/// refused (nothing changed on any host) puts the original inventory back.
func editAndReconcile(options: InventoryOptions, ssh: SSHOptions, binary: String?, timeout: Double, json: Bool,
                      what: String, edit: (String) throws -> (String, [HostSpec])) throws {
    let path = options.inventory
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
    let original = String(decoding: data, as: UTF8.self)
    try refuseUnlessSelfContained(binary.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath).standardizedFileURL.path })
    let before = try Inventory.load(path: path)
    let (edited, _) = try edit(original)
    let after = try Inventory.parse(yaml: edited, baseDir: before.baseDir)
    // Whoever leaves the inventory leaves the ensemble: zkops stops them after the reconfig.
    let retiring = before.hosts.filter { h in after.host(named: h.name) == nil }
    // These commands change a running ensemble: without a member that serves (no quorum, or
    // nothing deployed yet) there is no live membership to change, so nothing is touched.
    var probeInv = after
    probeInv.superSecret = try SuperUser.loadOrCreate(inventoryPath: path)
    let context = OpsContext(connections: ssh.factory, progress: Terminal.progress)
    let step: MembershipStep?
    do { step = try prepareMembership(probeInv, context: context) } catch {
        Terminal.err("error: \(error); the inventory was not changed")
        throw ExitCode(1)
    }
    guard step != nil else {
        Terminal.err("error: refused: no server of the ensemble serves (no quorum, or not deployed yet), so there is no "
                     + "live membership to change; the inventory was not changed (deploy a new ensemble with zkops deploy)")
        throw ExitCode(1)
    }
    try InventoryEdit.write(edited, to: path)
    Terminal.progress("inventory \(path): \(what)")
    do {
        let needsBinary = after.hosts.contains { $0.server.flavor == .swift }
        let bin = binary.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath).standardizedFileURL.path }
        let inv = try options.load(binary: bin, requireBinary: needsBinary)
        let inputs = try DeployInputs.prepare(inv, binary: bin)
        let report = deploy(inv, inputs: inputs, timeout: timeout, context: context, retiring: retiring)
        if report.refused {
            try InventoryEdit.write(original, to: path)
            Terminal.progress("inventory \(path): restored (the change was refused; nothing was changed)")
        }
        try finish(report, json: json)
    } catch let e as ExitCode {
        throw e
    } catch {
        // Not valid after the edit, or not deployable before anything ran: put it back.
        try InventoryEdit.write(original, to: path)
        Terminal.err("inventory \(path): restored")
        throw error
    }
}

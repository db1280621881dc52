import ArgumentParser
import Foundation
import ZKOps
import ZKSSH

/// Options every command shares.
struct InventoryOptions: ParsableArguments {
    @Option(name: [.short, .customLong("inventory")], help: "Inventory YAML file.")
    var inventory: String

    @Option(name: .customLong("templates"), help: "A folder of your own templates (overrides the inventory's).")
    var templates: String?

    /// Loads, applies --templates, validates; prints warnings; throws on errors.
    func load(binary: String? = nil, requireBinary: Bool = false, forRender: Bool = false) throws -> Inventory {
        var inv = try Inventory.load(path: inventory)
        if let templates {
            let abs = URL(fileURLWithPath: (templates as NSString).expandingTildeInPath).standardizedFileURL.path
            for i in inv.hosts.indices { inv.hosts[i].server.templates = abs }
        }
        inv.superSecret = try SuperUser.loadOrCreate(inventoryPath: inventory)
        let warnings = try inv.checked(ValidationEnvironment(binary: binary, requireBinary: requireBinary, checkDeployFiles: !forRender), path: inventory)
        for w in warnings { Terminal.err("\(w)") }
        return inv
    }
}

/// Preflight for `--binary`: a zkserver that loads the Swift runtime from this machine would not
/// start on the hosts, so it is refused (exit 1) before any host is touched.
func refuseUnlessSelfContained(_ binary: String?) throws {
    guard let binary, let why = binaryNotSelfContained(binary) else { return }
    Terminal.err("error: refused: \(why); nothing was changed")
    throw ExitCode(1)
}

/// Options of commands that talk SSH.
struct SSHOptions: ParsableArguments {
    @Flag(name: .customLong("accept-new-host-keys"),
          help: "Add unknown host keys to known_hosts (like StrictHostKeyChecking=accept-new); changed keys are still refused.")
    var acceptNew = false

    @Option(name: .customLong("connect-timeout"), help: "Seconds for each SSH connect/step.")
    var connectTimeout: Double = 10

    var factory: DefaultConnectionFactory {
        DefaultConnectionFactory(hostKeyPolicy: acceptNew ? .acceptNew : .strict, timeout: connectTimeout)
    }
}

/// Terminal output helpers: progress goes to stderr, results to stdout.
enum Terminal {
    static let isTTY = isatty(2) != 0

    static func err(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }

    /// Progress lines: on a terminal, "waiting" lines (indented) overwrite each other.
    static let progress: @Sendable (String) -> Void = { line in
        if isTTY {
            if line.hasPrefix("  ") {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line.prefix(200)).utf8))
            } else {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + "\n").utf8))
            }
        } else {
            err(line)
        }
    }

    static func json<T: Encodable>(_ value: T) {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let d = try? e.encode(value) {
            print(String(decoding: d, as: UTF8.self))
        }
    }

    /// Prints per-host failures (host, step, message, stderr/log tail).
    static func failures(_ errors: [OpsError]) {
        for e in errors { err("error: \(e)") }
    }
}

import Foundation
import Mustache

/// Where things live on a host, derived from installDir and dataDir.
public struct HostLayout: Sendable, Equatable {
    public var installDir: String
    public var dataDir: String
    public var confDir: String { installDir + "/conf" }
    public var zooCfg: String { confDir + "/zoo.cfg" }
    /// The dynamic file as zkops writes it; Apache later writes `zoo.cfg.dynamic.<version>`.
    public var dynamicFile: String { confDir + "/zoo.cfg.dynamic" }
    public var myid: String { dataDir + "/myid" }
    public var binDir: String { installDir + "/bin" }
    public var launcher: String { binDir + "/zkops-server" }
    public var binary: String { binDir + "/zkserver" }
    public var libDir: String { installDir + "/lib" }
    public var logFile: String { installDir + "/logs/server.log" }
    public var pidFile: String { installDir + "/run/server.pid" }
    /// Written when new files await a restart; removed once the server restarted on them.
    public var restartMarker: String { installDir + "/run/restart-pending" }
    /// Cached hashes of installed artifacts (see `cachedHashCommand`).
    public var hashCacheDir: String { installDir + "/run/hashes" }

    public init(_ s: ServerSettings) {
        installDir = s.installDir.count > 1 && s.installDir.hasSuffix("/") ? String(s.installDir.dropLast()) : s.installDir
        dataDir = s.dataDir.count > 1 && s.dataDir.hasSuffix("/") ? String(s.dataDir.dropLast()) : s.dataDir
    }
}

/// What a rendered file is, which decides how it is compared with the host's copy.
public enum FileKind: String, Sendable, Codable {
    /// zoo.cfg: compared by meaning (ZooKeeper rewrites it).
    case zooCfg
    /// The dynamic file: compared by its server lines wherever zoo.cfg points now.
    case dynamic
    /// Compared byte for byte.
    case plain
}

/// One rendered file for one host.
public struct RenderedFile: Sendable, Equatable {
    /// File name under `render -o DIR/<host>/`.
    public var name: String
    /// Absolute path on the host.
    public var remotePath: String
    public var mode: Int32
    public var content: String
    public var kind: FileKind
}

/// A template problem (parse error or unreadable user template).
public struct RenderError: Error, CustomStringConvertible, Sendable {
    public var host: String
    public var template: String
    public var message: String
    public var description: String { "\(host): template \(template): \(message)" }
}

/// The four-letter words zkops itself sends; the whitelist always includes them.
public let probedFourLetterWords = ["ruok", "srvr", "mntr", "stat", "conf", "isro", "envi"]

/// Renders a host's files from templates (Mustache, via swift-mustache).
public struct Renderer: Sendable {
    /// The template file names, keyed by what they produce.
    public static let templateNames = ["zoo.cfg": "zoo.cfg.mustache", "zoo.cfg.dynamic": "zoo.cfg.dynamic.mustache",
                                       "myid": "myid.mustache", "zkops-server": "launcher.sh.mustache"]

    public init() {}

    /// The Mustache context for one host (public so users can see what templates get).
    public func context(for host: HostSpec, in inventory: Inventory) -> [String: Any] {
        let s = host.server
        let layout = HostLayout(s)
        var config = s.config
        if s.flavor == .apache && config["admin.enableServer"] == nil {
            // Apache's AdminServer takes port 8080 on every host: off unless asked for.
            config["admin.enableServer"] = "false"
        }
        if let secret = inventory.superSecret, config["DigestAuthenticationProvider.superDigest"] == nil {
            // The super user zkops issues `reconfig` as (Apache reads the key as a system property).
            config["DigestAuthenticationProvider.superDigest"] = SuperUser.digest(secret: secret)
        }
        var whitelist = probedFourLetterWords
        if let extra = config.removeValue(forKey: "4lw.commands.whitelist") {
            for w in extra.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !whitelist.contains(w) {
                whitelist.append(w)
            }
        }
        let servers: [[String: Any]] = inventory.hosts.sorted { $0.id < $1.id }.map { h in
            ["id": h.id, "address": h.address, "quorumPort": h.server.quorumPort, "electionPort": h.server.electionPort,
             "clientPort": h.server.clientPort, "role": h.role.rawValue]
        }
        return [
            "name": host.name, "id": host.id, "address": host.address, "role": host.role.rawValue,
            "flavor": s.flavor.rawValue, "isApache": s.flavor == .apache, "isSwift": s.flavor == .swift,
            "tickTime": s.tickTime, "initLimit": s.initLimit, "syncLimit": s.syncLimit,
            "clientPort": s.clientPort, "quorumPort": s.quorumPort, "electionPort": s.electionPort,
            // The launcher waits for the port (as /proc/net/tcp spells it) in 0.05 s polls: up
            // to 10 s for zkserver, 30 s for a JVM.
            "clientPortHex": String(format: "%04X", s.clientPort), "startPolls": s.flavor == .apache ? 600 : 200,
            "dataDir": layout.dataDir, "installDir": layout.installDir, "zooCfg": layout.zooCfg,
            "dynamicFile": layout.dynamicFile, "pidFile": layout.pidFile, "logFile": layout.logFile,
            "javaOptions": s.javaOptions,
            "ensemble": inventory.hosts.count > 1,
            "whitelist": whitelist.joined(separator: ","),
            "servers": servers,
            "extraConfig": config.keys.sorted().map { ["key": $0, "value": config[$0]!] },
        ]
    }

    /// Renders zoo.cfg, the dynamic file, myid and the launcher for one host.
    public func render(host: HostSpec, in inventory: Inventory) throws -> [RenderedFile] {
        let layout = HostLayout(host.server)
        let ctx = context(for: host, in: inventory)
        func text(_ output: String) throws -> String {
            let file = Renderer.templateNames[output]!
            var source = builtinTemplates[file]!
            if let dir = host.server.templates {
                let path = dir + "/" + file
                if FileManager.default.fileExists(atPath: path) {
                    guard let d = FileManager.default.contents(atPath: path) else {
                        throw RenderError(host: host.name, template: path, message: "unreadable")
                    }
                    source = String(decoding: d, as: UTF8.self)
                }
            }
            do {
                return try MustacheTemplate(string: source).render(ctx)
            } catch {
                throw RenderError(host: host.name, template: file, message: "\(error)")
            }
        }
        return [
            RenderedFile(name: "zoo.cfg", remotePath: layout.zooCfg, mode: 0o644, content: try text("zoo.cfg"), kind: .zooCfg),
            RenderedFile(name: "zoo.cfg.dynamic", remotePath: layout.dynamicFile, mode: 0o644, content: try text("zoo.cfg.dynamic"), kind: .dynamic),
            RenderedFile(name: "myid", remotePath: layout.myid, mode: 0o644, content: try text("myid"), kind: .plain),
            RenderedFile(name: "zkops-server", remotePath: layout.launcher, mode: 0o755, content: try text("zkops-server"), kind: .plain),
        ]
    }
}

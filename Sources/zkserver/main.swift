import ArgumentParser
import Logging
import ZKServer
import ZKStorage
#if canImport(Glibc)
import Glibc
#endif

@main
struct ZKServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zkserver",
        abstract: "A ZooKeeper-compatible coordination server.",
        version: ZKServerVersion.full,
        subcommands: [Start.self],
        defaultSubcommand: Start.self)
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Run the server with an Apache-format zoo.cfg (the default command).")

    @Argument(help: "Path to zoo.cfg.")
    var config: String

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "zkserver")
        let cfg: ServerConfig
        do {
            cfg = try ServerConfig.load(path: config)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
        for key in cfg.ignoredKeys { logger.notice("\(cfg.configFile): ignoring unsupported key \(key)") }
        if cfg.isDistributed {
            logger.critical("\(cfg.configFile): ensemble mode (server.N lines with standaloneEnabled=false or several participants) is not supported yet")
            throw ExitCode(2)
        }
        do {
            let server = try await StandaloneServer(config: cfg, logger: logger)
            signal(SIGPIPE, SIG_IGN)
            try await server.run()
        } catch {
            logger.critical("start-up failed: \(error)")
            throw ExitCode(1)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

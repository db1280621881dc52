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
        subcommands: [Start.self, Purge.self, DumpLog.self, DumpSnapshot.self, BenchLog.self],
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
        do {
            signal(SIGPIPE, SIG_IGN)
            if cfg.isDistributed {
                let server = try await EnsembleServer(config: cfg, logger: logger)
                try await server.run()
            } else {
                let server = try await StandaloneServer(config: cfg, logger: logger)
                try await server.run()
            }
        } catch {
            logger.critical("start-up failed: \(error)")
            throw ExitCode(1)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Loads zoo.cfg for the tool commands, turning a config error into a clean exit.
private func loadConfig(_ path: String) throws -> ServerConfig {
    do { return try ServerConfig.load(path: path) } catch {
        FileHandleOutput.stderr("\(error)\n")
        throw ExitCode(2)
    }
}

enum FileHandleOutput {
    static func stderr(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}

struct Purge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete old snapshots and the log files only they need (like Apache's PurgeTxnLog).")

    @Option(name: [.short, .long], help: "Snapshots to keep (at least 3).")
    var count: Int = 3

    @Argument(help: "Path to zoo.cfg (dataDir and dataLogDir are taken from it).")
    var config: String

    func run() throws {
        let cfg = try loadConfig(config)
        guard count >= 3 else { throw ValidationError("--count must be at least 3") }
        let removed = try ZKStorage.Purge.purge(snapshotDir: StorageLayout.versionDirectory(cfg.dataDir),
                                                logDir: StorageLayout.versionDirectory(cfg.dataLogDir), retain: count)
        for p in removed { print("removed \(p)") }
        print("\(removed.count) files removed")
    }
}

struct DumpLog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-log", abstract: "Print a transaction log file, one transaction per line (like TxnLogToolkit).")

    @Argument(help: "A log.<zxid> file.")
    var file: String

    func run() throws {
        print(try Dump.logFile(file, formatPayload: { TxnDescription.describe($0.payload) }), terminator: "")
    }
}

struct DumpSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-snapshot", abstract: "Print a snapshot: header, sessions and every znode (like SnapshotFormatter).")

    @Argument(help: "A snapshot.<zxid> file.")
    var file: String

    @Flag(help: "Only the header and checksum.")
    var headerOnly = false

    func run() throws {
        print(try Dump.snapshotFile(file), terminator: "")
        guard !headerOnly else { return }
        let snap = try SnapshotStore.read(path: file)
        print(try TxnDescription.describeSnapshot(snap.payload), terminator: "")
    }
}

struct BenchLog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-log", abstract: "Measure durable appends/s: group commit versus one fsync per write.")

    @Option(help: "Directory on the disk to measure (a temporary subdirectory is used and removed).")
    var directory: String = "/tmp"
    @Option(help: "Records per scenario.") var records: Int = 20_000
    @Option(help: "Concurrent writers.") var threads: Int = 8
    @Option(help: "Payload bytes per record.") var payloadBytes: Int = 128

    func run() throws {
        print(StorageBenchmark.run(directory: directory, records: records, threads: threads, payloadBytes: payloadBytes))
    }
}

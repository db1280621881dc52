import Logging
import NIOConcurrencyHelpers
import NIOCore
import ZKCore
import ZKQuorum
import ZKStorage

/// zkserver as a member of an ensemble: recovery, the quorum transport and shell, the client
/// port, snapshots and autopurge. Writes from clients go through the quorum (`QuorumShell`),
/// reads are served from the local tree.
public final class EnsembleServer: Sendable {
    public let config: ServerConfig
    public let listener: ClientListener
    let transport: QuorumNetwork
    let shell: QuorumShell
    let snapshotter: BackgroundSnapshotter
    let logger: Logger

    public init(config: ServerConfig, logger: Logger) async throws {
        self.config = config
        self.logger = logger
        guard let myid = config.myid, let me = config.myServer else {
            throw StartupError("\(config.configFile): ensemble mode needs a myid file naming one of the server.N lines")
        }
        // The tree is the newest snapshot only: log records above it may never have been
        // committed, so they wait until a leader confirms them (the core re-delivers them).
        let state = try ServerStartup.recoverFiles(config, logger: logger)
        let tree = try ServerStartup.treeFromSnapshot(state.snapshot, config: config)
        try ServerStartup.writeFirstSnapshot(tree, config: config)
        let snapDir = StorageLayout.versionDirectory(config.dataDir)
        let accepted = try EpochFile.read(directory: snapDir, name: EpochFile.accepted) ?? 0
        let current = try EpochFile.read(directory: snapDir, name: EpochFile.current) ?? 0
        let persisted = PersistedState(acceptedEpoch: accepted, currentEpoch: current, appliedZxid: tree.lastZxid,
                                       log: state.records.map { LogEntry(zxid: $0.zxid, payload: $0.payload) })
        logger.info("recovered snapshot 0x\(hex(tree.lastZxid)) with \(tree.nodeCount) znodes, \(state.records.count) log records above it, acceptedEpoch \(accepted), currentEpoch \(current)")

        let peerConfig = QuorumShell.peerConfig(myid: myid, config: config)
        let snapshotter = ServerStartup.makeSnapshotter(config, logger: logger)
        self.snapshotter = snapshotter
        guard let port = config.clientListenPort else {
            throw StartupError("\(config.configFile): no client port (clientPort or ;port on server.\(myid))")
        }
        let cfg = config
        let parts = NIOLockedValueBox<(QuorumNetwork, QuorumShell)?>(nil)
        self.listener = try await ServerStartup.listen(config: config, port: port, tree: tree, logger: logger) { core in
            let transport = QuorumNetwork(myid: myid, servers: cfg.servers, loop: core.loop,
                                          listenOnAllIPs: cfg.quorumListenOnAllIPs,
                                          announceSelf: cfg.reconfigEnabled, logger: logger)
            let shell = try QuorumShell(loop: core.loop, core: core, transport: transport, config: cfg,
                                        persisted: persisted, peerConfig: peerConfig, logger: logger)
            core.quorumStateChanged(serving: false, leading: false)
            ServerStartup.installMaintenance(core: core, config: cfg, snapshotter: snapshotter, logger: logger)
            parts.withLockedValue { $0 = (transport, shell) }
            return shell
        }
        let (transport, shell) = parts.withLockedValue { $0! }
        self.transport = transport
        self.shell = shell
        do {
            try await transport.start()
        } catch {
            try? await listener.close()
            throw StartupError("server.\(myid) (\(me.host):\(me.quorumPort):\(me.electionPort)): \(error)")
        }
        try await listener.core.loop.submit { shell.start() }.get()
        let roles = "\(config.participants.count) participants, \(config.observers.count) observers"
        logger.info("zkserver \(ZKServerVersion.version) server.\(myid) in an ensemble of \(roles); quorum port \(me.quorumPort), election port \(me.electionPort), clients on \(config.clientListenHost):\(listener.localPort ?? port)")
    }

    public func run() async throws {
        try await listener.channel.closeFuture.get()
    }

    public func shutdown() async throws {
        await transport.close()
        try await listener.close()
        snapshotter.waitUntilIdle()
    }
}

import Logging
import NIOCore
import NIOPosix
import ZKCore

/// A running client-port listener around one `ServerCore`.
///
/// All connections and the core share one event loop: the request path is then lock-free and
/// replies batch naturally per loop iteration. Durability work happens on the log's own thread.
public final class ClientListener: Sendable {
    public let core: ServerCore
    public let channel: any Channel
    public let group: MultiThreadedEventLoopGroup

    /// Starts the core on its own loop with the orderer `makeOrderer` builds (on the loop,
    /// before the port opens, so no client sees a half-configured core), then binds the port.
    init(host: String, port: Int, settings: CoreSettings, tree: DataTree,
         logger: Logger, fourLetter: @escaping @Sendable (String) -> Bool,
         render: @escaping @Sendable (ServerCore, String, WatcherID?) -> String,
         makeOrderer: @escaping @Sendable (ServerCore) throws -> any WriteOrderer) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let core = ServerCore(loop: loop, settings: settings, tree: tree, logger: logger)
        do {
            try await loop.submit { core.orderer = try makeOrderer(core); core.start() }.get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let maxBuffer = settings.juteMaxBuffer
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(ZKFrameDecoder(maxBuffer: maxBuffer, isFourLetterWord: fourLetter)))
                    try channel.pipeline.syncOperations.addHandler(
                        ClientChannelHandler(core: core, fourLetter: { word, c in render(core, word, c?.id) }))
                }
            }
        do {
            self.channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        self.core = core
        self.group = group
    }

    public var localPort: Int? { channel.localAddress?.port }

    public func close() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

import NIOCore
import NIOPosix
import ZKProtocol

/// A ZooKeeper session over one TCP connection, with an async API.
///
/// Requests may be issued concurrently from any task; they are written in call order and the
/// server answers them in that order. Watches set with `watch: true` fire once, into `events`.
///
/// There is deliberately no reconnect logic: when the connection drops, every outstanding and
/// later call fails with `.connectionLoss`, `events` yields a `.disconnected` state event and
/// finishes, and the session is left to expire on the server. Connect again to continue.
/// Call `close()` when done: dropping the last reference does not close the connection.
public final class ZooKeeperClient: Sendable {
    /// The session id the server assigned.
    public let sessionId: Int64
    /// The session password, needed to resume the session from another connection.
    public let sessionPassword: [UInt8]
    /// The session timeout the server granted (it clamps the requested one to its bounds).
    public let sessionTimeout: Duration
    /// Watch notifications as they arrive, then one state event (`type == .none`) with state
    /// `.closed` after `close()` or `.disconnected` if the connection was lost; then the stream ends.
    public let events: AsyncStream<WatcherEvent>

    private let channel: any Channel

    private init(channel: any Channel, response: ConnectResponse, events: AsyncStream<WatcherEvent>) {
        self.channel = channel
        self.sessionId = response.sessionId
        self.sessionPassword = response.password
        self.sessionTimeout = .milliseconds(Int64(response.timeout))
        self.events = events
    }

    /// Connects to one server and creates a new session.
    ///
    /// - Parameters:
    ///   - sessionTimeout: the timeout to ask for; the server may grant another (see `sessionTimeout`).
    ///     It also bounds how long the TCP connect and handshake may take.
    ///   - eventLoopGroup: where the connection runs; the shared NIO singleton by default.
    /// - Throws: `ZooKeeperError` with `.connectionLoss` when the server cannot be reached or hangs up,
    ///   `.sessionExpired` when it refuses the session.
    public static func connect(host: String, port: Int, sessionTimeout: Duration = .seconds(10),
                               eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        async throws(ZooKeeperError) -> ZooKeeperClient
    {
        let loop = eventLoopGroup.next()
        let timeoutMs = Int32(clamping: sessionTimeout.components.seconds * 1000
                              + sessionTimeout.components.attoseconds / 1_000_000_000_000_000)
        let request = ConnectRequest(protocolVersion: 0, lastZxidSeen: 0, timeout: timeoutMs, sessionId: 0,
                                     password: Array(repeating: 0, count: 16), readOnly: false)
        let connected = loop.makePromise(of: ConnectResponse.self)
        let (stream, continuation) = AsyncStream.makeStream(of: WatcherEvent.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.milliseconds(Int64(timeoutMs)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let ops = channel.pipeline.syncOperations
                        try ops.addHandler(ByteToMessageHandler(ClientFrameDecoder()))
                        try ops.addHandler(ClientHandler(connect: request, promise: connected, events: continuation))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            connected.fail(error)
            continuation.finish()
            throw ZooKeeperError(.connectionLoss, "connect to \(host):\(port)", cause: error)
        }
        // A server that accepts but never answers the handshake must not hang us forever.
        let handshakeTimeout = loop.scheduleTask(in: .milliseconds(Int64(timeoutMs))) {
            connected.fail(ZooKeeperError(.operationTimeout, "no connect response from \(host):\(port)"))
            channel.close(promise: nil)
        }
        do {
            let response = try await connected.futureResult.get()
            handshakeTimeout.cancel()
            return ZooKeeperClient(channel: channel, response: response, events: stream)
        } catch {
            handshakeTimeout.cancel()
            channel.close(promise: nil)
            throw Self.zkError(error, "connect to \(host):\(port)")
        }
    }

    // MARK: - Requests

    /// Sends any request and returns the decoded reply body. The typed calls below are wrappers.
    ///
    /// - Throws: `ZooKeeperError` with the server's code when the reply carries an error.
    public func send(_ request: ZKRequest) async throws(ZooKeeperError) -> ZKResponse {
        let promise = channel.eventLoop.makePromise(of: ZKResponse.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        // A write on a closed channel never reaches the handler; fail the reply promise from here.
        // (Completing a promise twice is a no-op in NIO, so the race with the handler is harmless.)
        written.futureResult.whenFailure { error in
            promise.fail(ZooKeeperError(.connectionLoss, "write failed", cause: error))
        }
        channel.writeAndFlush(ClientRequest(request: request, promise: promise), promise: written)
        do {
            return try await promise.futureResult.get()
        } catch {
            var e = Self.zkError(error, "\(request.opcode)")
            if let path = request.path, e.message == "\(request.opcode)" { e.message += " \(path)" }
            throw e
        }
    }

    /// Creates a node and returns its actual path (with the sequence suffix for sequential modes).
    ///
    /// TTL modes need `create2(path:data:acl:mode:ttl:)`.
    @discardableResult
    public func create(path: String, data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe,
                       mode: CreateMode = .persistent) async throws(ZooKeeperError) -> String {
        if mode.isContainer || mode.isTTL { return try await create2(path: path, data: data, acl: acl, mode: mode).0 }
        let reply = try await send(.create(CreateRequest(path: path, data: data, acl: acl, flags: mode.rawValue), .create))
        guard case .path(let created) = reply else { throw Self.unexpected(reply, "create \(path)") }
        return created
    }

    /// Creates a node and returns its actual path and its `Stat`. `ttl` (ms) is required for the TTL
    /// modes and ignored otherwise; containers and TTL nodes need the server's extendedTypesEnabled.
    @discardableResult
    public func create2(path: String, data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent,
                        ttl: Int64 = -1) async throws(ZooKeeperError) -> (String, Stat) {
        let opcode: OpCode = mode.isContainer ? .createContainer : mode.isTTL ? .createTTL : .create2
        let reply = try await send(.create(CreateRequest(path: path, data: data, acl: acl, flags: mode.rawValue,
                                                         ttl: mode.isTTL ? ttl : -1), opcode))
        guard case .pathStat(let created, let stat) = reply else { throw Self.unexpected(reply, "create2 \(path)") }
        return (created, stat)
    }

    /// Deletes a node; `version` -1 matches any version.
    public func delete(path: String, version: Int32 = -1) async throws(ZooKeeperError) {
        _ = try await send(.delete(path: path, version: version, .delete))
    }

    /// The node's `Stat`, or nil when it does not exist. With `watch`, a later create, delete or
    /// data change of the node is delivered to `events` (once).
    public func exists(path: String, watch: Bool = false) async throws(ZooKeeperError) -> Stat? {
        do throws(ZooKeeperError) {
            let reply = try await send(.exists(path: path, watch: watch))
            guard case .stat(let stat) = reply else { throw Self.unexpected(reply, "exists \(path)") }
            return stat
        } catch where error.code == .noNode {
            return nil
        }
    }

    /// The node's data and `Stat`. With `watch`, its next data change or delete goes to `events`.
    public func getData(path: String, watch: Bool = false) async throws(ZooKeeperError) -> ([UInt8], Stat) {
        let reply = try await send(.getData(path: path, watch: watch))
        guard case .data(let data, let stat) = reply else { throw Self.unexpected(reply, "getData \(path)") }
        return (data ?? [], stat)  // null data reads as empty here; the wire keeps them apart
    }

    /// Replaces the node's data if its version is `version` (-1: any) and returns the new `Stat`.
    @discardableResult
    public func setData(path: String, data: [UInt8], version: Int32 = -1) async throws(ZooKeeperError) -> Stat {
        let reply = try await send(.setData(path: path, data: data, version: version))
        guard case .stat(let stat) = reply else { throw Self.unexpected(reply, "setData \(path)") }
        return stat
    }

    /// The names (not paths) of the node's children, in the server's order (unsorted).
    /// With `watch`, the next change to the child list or a delete goes to `events`.
    public func getChildren(path: String, watch: Bool = false) async throws(ZooKeeperError) -> [String] {
        let reply = try await send(.getChildren(path: path, watch: watch, withStat: false))
        guard case .children(let children) = reply else { throw Self.unexpected(reply, "getChildren \(path)") }
        return children
    }

    /// Like `getChildren(path:watch:)`, also returning the node's `Stat` (getChildren2).
    public func getChildren2(path: String, watch: Bool = false) async throws(ZooKeeperError) -> ([String], Stat) {
        let reply = try await send(.getChildren(path: path, watch: watch, withStat: true))
        guard case .children2(let children, let stat) = reply else { throw Self.unexpected(reply, "getChildren2 \(path)") }
        return (children, stat)
    }

    /// The node's ACL and `Stat`.
    public func getACL(path: String) async throws(ZooKeeperError) -> ([ACL], Stat) {
        let reply = try await send(.getACL(path: path))
        guard case .acl(let acl, let stat) = reply else { throw Self.unexpected(reply, "getACL \(path)") }
        return (acl, stat)
    }

    /// Replaces the node's ACL if its ACL version (`aversion`) is `version` (-1: any).
    @discardableResult
    public func setACL(path: String, acl: [ACL], version: Int32 = -1) async throws(ZooKeeperError) -> Stat {
        let reply = try await send(.setACL(path: path, acl: acl, version: version))
        guard case .stat(let stat) = reply else { throw Self.unexpected(reply, "setACL \(path)") }
        return stat
    }

    /// Waits until the server this session talks to has caught up with the leader; returns the path.
    @discardableResult
    public func sync(path: String) async throws(ZooKeeperError) -> String {
        let reply = try await send(.sync(path: path))
        guard case .path(let p) = reply else { throw Self.unexpected(reply, "sync \(path)") }
        return p
    }

    /// Runs `ops` (create, delete, setData, check) atomically. When the transaction fails the server
    /// still answers normally: the failing op's result is `.error(code)` and the others
    /// `.error` with OK or RUNTIMEINCONSISTENCY (rolled back), so check the results.
    public func multi(_ ops: [ZKRequest]) async throws(ZooKeeperError) -> [MultiResult] {
        let reply = try await send(.multi(ops))
        guard case .multi(let results) = reply else { throw Self.unexpected(reply, "multi") }
        return results
    }

    /// The ensemble's current dynamic configuration (`/zookeeper/config`): the text with its
    /// `server.N=` lines and `version=`, and its `Stat`.
    public func getConfig(watch: Bool = false) async throws(ZooKeeperError) -> (String, Stat) {
        let (data, stat) = try await getData(path: "/zookeeper/config", watch: watch)
        return (String(decoding: data, as: UTF8.self), stat)
    }

    /// Changes the ensemble's membership (`reconfig`, Apache 3.5+ semantics). Incremental: `joining`
    /// server specs (`server.4=host:2888:3888:participant;2181`, comma-separated) and `leaving` ids;
    /// or non-incremental: `newMembers`, the whole new membership. `fromConfig` (-1: any) is the
    /// config version the change is based on: a different current version fails with `.badVersion`.
    /// Returns the new config text and `/zookeeper/config`'s `Stat` once the change is committed.
    /// Needs a super user (or skipACL) and `reconfigEnabled=true` on the servers.
    public func reconfig(joining: [String] = [], leaving: [Int] = [], newMembers: [String]? = nil,
                         fromConfig: Int64 = -1) async throws(ZooKeeperError) -> (String, Stat) {
        let request = ReconfigRequest(joiningServers: joining.isEmpty ? nil : joining.joined(separator: ","),
                                      leavingServers: leaving.isEmpty ? nil : leaving.map(String.init).joined(separator: ","),
                                      newMembers: newMembers?.joined(separator: ","), curConfigId: fromConfig)
        let reply = try await send(.reconfig(request))
        guard case .data(let data, let stat) = reply else { throw Self.unexpected(reply, "reconfig") }
        return (String(decoding: data ?? [], as: UTF8.self), stat)
    }

    /// Adds an identity to the session, e.g. `addAuth(scheme: "digest", auth: Array("user:pw".utf8))`.
    /// A refused identity throws `.authFailed`, and the server then closes the connection.
    public func addAuth(scheme: String, auth: [UInt8]) async throws(ZooKeeperError) {
        _ = try await send(.auth(type: 0, scheme: scheme, auth: auth))
    }

    /// Ends the session (closeSession: its ephemerals go at once) and closes the connection.
    /// Safe to call twice; a connection already lost just closes.
    public func close() async {
        do {
            _ = try await send(.closeSession)
        } catch {
            // Already disconnected: nothing left to end on our side.
        }
        try? await channel.close()
    }

    // MARK: - Helpers

    private static func zkError(_ error: any Error, _ message: String) -> ZooKeeperError {
        if let e = error as? ZooKeeperError { return e }
        return ZooKeeperError(.connectionLoss, message, cause: error)
    }

    private static func unexpected(_ reply: ZKResponse, _ what: String) -> ZooKeeperError {
        ZooKeeperError(.marshallingError, "\(what): unexpected reply \(reply)")
    }
}

import Logging
import NIOCore
import NIOPosix
import ZKProtocol
import ZKQuorum

/// TCP between the servers of an ensemble, for the pure `QuorumPeer`.
///
/// Every server dials every other one on both of its ports and uses those outbound connections
/// only to send; it receives on the connections others dialed to it. So each direction has its
/// own connection per port and nobody needs a tie-break. Votes travel on the election port,
/// everything else on the quorum port. Each connection opens with a handshake frame (magic, the
/// sender's myid, the port kind) and then carries `QuorumCodec` frames.
///
/// Confined to `loop`: call every method there; callbacks run there.
final class QuorumNetwork: @unchecked Sendable {
    enum PortKind: UInt8 {
        case election = 1
        case quorum = 2
    }

    struct Key: Hashable {
        var peer: Int64
        var kind: PortKind
    }

    /// An outbound connection and what waits for it.
    final class Outbound {
        var channel: (any Channel)?
        var connecting = false
        var queue: [ByteBuffer] = []
        var queuedBytes = 0
        var backoffMs: Int64 = 100
        var wasConnected = false
        /// Frames for the open channel, written as one buffer at the end of the loop pass.
        var out: ByteBuffer?
    }

    static let magic: [UInt8] = Array("ZKQ1".utf8)
    static let maxQueuedBytes = 256 << 20
    static let maxQueuedMessages = 100_000

    /// The longest server line a handshake may carry after its 13 fixed bytes.
    static let maxAnnouncedLine = 1024

    let myid: Int64
    /// Members, and guests admitted by `onGuest`; changed by `setMembers`.
    private(set) var servers: [Int64: QuorumServerSpec]
    let loop: any EventLoop
    let listenOnAllIPs: Bool
    let logger: Logger
    /// With reconfigEnabled, every handshake also carries this server's own line, so a member
    /// that does not know it yet (a joiner) can admit it and dial it back.
    let announceSelf: Bool
    private var guests: Set<Int64> = []

    /// A decoded message from a peer.
    var onMessage: ((_ from: Int64, _ message: QuorumMessage) -> Void)?
    /// A quorum-port connection to or from `peer` closed (not called for election-port ones, nor
    /// for connections closed by `disconnect`).
    var onConnectionLost: ((_ peer: Int64) -> Void)?
    /// A server outside the membership connected and announced its line: return true to admit it
    /// (it may then sync as a learner) or false to refuse the connection.
    var onGuest: ((_ spec: QuorumServerSpec) -> Bool)?

    private var listeners: [any Channel] = []
    private var outbound: [Key: Outbound] = [:]
    /// The current inbound connection per peer and port; an older one is closed when a new one
    /// arrives (the peer restarted).
    private var inbound: [Key: ObjectIdentifier] = [:]
    private var inboundChannels: [ObjectIdentifier: any Channel] = [:]
    private var needsFlush: [Key] = []
    private var flushScheduled = false
    private var closed = false

    init(myid: Int64, servers: [QuorumServerSpec], loop: any EventLoop, listenOnAllIPs: Bool,
         announceSelf: Bool = false, logger: Logger) {
        self.myid = myid
        self.announceSelf = announceSelf
        var m: [Int64: QuorumServerSpec] = [:]
        for s in servers { m[s.id] = s }
        self.servers = m
        self.loop = loop
        self.listenOnAllIPs = listenOnAllIPs
        self.logger = logger
    }

    /// Peers with an open outbound quorum-port connection.
    var connectedPeers: Set<Int64> {
        Set(outbound.filter { $0.key.kind == .quorum && $0.value.channel != nil }.map(\.key.peer))
    }

    /// Binds both of this server's ports and starts dialing every other server.
    func start() async throws {
        guard let me = servers[myid] else { throw StartupError("server.\(myid) is not in the membership") }
        let host = listenOnAllIPs ? "0.0.0.0" : me.host
        for (port, kind) in [(me.electionPort, PortKind.election), (me.quorumPort, PortKind.quorum)] {
            let bootstrap = ServerBootstrap(group: loop)
                .serverChannelOption(ChannelOptions.backlog, value: 64)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(QuorumFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(InboundHandler(network: self, kind: kind))
                    }
                }
            do {
                listeners.append(try await bootstrap.bind(host: host, port: port).get())
            } catch {
                for l in listeners { try? await l.close() }
                throw StartupError("cannot listen on \(host):\(port) (\(kind == .quorum ? "quorum" : "election") port): \(error)")
            }
        }
        try await loop.submit { [self] in
            for id in servers.keys.sorted() where id != myid {
                for kind in [PortKind.election, .quorum] { dial(Key(peer: id, kind: kind)) }
            }
        }.get()
    }

    /// Switches to a committed membership: new members are dialed, guests that became members
    /// stop being guests, and removed servers are let go once what was queued for them (the
    /// commit that removed them) has had time to leave.
    func setMembers(_ specs: [QuorumServerSpec]) {
        var next: [Int64: QuorumServerSpec] = [:]
        for s in specs { next[s.id] = s }
        guests.subtract(next.keys)
        for g in guests { next[g] = servers[g] }
        let removed = Set(servers.keys).subtracting(next.keys)
        servers.merge(next) { _, new in new }
        for id in next.keys.sorted() where id != myid {
            for kind in [PortKind.election, .quorum] where outbound[Key(peer: id, kind: kind)]?.channel == nil {
                dial(Key(peer: id, kind: kind))
            }
        }
        guard !removed.isEmpty else { return }
        loop.scheduleTask(in: .seconds(2)) { [self] in
            for id in removed where !guests.contains(id) && servers[id] != nil && !specs.contains(where: { $0.id == id }) {
                servers[id] = nil
                for kind in [PortKind.election, .quorum] {
                    if let o = outbound.removeValue(forKey: Key(peer: id, kind: kind)) { o.channel?.close(promise: nil) }
                }
            }
        }
    }

    /// Queues `message` for `peer`: votes on the election port, the rest on the quorum port.
    func send(_ message: QuorumMessage, to peer: Int64) {
        guard !closed, servers[peer] != nil, peer != myid else { return }
        let kind: PortKind
        if case .vote = message { kind = .election } else { kind = .quorum }
        let key = Key(peer: peer, kind: kind)
        let o = outboundFor(key)
        let body = QuorumCodec.encode(message)
        if o.channel != nil {
            // Coalesce: every frame of this loop pass goes out in one write.
            if o.out == nil {
                o.out = ByteBufferAllocator().buffer(capacity: max(4096, body.count + 4))
                needsFlush.append(key)
                scheduleFlush()
            }
            o.out!.writeInteger(Int32(truncatingIfNeeded: body.count))
            o.out!.writeBytes(body)
            return
        }
        var buf = ByteBufferAllocator().buffer(capacity: body.count + 4)
        buf.writeInteger(Int32(truncatingIfNeeded: body.count))
        buf.writeBytes(body)
        if o.queue.count >= Self.maxQueuedMessages || o.queuedBytes + buf.readableBytes > Self.maxQueuedBytes {
            logger.warning("server.\(peer) unreachable: dropping \(o.queue.count) queued messages")
            o.queue.removeAll()
            o.queuedBytes = 0
        }
        o.queue.append(buf)
        o.queuedBytes += buf.readableBytes
        if !o.connecting { dial(key) }
    }

    /// Closes the quorum-port connections with `peer` both ways (the core dropped it). Later sends
    /// re-dial.
    func disconnect(_ peer: Int64) {
        let key = Key(peer: peer, kind: .quorum)
        if let o = outbound[key] {
            o.queue.removeAll()
            o.queuedBytes = 0
            if let ch = o.channel {
                o.channel = nil
                // What the core sent before dropping the peer (a last commit) still goes out.
                if let pending = o.out { ch.writeAndFlush(pending, promise: nil) }
                o.out = nil
                o.wasConnected = false
                ch.close(promise: nil)
            }
        }
        if let id = inbound.removeValue(forKey: key), let ch = inboundChannels[id] {
            ch.close(promise: nil)
        }
    }

    /// Stops listening and closes every connection.
    func close() async {
        let all: [any Channel] = (try? await loop.submit { [self] () -> [any Channel] in
            closed = true
            var chs = listeners
            for o in outbound.values { if let c = o.channel { chs.append(c) } }
            chs.append(contentsOf: inboundChannels.values)
            outbound.removeAll()
            inbound.removeAll()
            inboundChannels.removeAll()
            return chs
        }.get()) ?? []
        for c in all { try? await c.close() }
    }

    // MARK: - Outbound

    private func outboundFor(_ key: Key) -> Outbound {
        if let o = outbound[key] { return o }
        let o = Outbound()
        outbound[key] = o
        return o
    }

    private func dial(_ key: Key) {
        guard !closed, let spec = servers[key.peer] else { return }
        let o = outboundFor(key)
        guard o.channel == nil, !o.connecting else { return }
        o.connecting = true
        let port = key.kind == .quorum ? spec.quorumPort : spec.electionPort
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(1))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutboundHandler(network: self, key: key))
                }
            }
            .connect(host: spec.host, port: port)
            .whenComplete { [self] result in
                o.connecting = false
                switch result {
                case .success(let ch):
                    guard !closed, outbound[key] === o else { ch.close(promise: nil); return }
                    o.channel = ch
                    o.wasConnected = true
                    o.backoffMs = 100
                    let line = announceSelf ? Array((servers[myid]?.value ?? "").utf8.prefix(Self.maxAnnouncedLine)) : []
                    var hello = ByteBufferAllocator().buffer(capacity: 17 + line.count)
                    hello.writeInteger(Int32(13 + line.count))
                    hello.writeBytes(Self.magic)
                    hello.writeInteger(myid)
                    hello.writeInteger(key.kind.rawValue)
                    hello.writeBytes(line)
                    ch.write(hello, promise: nil)
                    for b in o.queue { ch.write(b, promise: nil) }
                    o.queue.removeAll()
                    o.queuedBytes = 0
                    ch.flush()
                    logger.info("connected to server.\(key.peer) at \(spec.host):\(port) (\(key.kind == .quorum ? "quorum" : "election") port)")
                case .failure(let e):
                    logger.debug("cannot reach server.\(key.peer) at \(spec.host):\(port): \(e)")
                    retry(key, o)
                }
            }
    }

    private func retry(_ key: Key, _ o: Outbound) {
        guard !closed else { return }
        let delay = o.backoffMs
        o.backoffMs = min(1000, o.backoffMs * 2)
        loop.scheduleTask(in: .milliseconds(delay)) { [self] in
            if outbound[key] === o { dial(key) }
        }
    }

    fileprivate func outboundClosed(_ key: Key, _ channel: any Channel) {
        guard let o = outbound[key], let ch = o.channel, ch === channel else { return }
        o.channel = nil
        o.out = nil
        let spec = servers[key.peer]
        logger.info("connection to server.\(key.peer) (\(spec?.host ?? "?"), \(key.kind == .quorum ? "quorum" : "election") port) closed")
        if key.kind == .quorum {
            // What was queued belongs to the lost session with that peer.
            o.queue.removeAll()
            o.queuedBytes = 0
            onConnectionLost?(key.peer)
        }
        o.backoffMs = 100
        retry(key, o)
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        // One write per peer per loop pass: a leader's batch of proposals leaves in one syscall.
        loop.execute { [self] in
            flushScheduled = false
            let keys = needsFlush
            needsFlush.removeAll(keepingCapacity: true)
            for key in keys {
                guard let o = outbound[key], let buf = o.out else { continue }
                o.out = nil
                o.channel?.writeAndFlush(buf, promise: nil)
            }
        }
    }

    // MARK: - Inbound

    /// Validates a handshake; returns the peer id or nil (the caller closes).
    fileprivate func accept(handshake body: [UInt8], kind: PortKind, channel: any Channel) -> Int64? {
        let remote = channel.remoteAddress.map { "\($0)" } ?? "unknown"
        guard body.count >= 13, body.count <= 13 + Self.maxAnnouncedLine, Array(body[0..<4]) == Self.magic else {
            logger.warning("quorum connection from \(remote): bad handshake, closing")
            return nil
        }
        var id: Int64 = 0
        for b in body[4..<12] { id = (id << 8) | Int64(b) }
        guard id != myid else {
            logger.warning("quorum connection from \(remote) claims our own id server.\(id); closing")
            return nil
        }
        if servers[id] == nil {
            // A joiner: admitted only if it says where it listens and the core agrees.
            let line = String(decoding: body[13...], as: UTF8.self)
            guard body.count > 13, case .success(let spec) = QuorumServerSpec.parse(id: id, value: line),
                  body[12] == kind.rawValue, onGuest?(spec) == true else {
                logger.warning("quorum connection from \(remote) claims server.\(id), which is not a member; closing")
                return nil
            }
            servers[id] = spec
            guests.insert(id)
            for k in [PortKind.election, .quorum] { dial(Key(peer: id, kind: k)) }
        }
        guard body[12] == kind.rawValue else {
            logger.warning("quorum connection from \(remote) (server.\(id)) dialed the wrong port; closing")
            return nil
        }
        let key = Key(peer: id, kind: kind)
        let oid = ObjectIdentifier(channel)
        if let old = inbound[key], let oldCh = inboundChannels[old] {
            // The peer reconnected (it restarted, or dropped us): the old connection is stale, and
            // so is whatever session we had with it. Tell the core before the new connection
            // delivers anything (and before it is registered, so a `disconnect` the core asks for
            // cannot close it).
            inbound[key] = nil
            oldCh.close(promise: nil)
            if kind == .quorum && !closed { onConnectionLost?(id) }
        }
        inbound[key] = oid
        inboundChannels[oid] = channel
        return id
    }

    fileprivate func inboundClosed(peer: Int64?, kind: PortKind, channel: any Channel) {
        let oid = ObjectIdentifier(channel)
        inboundChannels[oid] = nil
        guard let peer else { return }
        let key = Key(peer: peer, kind: kind)
        guard inbound[key] == oid else { return }
        inbound[key] = nil
        if kind == .quorum && !closed { onConnectionLost?(peer) }
    }

    fileprivate func received(_ m: QuorumMessage, from peer: Int64) {
        guard !closed else { return }
        onMessage?(peer, m)
    }
}

/// Splits the stream into frame bodies (4-byte big-endian length first).
struct QuorumFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    /// The first frame must be the handshake (13 bytes and at most a server line): a stranger cannot make us buffer a large
    /// frame before it has said who it is.
    private var handshakeSeen = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let n = Framing.peekLength(buffer) else { return .needMoreData }
        if !handshakeSeen {
            guard n >= 13, n <= 13 + QuorumNetwork.maxAnnouncedLine else {
                throw QuorumCodecError(.invalidLength, "first frame of \(n) bytes is not a handshake")
            }
            handshakeSeen = true
        }
        let frame: ByteBuffer?
        do {
            frame = try Framing.next(&buffer, maxLength: QuorumCodec.maxFrameSize)
        } catch {
            throw QuorumCodecError(.frameTooLarge, "frame length \(error.length)")
        }
        guard var body = frame else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(body.readBytes(length: body.readableBytes)!))
        return .continue
    }
}

private final class InboundHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let network: QuorumNetwork
    let kind: QuorumNetwork.PortKind
    var peer: Int64?

    init(network: QuorumNetwork, kind: QuorumNetwork.PortKind) {
        self.network = network
        self.kind = kind
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = unwrapInboundIn(data)
        guard let peer else {
            guard let id = network.accept(handshake: body, kind: kind, channel: context.channel) else {
                context.close(promise: nil)
                return
            }
            peer = id
            return
        }
        do {
            network.received(try QuorumCodec.decode(body), from: peer)
        } catch {
            network.logger.warning("server.\(peer) sent a malformed message (\(error)); closing the connection")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        network.inboundClosed(peer: peer, kind: kind, channel: context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        network.logger.warning("quorum connection from \(peer.map { "server.\($0)" } ?? "\(context.remoteAddress.map { "\($0)" } ?? "?")"): \(error); closing")
        context.close(promise: nil)
    }
}

private final class OutboundHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let network: QuorumNetwork
    let key: QuorumNetwork.Key

    init(network: QuorumNetwork, key: QuorumNetwork.Key) {
        self.network = network
        self.key = key
    }

    // Outbound connections only send; anything the other side writes is ignored.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        network.outboundClosed(key, context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

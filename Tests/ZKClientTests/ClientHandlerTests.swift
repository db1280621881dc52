import NIOCore
import NIOEmbedded
import Testing
@testable import ZKClient
import ZKProtocol

/// The client pipeline (frame decoder + ClientHandler) on a test channel, playing the server by hand.
private struct Harness {
    let channel: NIOAsyncTestingChannel
    let loop: NIOAsyncTestingEventLoop
    let connected: EventLoopPromise<ConnectResponse>
    let events: AsyncStream<WatcherEvent>

    static func make(timeoutMs: Int32 = 30_000) async throws -> Harness {
        let loop = NIOAsyncTestingEventLoop()
        let connected = loop.makePromise(of: ConnectResponse.self)
        let (stream, continuation) = AsyncStream.makeStream(of: WatcherEvent.self)
        let request = ConnectRequest(protocolVersion: 0, lastZxidSeen: 0, timeout: timeoutMs, sessionId: 0,
                                     password: Array(repeating: 0, count: 16), readOnly: false)
        let channel = try await NIOAsyncTestingChannel(loop: loop) { channel in
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ClientFrameDecoder()))
            try channel.pipeline.syncOperations.addHandler(
                ClientHandler(connect: request, promise: connected, events: continuation))
        }
        return Harness(channel: channel, loop: loop, connected: connected, events: stream)
    }

    /// Connects and answers the handshake with session 0x1234 and `timeoutMs`.
    func handshake(timeoutMs: Int32 = 30_000) async throws -> ConnectRequest {
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2181)).get()
        var out = try #require(try await channel.readOutbound(as: ByteBuffer.self))
        let length = out.readInteger(endianness: .big, as: Int32.self)
        #expect(length.map(Int.init) == out.readableBytes)
        var reader = JuteReader(out)
        let request = try ConnectRequest.read(&reader)
        try await sendFrame {
            ConnectResponse(timeout: timeoutMs, sessionId: 0x1234, password: Array(repeating: 7, count: 16),
                            readOnly: false).write(to: &$0)
        }
        return request
    }

    func sendFrame(_ body: (inout ByteBuffer) -> Void) async throws {
        var b = ByteBuffer()
        b.writeFrame(body)
        try await channel.writeInbound(b)
    }

    func reply(xid: Int32, err: Int32 = 0, _ body: ZKResponse? = nil) async throws {
        try await sendFrame { b in
            ReplyHeader(xid: xid, zxid: 5, err: err).write(to: &b)
            body?.write(to: &b)
        }
    }

    /// Sends a request down the pipeline; returns its reply future and the (header, body bytes) written.
    func request(_ r: ZKRequest) async throws -> (EventLoopFuture<ZKResponse>, RequestHeader, ByteBuffer) {
        let promise = loop.makePromise(of: ZKResponse.self)
        try await channel.writeOutbound(ClientRequest(request: r, promise: promise))
        var out = try #require(try await channel.readOutbound(as: ByteBuffer.self))
        let length = out.readInteger(endianness: .big, as: Int32.self)
        #expect(length.map(Int.init) == out.readableBytes)
        var reader = JuteReader(out)
        let header = try RequestHeader.read(&reader)
        return (promise.futureResult, header, reader.buffer)
    }
}

@Suite struct ClientHandlerTests {
    @Test func handshakeSendsConnectRequestAndCompletesWithTheSession() async throws {
        let h = try await Harness.make(timeoutMs: 12_000)
        let sent = try await h.handshake()
        #expect(sent.timeout == 12_000)
        #expect(sent.sessionId == 0 && sent.protocolVersion == 0 && sent.password == Array(repeating: 0, count: 16))
        let response = try await h.connected.futureResult.get()
        #expect(response.sessionId == 0x1234)
        _ = try await h.channel.finish()
    }

    @Test func refusedSessionFailsTheConnect() async throws {
        let h = try await Harness.make()
        try await h.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2181)).get()
        _ = try await h.channel.readOutbound(as: ByteBuffer.self)
        try await h.sendFrame { ConnectResponse.expired(readOnly: false).write(to: &$0) }
        await #expect(throws: ZooKeeperError.self) { try await h.connected.futureResult.get() }
        do {
            _ = try await h.connected.futureResult.get()
        } catch let e as ZooKeeperError {
            #expect(e.code == .sessionExpired)
        }
        #expect(!h.channel.isActive)
    }

    @Test func repliesAreMatchedInOrderAndNotificationsGoToTheStream() async throws {
        let h = try await Harness.make()
        _ = try await h.handshake()
        let (get, getHeader, getBody) = try await h.request(.getData(path: "/a", watch: true))
        let (set, setHeader, _) = try await h.request(.setData(path: "/b", data: [1], version: -1))
        #expect(getHeader == RequestHeader(xid: 1, type: OpCode.getData.rawValue))
        #expect(setHeader == RequestHeader(xid: 2, type: OpCode.setData.rawValue))
        var body = JuteReader(getBody)
        #expect(try ZKRequest.decode(type: getHeader.type, &body) == .getData(path: "/a", watch: true))

        var stat = Stat()
        stat.version = 3
        try await h.reply(xid: -2)  // a ping reply in between is swallowed
        try await h.sendFrame { b in
            ReplyHeader(xid: -1, zxid: -1, err: 0).write(to: &b)
            WatcherEvent(type: .nodeDataChanged, path: "/a").write(to: &b)
        }
        try await h.reply(xid: 1, .data([9, 9], stat))
        try await h.reply(xid: 2, err: ErrorCode.noNode.rawValue)

        #expect(try await get.get() == .data([9, 9], stat))
        do {
            _ = try await set.get()
            Issue.record("setData should have failed")
        } catch let e as ZooKeeperError {
            #expect(e.code == .noNode)
        }
        var iterator = h.events.makeAsyncIterator()
        #expect(await iterator.next() == WatcherEvent(type: .nodeDataChanged, path: "/a"))

        // Losing the connection fails what is outstanding and ends the stream with a state event.
        let (pending, _, _) = try await h.request(.exists(path: "/c", watch: false))
        try await h.channel.close()
        do {
            _ = try await pending.get()
            Issue.record("exists should have failed")
        } catch let e as ZooKeeperError {
            #expect(e.code == .connectionLoss)
        }
        #expect(await iterator.next() == WatcherEvent(type: .none, state: .disconnected, path: ""))
        #expect(await iterator.next() == nil)
    }

    @Test func authRepliesAreMatchedApartFromRequests() async throws {
        let h = try await Harness.make()
        _ = try await h.handshake()
        let (get, _, _) = try await h.request(.getData(path: "/a", watch: false))
        let (auth, authHeader, _) = try await h.request(.auth(type: 0, scheme: "digest", auth: Array("u:p".utf8)))
        #expect(authHeader == RequestHeader(xid: SpecialXid.auth, type: OpCode.auth.rawValue))
        // The server answers auth at once, ahead of the queued getData.
        try await h.reply(xid: SpecialXid.auth)
        #expect(try await auth.get() == .empty)
        try await h.reply(xid: 1, .data([], Stat()))
        #expect(try await get.get() == .data([], Stat()))
        _ = try await h.channel.finish()
    }

    @Test func outOfOrderReplyClosesTheSession() async throws {
        let h = try await Harness.make()
        _ = try await h.handshake()
        let (first, _, _) = try await h.request(.sync(path: "/"))
        try await h.reply(xid: 42, .path("/"))
        do {
            _ = try await first.get()
            Issue.record("sync should have failed")
        } catch let e as ZooKeeperError {
            #expect(e.code == .marshallingError)
        }
        #expect(!h.channel.isActive)
    }

    @Test func pingsGoOutEveryThirdOfTheTimeout() async throws {
        let h = try await Harness.make()
        _ = try await h.handshake(timeoutMs: 3_000)
        #expect(try await h.channel.readOutbound(as: ByteBuffer.self) == nil)
        await h.loop.advanceTime(by: .milliseconds(1_000))
        var ping = try #require(try await h.channel.readOutbound(as: ByteBuffer.self))
        let pingLength = ping.readInteger(endianness: .big, as: Int32.self)
        #expect(pingLength == 8)
        var reader = JuteReader(ping)
        #expect(try RequestHeader.read(&reader) == RequestHeader(xid: SpecialXid.ping, type: OpCode.ping.rawValue))
        await h.loop.advanceTime(by: .milliseconds(1_000))
        #expect(try await h.channel.readOutbound(as: ByteBuffer.self) != nil)
        _ = try await h.channel.finish()
    }
}

import Logging
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import ZKCore
import ZKProtocol
@testable import ZKServer

/// The request path without sockets: frames into a `ClientChannelHandler` on NIO's
/// `EmbeddedChannel`, a `ServerCore` with the standalone orderer over a log that keeps nothing,
/// replies read back off the channel.
private final class Harness {
    let loop = EmbeddedEventLoop()
    let core: ServerCore

    init(settings: CoreSettings = CoreSettings()) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        core = ServerCore(loop: loop, settings: settings, tree: DataTree(), logger: logger)
        core.orderer = StandaloneOrderer(core: core, log: VolatileTxnLog())
    }

    /// A client channel wired as the listener wires it.
    func channel() throws -> EmbeddedChannel {
        let ch = EmbeddedChannel(loop: loop)
        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(ZKFrameDecoder(maxBuffer: 0xfffff) { $0 == "ruok" }))
        try ch.pipeline.syncOperations.addHandler(ClientChannelHandler(core: core) { _, _ in "imok" })
        // Connecting makes the channel active (and fires channelActive), so closes are visible.
        try ch.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        return ch
    }

    /// Lets queued loop work (commits, flushes) run.
    func settle() { for _ in 0..<4 { loop.run() } }
}

private func frame(_ body: (inout ByteBuffer) -> Void) -> ByteBuffer {
    var b = ByteBufferAllocator().buffer(capacity: 64)
    b.writeFrame(body)
    return b
}

private func connectFrame(sessionId: Int64 = 0, password: [UInt8] = Array(repeating: 0, count: 16)) -> ByteBuffer {
    frame { ConnectRequest(protocolVersion: 0, lastZxidSeen: 0, timeout: 10_000, sessionId: sessionId,
                           password: password, readOnly: false).write(to: &$0) }
}

private func requestFrame(xid: Int32, _ r: ZKRequest) -> ByteBuffer {
    frame { b in
        RequestHeader(xid: xid, type: r.opcode.rawValue).write(to: &b)
        r.write(to: &b)
    }
}

private let open = [ACL(perms: .all, id: .anyone)]

/// Everything the channel wrote, split into frames.
private func frames(_ ch: EmbeddedChannel) throws -> [ByteBuffer] {
    var all = ByteBufferAllocator().buffer(capacity: 256)
    while var b = try ch.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&b) }
    var out: [ByteBuffer] = []
    while let f = try Framing.next(&all, maxLength: 1 << 20) { out.append(f) }
    #expect(all.readableBytes == 0, "no partial frame left over")
    return out
}

private func replyHeader(_ f: ByteBuffer) throws -> (ReplyHeader, JuteReader) {
    var r = JuteReader(f)
    return (try ReplyHeader.read(&r), r)
}

@Suite struct RequestPathTests {
    /// Connects a fresh session and returns its response.
    private func connect(_ h: Harness, _ ch: EmbeddedChannel) throws -> ConnectResponse {
        try ch.writeInbound(connectFrame())
        h.settle()
        let fs = try frames(ch)
        try #require(fs.count == 1)
        var r = JuteReader(fs[0])
        return try ConnectResponse.read(&r)
    }

    @Test func sessionIsCreatedThroughTheOrderer() throws {
        let h = Harness()
        let ch = try h.channel()
        let resp = try connect(h, ch)
        #expect(resp.sessionId != 0 && resp.timeout == 10_000 && resp.password.count == 16)
        #expect(h.core.tree.sessions[resp.sessionId] != nil, "the createSession txn was applied")
        #expect(h.core.lastZxid == 1)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWithTheirZxids() throws {
        let h = Harness()
        let ch = try h.channel()
        _ = try connect(h, ch)
        // One read burst: a write, a read of what it writes, another write, a ping.
        var burst = requestFrame(xid: 1, .create(CreateRequest(path: "/a", data: [1, 2], acl: open, flags: 0), .create))
        var more = requestFrame(xid: 2, .getData(path: "/a", watch: false))
        burst.writeBuffer(&more)
        more = requestFrame(xid: 3, .setData(path: "/a", data: [3], version: 0))
        burst.writeBuffer(&more)
        more = requestFrame(xid: -2, .ping)
        burst.writeBuffer(&more)
        try ch.writeInbound(burst)
        h.settle()
        let fs = try frames(ch)
        let headers = try fs.map { try replyHeader($0).0 }
        #expect(headers.map(\.xid) == [1, 2, 3, -2], "replies leave in request order")
        #expect(headers.allSatisfy { $0.err == 0 })
        #expect(headers.map(\.zxid) == [2, 2, 3, 3], "a read behind a write sees the write's zxid")
        var (_, r) = try replyHeader(fs[1])
        let data = try r.readBuffer()
        #expect(data == [1, 2], "the read ran after the create committed")
    }

    @Test func aWatchFiresOnAnotherConnectionWithXidMinusOne() throws {
        let h = Harness()
        let watcher = try h.channel(), writer = try h.channel()
        _ = try connect(h, watcher)
        _ = try connect(h, writer)
        try watcher.writeInbound(requestFrame(xid: 1, .exists(path: "/w", watch: true)))
        h.settle()
        #expect(try replyHeader(try frames(watcher)[0]).0.err == ErrorCode.noNode.rawValue)
        try writer.writeInbound(requestFrame(xid: 1, .create(CreateRequest(path: "/w", data: nil, acl: open, flags: 0), .create)))
        h.settle()
        #expect(try frames(writer).count == 1)
        let fs = try frames(watcher)
        try #require(fs.count == 1)
        var (header, r) = try replyHeader(fs[0])
        #expect(header.xid == SpecialXid.notification)
        #expect(header.zxid == -1, "Apache sends notifications with zxid -1")
        let e = try WatcherEvent.read(&r)
        #expect(e == WatcherEvent(type: .nodeCreated, path: "/w"))
    }

    @Test func aBodyThatDoesNotDecodeIsAnsweredAndTheSessionGoesOn() throws {
        let h = Harness()
        let ch = try h.channel()
        _ = try connect(h, ch)
        // getData with a truncated path string.
        let bad = frame { b in
            RequestHeader(xid: 4, type: OpCode.getData.rawValue).write(to: &b)
            b.writeJuteInt(100)
        }
        try ch.writeInbound(bad)
        try ch.writeInbound(requestFrame(xid: 5, .exists(path: "/", watch: false)))
        h.settle()
        let headers = try frames(ch).map { try replyHeader($0).0 }
        #expect(headers.map(\.xid) == [4, 5])
        #expect(headers[0].err == ErrorCode.marshallingError.rawValue)
        #expect(headers[1].err == 0)
        #expect(ch.isActive)
    }

    @Test func anUnknownOpcodeIsUnimplementedAndCloses() throws {
        let h = Harness()
        let ch = try h.channel()
        _ = try connect(h, ch)
        try ch.writeInbound(frame { RequestHeader(xid: 7, type: 999).write(to: &$0) })
        h.settle()
        let headers = try frames(ch).map { try replyHeader($0).0 }
        #expect(headers == [ReplyHeader(xid: 7, zxid: -1, err: ErrorCode.unimplemented.rawValue)])
        #expect(!ch.isActive)
    }

    @Test func anIllegalFrameLengthClosesOnlyThatConnection() throws {
        let h = Harness()
        let good = try h.channel(), bad = try h.channel()
        _ = try connect(h, good)
        _ = try connect(h, bad)
        var b = ByteBufferAllocator().buffer(capacity: 8)
        b.writeInteger(Int32(-5))
        b.writeInteger(Int32(0))
        // The handler closes the connection on the decoder's error (nothing reaches the caller).
        try bad.writeInbound(b)
        h.settle()
        #expect(!bad.isActive)
        try good.writeInbound(requestFrame(xid: 1, .exists(path: "/", watch: false)))
        h.settle()
        #expect(try frames(good).map { try replyHeader($0).0.err } == [0])
        #expect(h.core.connections.count == 1)
    }

    @Test func closeSessionRemovesItsEphemerals() throws {
        let h = Harness()
        let owner = try h.channel(), other = try h.channel()
        let sid = try connect(h, owner).sessionId
        _ = try connect(h, other)
        try owner.writeInbound(requestFrame(xid: 1, .create(CreateRequest(path: "/e", data: nil, acl: open, flags: 1), .create)))
        h.settle()
        #expect(h.core.tree.sessions[sid] != nil)
        try other.writeInbound(requestFrame(xid: 1, .exists(path: "/e", watch: true)))
        try owner.writeInbound(requestFrame(xid: 2, .closeSession))
        h.settle()
        let headers = try frames(owner).map { try replyHeader($0).0 }
        #expect(headers.map(\.xid) == [1, 2])
        #expect(h.core.tree.sessions[sid] == nil)
        let fs = try frames(other)
        try #require(fs.count == 2)
        var (header, r) = try replyHeader(fs[1])
        #expect(header.xid == SpecialXid.notification)
        #expect(try WatcherEvent.read(&r) == WatcherEvent(type: .nodeDeleted, path: "/e"))
    }

    @Test func fourLetterWordIsAnsweredAndCloses() throws {
        let h = Harness()
        let ch = try h.channel()
        var b = ByteBufferAllocator().buffer(capacity: 4)
        b.writeString("ruok")
        try ch.writeInbound(b)
        h.settle()
        var out = try ch.readOutbound(as: ByteBuffer.self)
        #expect(out?.readString(length: 4) == "imok")
        #expect(!ch.isActive)
        #expect(h.core.connections.isEmpty)
    }
}

@Suite struct FrameDecoderTests {
    private func buf(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    @Test func framesSurviveAnySplitOfTheStream() throws {
        let one = requestFrame(xid: 1, .exists(path: "/a", watch: false))
        let two = requestFrame(xid: 2, .getData(path: "/bb", watch: true))
        var both = one
        var t = two
        both.writeBuffer(&t)
        let body1 = one.getSlice(at: 4, length: one.readableBytes - 4)!
        let body2 = two.getSlice(at: 4, length: two.readableBytes - 4)!
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(both, [.packet(body1), .packet(body2)])],
            decoderFactory: { ZKFrameDecoder(maxBuffer: 0xfffff) { $0 == "ruok" } })
    }

    /// Not through the verifier: it repeats each input on one stream, and a four-letter word
    /// only counts as the very first bytes of a connection.
    @Test func aFourLetterWordOnlyCountsAsTheFirstBytes() throws {
        let f = requestFrame(xid: 1, .ping)
        var stream = ByteBuffer(string: "ruok")
        var tail = f
        stream.writeBuffer(&tail)
        let ch = EmbeddedChannel(handler: ByteToMessageHandler(ZKFrameDecoder(maxBuffer: 0xfffff) { $0 == "ruok" }))
        for byte in stream.readableBytesView { try ch.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(try ch.readInbound(as: ClientFrame.self) == .fourLetter("ruok"))
        #expect(try ch.readInbound(as: ClientFrame.self) == .packet(f.getSlice(at: 4, length: f.readableBytes - 4)!))
        // Later, the same four bytes are a frame length (0x72756f6b), far above jute.maxbuffer.
        #expect(throws: Framing.LengthError.self) { try ch.writeInbound(ByteBuffer(string: "ruok")) }
    }

    @Test func anIllegalLengthIsAnError() {
        var b = ByteBuffer()
        b.writeInteger(Int32(0x10_0000 + 1))
        #expect(throws: Framing.LengthError.self) {
            try ByteToMessageDecoderVerifier.verifyDecoder(
                inputOutputPairs: [(b, [])],
                decoderFactory: { ZKFrameDecoder(maxBuffer: 0xfffff) { _ in false } })
        }
    }
}

@Suite struct AddWatchReplyTests {
    /// Apache answers addWatch with an ErrorResponse record ({int err}); the Java client (Curator's
    /// CuratorCache) reads those 4 bytes, and treated the empty body it got before as a broken
    /// connection — the lost reply behind Curator's spurious NodeExists on its retried create.
    @Test func addWatchReplyCarriesAnErrorResponse() throws {
        let h = Harness()
        let ch = try h.channel()
        try ch.writeInbound(connectFrame())
        h.settle()
        _ = try frames(ch)
        try ch.writeInbound(requestFrame(xid: 3, .addWatch(path: "/", mode: 1)))
        h.settle()
        let fs = try frames(ch)
        try #require(fs.count == 1)
        var (header, r) = try replyHeader(fs[0])
        #expect(header.xid == 3 && header.err == 0)
        #expect(r.readableBytes == 4)
        #expect(try r.readInt() == 0)
    }
}

import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import ZKClient
import ZKProtocol

private func framed(_ body: [UInt8]) -> ByteBuffer {
    var b = ByteBuffer()
    b.writeFrame { $0.writeBytes(body) }
    return b
}

@Suite struct ClientFrameDecoderTests {
    @Test func dripFedFramesDecodeWhole() throws {
        // The verifier feeds the bytes whole, one at a time and in random chunks.
        let a: [UInt8] = [1, 2, 3, 4, 5]
        let b: [UInt8] = Array(repeating: 0xab, count: 300)
        var both = framed(a)
        var second = framed(b)
        both.writeBuffer(&second)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (framed(a), [ByteBuffer(bytes: a)]),
                (framed([]), [ByteBuffer()]),
                (both, [ByteBuffer(bytes: a), ByteBuffer(bytes: b)]),
            ],
            decoderFactory: { ClientFrameDecoder() })
    }

    @Test func negativeLengthClosesTheStream() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ClientFrameDecoder()))
        var bad = ByteBuffer()
        bad.writeInteger(Int32(-5))
        #expect(throws: ClientFrameDecoder.LengthError(length: -5)) { try channel.writeInbound(bad) }
    }

    @Test func oversizedLengthIsRefusedBeforeTheBodyArrives() throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(2000))
        #expect(throws: ClientFrameDecoder.LengthError(length: 2000)) {
            _ = try ClientFrameDecoder.nextFrame(&buffer, maxFrameLength: 1024)
        }
    }

    @Test func partialFrameLeavesTheBufferUntouched() throws {
        var buffer = framed([9, 9, 9, 9])
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        let before = buffer
        #expect(try ClientFrameDecoder.nextFrame(&buffer, maxFrameLength: 100) == nil)
        #expect(buffer == before)
    }
}

@Suite struct ReplyMatcherTests {
    @Test func repliesMatchFIFOAndSpecialXidsPassThrough() {
        var m = ReplyMatcher<String>()
        let x1 = m.enqueue(.getData, "first")
        let x2 = m.enqueue(.setData, "second")
        #expect(x1 == 1 && x2 == 2)
        guard case .notification = m.match(xid: -1) else { Issue.record("xid -1"); return }
        guard case .ping = m.match(xid: -2) else { Issue.record("xid -2"); return }
        guard case .auth = m.match(xid: -4) else { Issue.record("xid -4"); return }
        guard case .reply(.getData, "first") = m.match(xid: 1) else { Issue.record("xid 1"); return }
        #expect(m.outstanding == 1)
        guard case .unexpected(7, 2) = m.match(xid: 7) else { Issue.record("xid 7"); return }
        #expect(m.outstanding == 1)
        guard case .reply(.setData, "second") = m.match(xid: 2) else { Issue.record("xid 2"); return }
        guard case .unexpected(3, nil) = m.match(xid: 3) else { Issue.record("xid 3 with nothing outstanding"); return }
    }

    @Test func drainReturnsOutstandingOldestFirst() {
        var m = ReplyMatcher<Int>()
        for i in 0..<5 { _ = m.enqueue(.exists, i) }
        #expect(m.drain() == [0, 1, 2, 3, 4])
        #expect(m.outstanding == 0)
    }
}

import NIOCore
import ZKProtocol

/// Splits the bytes a ZooKeeper server sends into frames: a 4-byte big-endian length, then that
/// many bytes of record (a `ConnectResponse` first, then `ReplyHeader` + body).
///
/// Each frame is passed on as a `ByteBuffer` slice without the length prefix. A partial frame
/// waits for more bytes; a negative length, or one above `maxFrameLength`, throws
/// `ClientFrameDecoder.LengthError`, which should close the connection (the stream cannot be
/// resynchronised).
public struct ClientFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    /// A frame length the decoder refuses.
    public typealias LengthError = Framing.LengthError

    /// The largest frame accepted. Servers cap replies at jute.maxbuffer (1 MiB by default) plus
    /// a little framing, but a getChildren of a huge node may exceed that, so the default is generous.
    public let maxFrameLength: Int

    public init(maxFrameLength: Int = 16 << 20) {
        self.maxFrameLength = maxFrameLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.nextFrame(&buffer, maxFrameLength: maxFrameLength) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                                    seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // Leftover bytes at EOF are a truncated frame; the connection is going away anyway, so they
        // are dropped rather than reported.
        return .needMoreData
    }

    /// Takes one whole frame off the front of `buffer` (without its length prefix), or returns nil
    /// and leaves `buffer` untouched when the frame is not complete yet.
    public static func nextFrame(_ buffer: inout ByteBuffer, maxFrameLength: Int) throws(LengthError) -> ByteBuffer? {
        try Framing.next(&buffer, maxLength: maxFrameLength)
    }
}

import NIOCore
import ZKProtocol

/// What a client connection delivers: a four-letter word (only as the very first bytes) or a
/// length-framed packet.
enum ClientFrame: Equatable {
    case fourLetter(String)
    case packet(ByteBuffer)
}

/// Splits the byte stream into ZooKeeper frames (4-byte big-endian length + record). Rewinds on a
/// partial frame; throws on an illegal length, which closes the connection.
struct ZKFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ClientFrame
    let maxBuffer: Int
    let isFourLetterWord: @Sendable (String) -> Bool
    private var first = true

    init(maxBuffer: Int, isFourLetterWord: @escaping @Sendable (String) -> Bool) {
        self.maxBuffer = maxBuffer
        self.isFourLetterWord = isFourLetterWord
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard Framing.peekLength(buffer) != nil else { return .needMoreData }
        if first {
            first = false
            if let word = buffer.getString(at: buffer.readerIndex, length: 4), isFourLetterWord(word) {
                buffer.moveReaderIndex(forwardBy: 4)
                context.fireChannelRead(wrapInboundOut(.fourLetter(word)))
                return .continue
            }
        }
        // An illegal length (Framing.LengthError) closes the connection.
        guard let frame = try Framing.next(&buffer, maxLength: maxBuffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(.packet(frame)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

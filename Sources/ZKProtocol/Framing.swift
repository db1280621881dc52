import NIOCore

/// ZooKeeper's framing, shared by the server, the client and the quorum transport: a 4-byte
/// big-endian length, then that many bytes.
public enum Framing {
    /// A frame length that is negative or above the limit. The stream cannot be resynchronised,
    /// so the connection must be closed.
    public struct LengthError: Error, Hashable, Sendable, CustomStringConvertible {
        public var length: Int32
        public init(length: Int32) { self.length = length }
        /// Apache's words for it.
        public var description: String { "Len error \(length)" }
    }

    /// The length of the frame at the front of `buffer`, if its 4 bytes are there.
    @inlinable public static func peekLength(_ buffer: ByteBuffer) -> Int32? {
        buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self)
    }

    /// Takes one whole frame body off the front of `buffer` (a slice, no copy), or returns nil
    /// and leaves `buffer` untouched when the frame is not complete yet.
    @inlinable public static func next(_ buffer: inout ByteBuffer, maxLength: Int) throws(LengthError) -> ByteBuffer? {
        guard let length = peekLength(buffer) else { return nil }
        guard length >= 0, Int(length) <= maxLength else { throw LengthError(length: length) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))!
    }
}

import NIOCore

/// An error decoding a jute record: the bytes do not form the record expected.
public struct JuteError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The buffer ended inside a record.
        case truncated
        /// A length field was negative (other than -1 for null) or too large.
        case badLength
        /// A value is outside its legal range (e.g. an unknown enum code).
        case badValue
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "jute: \(message)" }
}

/// Reads jute primitives (big-endian ints, length-prefixed buffers, strings, vectors) from a `ByteBuffer`.
///
/// Every read throws `JuteError` rather than trapping, so a malformed packet can only close its connection.
public struct JuteReader {
    public var buffer: ByteBuffer
    /// Largest length accepted for a single buffer, string or vector.
    public var maxLength: Int

    public init(_ buffer: ByteBuffer, maxLength: Int = 0xfffff) {
        self.buffer = buffer
        self.maxLength = maxLength
    }

    public var readableBytes: Int { buffer.readableBytes }

    @inlinable
    public mutating func readInt() throws(JuteError) -> Int32 {
        guard let v = buffer.readInteger(endianness: .big, as: Int32.self) else {
            throw JuteError(.truncated, "int past end of record")
        }
        return v
    }

    @inlinable
    public mutating func readLong() throws(JuteError) -> Int64 {
        guard let v = buffer.readInteger(endianness: .big, as: Int64.self) else {
            throw JuteError(.truncated, "long past end of record")
        }
        return v
    }

    @inlinable
    public mutating func readBool() throws(JuteError) -> Bool {
        guard let v = buffer.readInteger(as: UInt8.self) else {
            throw JuteError(.truncated, "bool past end of record")
        }
        return v != 0
    }

    private mutating func readLength() throws(JuteError) -> Int? {
        let n = try readInt()
        if n == -1 { return nil }
        guard n >= 0, Int(n) <= maxLength else { throw JuteError(.badLength, "length \(n) out of range") }
        return Int(n)
    }

    /// A jute `buffer`; nil when the length is -1.
    public mutating func readBuffer() throws(JuteError) -> [UInt8]? {
        guard let n = try readLength() else { return nil }
        guard let bytes = buffer.readBytes(length: n) else { throw JuteError(.truncated, "buffer past end of record") }
        return bytes
    }

    /// A jute `buffer` where null reads as empty.
    public mutating func readData() throws(JuteError) -> [UInt8] {
        try readBuffer() ?? []
    }

    /// A jute `ustring`. Invalid UTF-8 decodes with replacement characters, as Java's decoder does;
    /// path validation then rejects them.
    public mutating func readString() throws(JuteError) -> String? {
        guard let n = try readLength() else { return nil }
        guard let s = buffer.readString(length: n) else { throw JuteError(.truncated, "string past end of record") }
        return s
    }

    /// A jute `ustring` where null reads as "".
    public mutating func readPath() throws(JuteError) -> String {
        try readString() ?? ""
    }

    public mutating func readStringVector() throws(JuteError) -> [String]? {
        guard let n = try readLength() else { return nil }
        var out: [String] = []
        out.reserveCapacity(min(n, 1024))
        for _ in 0..<n { out.append(try readString() ?? "") }
        return out
    }

    public mutating func readVector<T>(_ element: (inout JuteReader) throws(JuteError) -> T) throws(JuteError) -> [T]? {
        guard let n = try readLength() else { return nil }
        var out: [T] = []
        out.reserveCapacity(min(n, 1024))
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }
}

extension ByteBuffer {
    @inlinable
    public mutating func writeJuteInt(_ v: Int32) { writeInteger(v, endianness: .big) }
    @inlinable
    public mutating func writeJuteLong(_ v: Int64) { writeInteger(v, endianness: .big) }
    @inlinable
    public mutating func writeJuteBool(_ v: Bool) { writeInteger(v ? 1 : 0, as: UInt8.self) }

    public mutating func writeJuteBuffer(_ v: [UInt8]?) {
        guard let v else { writeJuteInt(-1); return }
        writeJuteInt(Int32(v.count))
        writeBytes(v)
    }

    public mutating func writeJuteString(_ v: String?) {
        guard let v else { writeJuteInt(-1); return }
        let lengthIndex = writerIndex
        writeJuteInt(0)
        let n = writeString(v)
        setInteger(Int32(n), at: lengthIndex, endianness: .big)
    }

    public mutating func writeJuteStrings(_ v: [String]?) {
        guard let v else { writeJuteInt(-1); return }
        writeJuteInt(Int32(v.count))
        for s in v { writeJuteString(s) }
    }

    /// Writes a length-prefixed frame: reserves 4 bytes, runs `body`, then fills in the length.
    @inlinable
    public mutating func writeFrame(_ body: (inout ByteBuffer) -> Void) {
        let lengthIndex = writerIndex
        writeInteger(0 as Int32)
        body(&self)
        setInteger(Int32(writerIndex - lengthIndex - 4), at: lengthIndex, endianness: .big)
    }
}

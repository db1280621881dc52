/// An error from the storage layer: what went wrong, where (file and byte offset when known),
/// and the `errno` when a system call failed.
///
/// Corruption errors (`corruptLog`, `corruptSnapshot`) are fatal for the server: the operator must
/// look at the named file. The storage layer never deletes data when it reports them.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: String, Sendable, Equatable {
        /// A system call failed (see `errno`).
        case io
        /// A transaction log file is damaged somewhere other than a recoverable torn tail,
        /// or its records are out of order.
        case corruptLog
        /// A snapshot file failed validation and no older valid snapshot could replace it.
        case corruptSnapshot
        /// A file has a format version this code does not read.
        case unsupportedVersion
        /// The caller passed an argument the storage layer cannot honour.
        case invalidArgument
        /// The log writer was closed (or failed) before the requested record became durable.
        case closed
    }

    /// The class of failure.
    public var kind: Kind
    /// A human-readable explanation.
    public var message: String
    /// The file concerned, if any.
    public var file: String?
    /// The byte offset inside `file` where the problem was found, if known.
    public var offset: Int64?
    /// The `errno` of a failed system call, if any.
    public var errno: Int32?

    /// Creates an error; `file`, `offset` and `errno` are optional context.
    public init(_ kind: Kind, _ message: String, file: String? = nil, offset: Int64? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.offset = offset
        self.errno = errno
    }

    public var description: String {
        var s = "\(kind.rawValue): \(message)"
        if let file { s += " (file \(file)" + (offset.map { ", offset \($0)" } ?? "") + ")" }
        return s
    }
}

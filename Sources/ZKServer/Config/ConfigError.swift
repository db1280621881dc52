/// A zoo.cfg (or dynamic config) problem that stops the server from starting.
///
/// `description` reads like a compiler diagnostic so an operator can jump to the line:
/// `zoo.cfg:3: tickTime: "abc" is not a number`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in, as the caller named it (a path or just `zoo.cfg`).
    public var file: String
    /// 1-based line of the offending entry, when the problem belongs to one line.
    public var line: Int?
    /// The key concerned (`tickTime`, `server.3`, `myid`), when there is one.
    public var key: String?
    /// What is wrong, in words.
    public var message: String

    public init(file: String, line: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let key { s += "\(key): " }
        return s + message
    }
}

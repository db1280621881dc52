/// A failure talking SSH to one host: which host, which step, what went wrong.
///
/// Errors are values (not a hierarchy) so per-host results can carry them.
public struct SSHError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The broad kind of failure; callers branch on this, people read `message`.
    public enum Kind: String, Sendable {
        case connect, hostKeyUnknown, hostKeyChanged, knownHosts, auth, channel, exec, sftp, timeout, local
    }

    /// The failure kind.
    public var kind: Kind
    /// "address:port" of the remote side.
    public var host: String
    /// What was being done ("connect", "handshake", "auth", "exec: mkdir -p …", …).
    public var step: String
    /// A human explanation (with the libssh2 error text when there is one).
    public var message: String

    public init(_ kind: Kind, host: String, step: String, _ message: String) {
        self.kind = kind
        self.host = host
        self.step = step
        self.message = message
    }

    public var description: String { "\(host): \(step): \(message)" }
}

import ZKProtocol

/// A failed ZooKeeper call: the server's error code (or a client-side one such as
/// `.connectionLoss`), what was being done, and the underlying error when there was one.
public struct ZooKeeperError: Error, Sendable, CustomStringConvertible {
    /// The KeeperException code. Server replies carry theirs; the client uses `.connectionLoss`
    /// when the connection is gone, `.marshallingError` for bytes it cannot decode,
    /// `.sessionExpired` when the server refuses the session and `.authFailed` for a bad addAuth.
    public var code: ErrorCode
    /// What was being done, e.g. "getData /a".
    public var message: String
    /// The error underneath, e.g. a socket error or a `JuteError`.
    public var cause: (any Error & Sendable)?

    public init(_ code: ErrorCode, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        var s = "ZooKeeperError(\(Self.name(of: code)) [\(code.rawValue)]: \(message)"
        if let cause { s += ", cause: \(cause)" }
        return s + ")"
    }

    /// The Java name of a code (KeeperException.Code), for messages.
    public static func name(of code: ErrorCode) -> String {
        switch code {
        case .ok: return "OK"
        case .systemError: return "SYSTEMERROR"
        case .runtimeInconsistency: return "RUNTIMEINCONSISTENCY"
        case .dataInconsistency: return "DATAINCONSISTENCY"
        case .connectionLoss: return "CONNECTIONLOSS"
        case .marshallingError: return "MARSHALLINGERROR"
        case .unimplemented: return "UNIMPLEMENTED"
        case .operationTimeout: return "OPERATIONTIMEOUT"
        case .badArguments: return "BADARGUMENTS"
        case .unknownSession: return "UNKNOWNSESSION"
        case .newConfigNoQuorum: return "NEWCONFIGNOQUORUM"
        case .reconfigInProgress: return "RECONFIGINPROGRESS"
        case .apiError: return "APIERROR"
        case .noNode: return "NONODE"
        case .noAuth: return "NOAUTH"
        case .badVersion: return "BADVERSION"
        case .noChildrenForEphemerals: return "NOCHILDRENFOREPHEMERALS"
        case .nodeExists: return "NODEEXISTS"
        case .notEmpty: return "NOTEMPTY"
        case .sessionExpired: return "SESSIONEXPIRED"
        case .invalidCallback: return "INVALIDCALLBACK"
        case .invalidACL: return "INVALIDACL"
        case .authFailed: return "AUTHFAILED"
        case .sessionMoved: return "SESSIONMOVED"
        case .notReadOnly: return "NOTREADONLY"
        case .ephemeralOnLocalSession: return "EPHEMERALONLOCALSESSION"
        case .noWatcher: return "NOWATCHER"
        case .requestTimeout: return "REQUESTTIMEOUT"
        case .reconfigDisabled: return "RECONFIGDISABLED"
        case .quotaExceeded: return "QUOTAEXCEEDED"
        case .throttledOp: return "THROTTLEDOP"
        default: return "UNKNOWN"
        }
    }
}

/// The plain values the four-letter-word formatters need, gathered by the server at the moment
/// a command arrives. Everything is a value: rendering is pure and testable.
///
/// Defaults describe an idle standalone server, so callers fill only what they track.
public struct FourLetterSnapshot: Sendable {
    /// What `srvr`/`stat` print after `Mode:` and mntr after `zk_server_state`.
    public enum Mode: String, Sendable, Equatable {
        case standalone
        case leader
        case follower
        case observer
        case readOnly = "read-only"
    }

    /// One client connection, as `stat` (brief) and `cons` (full) print it.
    public struct Connection: Sendable, Equatable {
        public var remoteHost: String
        public var remotePort: Int
        /// Selector interest ops, printed in hex: 1 (read) for an idle connection, 0 for the
        /// connection the command arrived on.
        public var interestOps: Int = 1
        /// Requests submitted but not answered.
        public var queued: Int = 0
        public var received: Int64 = 0
        public var sent: Int64 = 0
        /// 0 until the session is established; then `cons` prints the session fields.
        public var sessionId: Int64 = 0
        /// Apache's short op name of the last request (`PING`, `GETD`, `SETD`, ...), `NA` after a reset.
        public var lastOperation: String = "NA"
        /// Wall-clock ms since the epoch when the connection was established.
        public var establishedMillis: Int64 = 0
        /// Negotiated session timeout, ms.
        public var sessionTimeout: Int = 0
        /// Last client xid; not printed when negative (after `crst`).
        public var lastCxid: Int64 = -1
        /// Last zxid answered; -1 after a reset (printed `0xffffffffffffffff`, as Apache does).
        public var lastZxid: Int64 = -1
        /// Monotonic ms of the last response; 0 after a reset.
        public var lastResponseMillis: Int64 = 0
        public var lastLatency: Int64 = 0
        public var minLatency: Int64 = 0
        /// Integer ms (Apache prints a long here, unlike `srvr`).
        public var avgLatency: Int64 = 0
        public var maxLatency: Int64 = 0

        public init(remoteHost: String, remotePort: Int) {
            self.remoteHost = remoteHost
            self.remotePort = remotePort
        }
    }

    /// Counts for `wchs`. Apache counts only data watches here (not child watches), unlike
    /// `zk_watch_count` in mntr which counts both.
    public struct WatchSummary: Sendable, Equatable {
        /// Distinct watchers (sessions/connections) holding at least one watch.
        public var connections: Int
        public var paths: Int
        public var total: Int
        public init(connections: Int = 0, paths: Int = 0, total: Int = 0) {
            self.connections = connections
            self.paths = paths
            self.total = total
        }
    }

    /// A session and paths: one `wchc` entry or one `dump` ephemerals entry.
    public struct SessionPaths: Sendable, Equatable {
        public var sessionId: Int64
        public var paths: [String]
        public init(sessionId: Int64, paths: [String]) {
            self.sessionId = sessionId
            self.paths = paths
        }
    }

    /// A path and the sessions watching it: one `wchp` entry.
    public struct PathSessions: Sendable, Equatable {
        public var path: String
        public var sessionIds: [Int64]
        public init(path: String, sessionIds: [Int64]) {
            self.path = path
            self.sessionIds = sessionIds
        }
    }

    /// One bucket of the session expiry queue, for `dump`.
    public struct SessionBucket: Sendable, Equatable {
        /// Wall-clock ms since the epoch (printed as a Java `Date`, in UTC).
        public var expiresAtMillis: Int64
        public var sessionIds: [Int64]
        public init(expiresAtMillis: Int64, sessionIds: [Int64]) {
            self.expiresAtMillis = expiresAtMillis
            self.sessionIds = sessionIds
        }
    }

    /// One bucket of the idle-connection expiry queue, for `dump`.
    public struct ConnectionBucket: Sendable, Equatable {
        public var expiresAtMillis: Int64
        public var connections: [(host: String, port: Int, sessionId: Int64)]
        public init(expiresAtMillis: Int64, connections: [(host: String, port: Int, sessionId: Int64)]) {
            self.expiresAtMillis = expiresAtMillis
            self.connections = connections
        }
        public static func == (a: ConnectionBucket, b: ConnectionBucket) -> Bool {
            a.expiresAtMillis == b.expiresAtMillis && a.connections.count == b.connections.count
                && zip(a.connections, b.connections).allSatisfy { $0 == $1 }
        }
    }

    /// Values only a leader reports (mntr, and the `Proposal sizes` line of srvr/stat).
    public struct LeaderStats: Sendable, Equatable {
        /// Connected learners (followers + observers); Apache 3.6+ `zk_learners`.
        public var learners: Int = 0
        /// Voting followers synced with the leader (the leader itself is not counted).
        public var syncedFollowers: Int = 0
        public var syncedNonVotingFollowers: Int = 0
        public var syncedObservers: Int = 0
        public var pendingSyncs: Int = 0
        /// Proposal sizes in bytes; -1 before the first proposal.
        public var lastProposalSize: Int = -1
        public var minProposalSize: Int = -1
        public var maxProposalSize: Int = -1
        /// ms since this server became leader.
        public var leaderUptimeMillis: Int64 = 0
        public init() {}
    }

    // MARK: srvr / stat / mntr

    /// Printed after `Zookeeper version: ` and as `zk_version` / `zookeeper.version=`.
    public var version: String
    public var mode: Mode = .standalone
    /// False while the server is not serving (electing, syncing): most commands then answer
    /// `This ZooKeeper instance is not currently serving requests`.
    public var serving: Bool = true
    public var minLatency: Int64 = 0
    /// Rendered rounded to 4 decimals, Java style (`1.6154`, `0.0`).
    public var avgLatency: Double = 0
    public var maxLatency: Int64 = 0
    public var packetsReceived: Int64 = 0
    public var packetsSent: Int64 = 0
    /// `Connections:` / `zk_num_alive_connections`, including the one asking.
    public var connectionCount: Int = 0
    /// Per-connection details for `stat` and `cons`.
    public var connections: [Connection] = []
    public var outstandingRequests: Int = 0
    /// Last processed zxid.
    public var zxid: Int64 = 0
    public var nodeCount: Int = 0
    /// Quorum peer state for `zk_peer_state` (e.g. `leading - broadcast`,
    /// `following - broadcast`); nil for standalone (the key is then absent).
    public var peerState: String?
    /// Voting members (`zk_quorum_size`); nil for standalone (the key is then absent).
    public var quorumSize: Int?
    /// Set when mode is leader.
    public var leader: LeaderStats?
    public var ephemeralsCount: Int = 0
    public var globalSessions: Int = 0
    public var localSessions: Int = 0
    /// Data + child watches (`zk_watch_count`).
    public var watchCount: Int = 0
    /// Sum of path lengths and data sizes (Apache `DataTree.approximateDataSize`).
    public var approximateDataSize: Int64 = 0
    public var openFileDescriptors: Int64 = 0
    public var maxFileDescriptors: Int64 = 0
    /// ms since the server started.
    public var uptimeMillis: Int64 = 0
    /// Client response sizes in bytes; -1 before the first response.
    public var lastClientResponseSize: Int = -1
    public var minClientResponseSize: Int = -1
    public var maxClientResponseSize: Int = -1
    public var authFailedCount: Int64 = 0
    public var nonMtlsRemoteConnCount: Int64 = 0
    public var nonMtlsLocalConnCount: Int64 = 0
    /// Further `zk_<key>` lines appended after the standard ones, key without `zk_`.
    public var extraMetrics: [(key: String, value: String)] = []

    // MARK: watches, dump, dirs, conf, envi, misc

    public var watchSummary = WatchSummary()
    public var watchesBySession: [SessionPaths] = []
    public var watchesByPath: [PathSessions] = []
    public var sessionBuckets: [SessionBucket] = []
    public var ephemeralsBySession: [SessionPaths] = []
    /// Nil when the server keeps no idle-connection expiry queue: `dump` then prints nothing
    /// after `Connections dump:` (as Apache's Netty factory does).
    public var connectionBuckets: [ConnectionBucket]?
    /// Bytes in the snapshot and log directories (`dirs`, `conf`).
    public var dataDirSize: Int64 = 0
    public var logDirSize: Int64 = 0
    /// The configuration for `conf`; paths are printed with `/version-2` appended.
    public var config: ServerConfig
    /// The bound client port (`conf` clientPort); defaults to the config's.
    public var clientPort: Int?
    /// Current membership and its version for `conf` (may differ from `config` after a reconfig).
    public var members: [QuorumServerSpec]
    public var configVersion: Int64
    public var environment: FourLetterEnvironment
    /// `gtmk`/`stmk` trace mask; Apache's default is 306.
    public var traceMask: Int64 = 306
    /// `hash`: (zxid, digest) pairs of the digest log; empty when digests are off.
    public var digestLog: [(zxid: Int64, digest: Int64)] = []

    public init(version: String, config: ServerConfig, environment: FourLetterEnvironment) {
        self.version = version
        self.config = config
        self.environment = environment
        self.members = config.servers
        self.configVersion = config.configVersion ?? 0
        self.clientPort = config.clientListenPort
    }
}

/// What `envi` prints. Keys stay Apache's (`java.version`, ...) because tools parse them; the
/// values describe our runtime instead of a JVM.
public struct FourLetterEnvironment: Sendable, Equatable {
    public var hostName: String = "localhost"
    /// `java.version`: our runtime, e.g. `Swift 6.3`.
    public var runtimeVersion: String = "Swift"
    /// `java.vendor`.
    public var runtimeVendor: String = "swift.org"
    /// `java.home`: directory of the executable.
    public var runtimeHome: String = ""
    /// `java.class.path`: the executable.
    public var classPath: String = ""
    /// `java.library.path`: `LD_LIBRARY_PATH`.
    public var libraryPath: String = ""
    public var tmpDir: String = "/tmp"
    /// `java.compiler`: Apache prints `<NA>`.
    public var compiler: String = "<NA>"
    public var osName: String = "Linux"
    /// `os.arch` in Java's words (`amd64`, `aarch64`).
    public var osArch: String = ""
    public var osVersion: String = ""
    public var userName: String = ""
    public var userHome: String = ""
    public var userDir: String = ""
    /// `os.memory.*` in MB: for us free = available system memory, max = physical memory,
    /// total = our resident set (a JVM reports heap figures here).
    public var memoryFreeMB: Int64 = 0
    public var memoryMaxMB: Int64 = 0
    public var memoryTotalMB: Int64 = 0

    public init() {}
}

import ZKCore
import ZKProtocol

/// The leader-side decision for a client `reconfig` (opcode 16), pure: Apache 3.8
/// `PrepRequestProcessor`'s reconfig branch, in its order of checks. The shell supplies what the
/// leader knows (current and pending membership, synced learners, the /zookeeper/config ACL);
/// the result is either the error code to answer or the new membership, whose
/// `/zookeeper/config` text (`configData(version:)`) is the data of the reconfig txn's
/// SetDataTxn, the version being that txn's zxid.
public enum ReconfigPlanner {
    /// What the leader knows when a reconfig arrives.
    public struct Context: Sendable {
        /// `reconfigEnabled` of this server.
        public var reconfigEnabled: Bool
        /// False on a standalone server (Apache answers Unimplemented there).
        public var isEnsemble: Bool
        /// `standaloneEnabled`: then a new config needs at least 2 participants.
        public var standaloneEnabled: Bool
        /// `zookeeper.skipACL`.
        public var skipACL: Bool
        /// The committed membership and its version (Apache `getQuorumVerifier`).
        public var current: DynamicConfig
        /// The last membership proposed (Apache `getLastSeenQuorumVerifier`); equal to `current`
        /// unless a reconfig is pending.
        public var lastSeen: DynamicConfig
        /// Ids of this leader and the learners connected and synced to it.
        public var synced: Set<Int64>
        /// The ACL of /zookeeper/config and the caller's identities.
        public var configACL: [ACL]
        public var auth: [Id]

        public init(reconfigEnabled: Bool, isEnsemble: Bool, standaloneEnabled: Bool = true, skipACL: Bool = false,
                    current: DynamicConfig, lastSeen: DynamicConfig? = nil, synced: Set<Int64>,
                    configACL: [ACL], auth: [Id]) {
            self.reconfigEnabled = reconfigEnabled
            self.isEnsemble = isEnsemble
            self.standaloneEnabled = standaloneEnabled
            self.skipACL = skipACL
            self.current = current
            self.lastSeen = lastSeen ?? current
            self.synced = synced
            self.configACL = configACL
            self.auth = auth
        }
    }

    /// A refused reconfig: the code the client gets and why (for the log).
    public struct Rejection: Error, Sendable, Equatable {
        public var code: ErrorCode
        public var message: String
    }

    /// An accepted reconfig: the next membership.
    public struct Plan: Sendable, Equatable {
        /// Members in ascending id order.
        public var servers: [QuorumServerSpec]
        /// The voting members.
        public var voters: Set<Int64> { Set(servers.filter { $0.role == .participant }.map(\.id)) }
        /// The /zookeeper/config data once the txn has `version` as its zxid (Apache `QuorumMaj.toString()`).
        public func configData(version: Int64) -> String {
            DynamicConfig.renderConfigData(servers: servers, version: version)
        }
    }

    /// Decides `request` in Apache's order: disabled, standalone, in progress, version, input,
    /// participant count, synced quorum of the new config, then the ACL (WRITE on /zookeeper/config).
    public static func plan(_ request: ReconfigRequest, _ ctx: Context) -> Result<Plan, Rejection> {
        func reject(_ code: ErrorCode, _ message: String) -> Result<Plan, Rejection> {
            .failure(Rejection(code: code, message: message))
        }
        guard ctx.reconfigEnabled else {
            return reject(.reconfigDisabled, "reconfig is disabled (reconfigEnabled=false)")
        }
        guard ctx.isEnsemble else { return reject(.unimplemented, "reconfig is not supported by a standalone server") }
        guard ctx.lastSeen.version == ctx.current.version else {
            return reject(.reconfigInProgress, "a reconfig is in progress")
        }
        let lastSeenVersion = ctx.lastSeen.version ?? 0
        if request.curConfigId != -1 && request.curConfigId != lastSeenVersion {
            return reject(.badVersion, "reconfiguration from version \(hex(request.curConfigId)) failed -- last seen version is \(hex(lastSeenVersion))")
        }
        let next: [QuorumServerSpec]
        switch members(request, lastSeen: ctx.lastSeen) {
        case .success(let s): next = s
        case .failure(let r): return .failure(r)
        }
        let plan = Plan(servers: next.sorted { $0.id < $1.id })
        let voters = plan.voters
        if ctx.standaloneEnabled && voters.count < 2 {
            return reject(.badArguments, "reconfig failed - new configuration must include at least 2 followers")
        }
        if voters.count < 1 {
            return reject(.badArguments, "reconfig failed - new configuration must include at least 1 follower")
        }
        // Apache `Leader.isQuorumSynced`: a majority of the new voters are this leader or synced learners.
        guard voters.intersection(ctx.synced).count * 2 > voters.count else {
            return reject(.newConfigNoQuorum, "reconfig failed - there must be a connected and synced quorum in new configuration")
        }
        guard ACLCheck.allowed(ctx.configACL, .write, auth: ctx.auth, skipACL: ctx.skipACL) else {
            return reject(.noAuth, "no WRITE permission on /zookeeper/config")
        }
        return .success(plan)
    }

    /// The next membership from the request's non-incremental (`newMembers`) or incremental
    /// (`leavingServers` then `joiningServers`) form.
    static func members(_ request: ReconfigRequest, lastSeen: DynamicConfig) -> Result<[QuorumServerSpec], Rejection> {
        func reject(_ code: ErrorCode, _ message: String) -> Result<[QuorumServerSpec], Rejection> {
            .failure(Rejection(code: code, message: message))
        }
        if let newMembers = request.newMembers {
            // Commas or newlines separate the lines, as Apache accepts both.
            let text = String(newMembers.map { $0 == "," ? "\n" : $0 })
            do {
                return .success(try DynamicConfig.parse(text: text, file: "newMembers").servers)
            } catch {
                return reject(.badArguments, error.message)
            }
        }
        var next: [Int64: QuorumServerSpec] = [:]
        for s in lastSeen.servers { next[s.id] = s }
        for leaving in split(request.leavingServers) {
            // Apache's Long.parseLong fails outside its ConfigException handler: MarshallingError.
            guard let id = Int64(leaving) else { return reject(.marshallingError, "\"\(leaving)\" is not a server id") }
            next[id] = nil
        }
        for joiner in split(request.joiningServers) {
            let parts = joiner.split(separator: "=").map { String($0).cfgTrimmed }.filter { !$0.isEmpty }
            guard parts.count == 2 else { return reject(.badArguments, "wrong format of server string \"\(joiner)\"") }
            let key = parts[0]
            let idText = key.lastIndex(of: ".").map { String(key[key.index(after: $0)...]) } ?? key
            guard let id = Int64(idText) else { return reject(.marshallingError, "\"\(key)\" has no server id") }
            let spec: QuorumServerSpec
            switch QuorumServerSpec.parse(id: id, value: parts[1]) {
            case .success(let s): spec = s
            case .failure: return reject(.badArguments, "reconfiguration failed")
            }
            guard spec.clientPort != nil else {
                return reject(.badArguments, "wrong format of server string - each server should have at least 3 ports specified")
            }
            // A joiner with a member's id replaces it (a role or address change).
            next[id] = spec
            do {
                try ServerConfig.checkMembers(next.values.sorted { $0.id < $1.id }, lines: [:], file: "joiningServers")
            } catch {
                return reject(.badArguments, "reconfiguration failed")
            }
        }
        return .success(Array(next.values))
    }

    /// Apache `StringUtils.split(s, ",")`: trimmed, empty pieces dropped; nil gives nothing.
    static func split(_ s: String?) -> [String] {
        guard let s else { return [] }
        return s.split(separator: ",").map { String($0).cfgTrimmed }.filter { !$0.isEmpty }
    }

    static func hex(_ v: Int64) -> String { String(UInt64(bitPattern: v), radix: 16) }
}

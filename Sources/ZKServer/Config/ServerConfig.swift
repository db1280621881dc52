import ZKProtocol

/// The server's configuration, read from a zoo.cfg with Apache ZooKeeper 3.8's names, defaults
/// and checks (`QuorumPeerConfig`), plus the membership from its server lines or its
/// `dynamicConfigFile`.
///
/// Keys we do not act on (ssl.*, authProvider.*, admin.*, metricsProvider.*, secureClientPort,
/// ...) are collected in `ignoredKeys` rather than rejected: Apache turns unknown keys into
/// system properties, so real configs carry many of them.
public struct ServerConfig: Sendable, Equatable {
    /// The zoo.cfg path (or name) the config came from; `dynamicConfigFileName` builds on it.
    public var configFile: String
    public var tickTime: Int = 2000
    public var dataDir: String
    /// Defaults to `dataDir`.
    public var dataLogDir: String
    /// The static `clientPort`, if given. See `clientListenPort` for the one to bind.
    public var clientPort: Int?
    public var clientPortAddress: String?
    /// `clientPortListenBacklog`; -1 = the platform default.
    public var clientPortListenBacklog: Int = -1
    /// Per client IP; 0 = unlimited.
    public var maxClientCnxns: Int = 60
    /// `2 * tickTime` when absent or -1.
    public var minSessionTimeout: Int
    /// `20 * tickTime` when absent or -1.
    public var maxSessionTimeout: Int
    /// In ticks. Apache has no default: 0 is an error once the server is distributed.
    public var initLimit: Int = 0
    /// In ticks. Apache has no default: 0 is an error once the server is distributed.
    public var syncLimit: Int = 0
    /// In ticks; 0 means "use initLimit" in Apache.
    public var connectToLearnerMasterLimit: Int = 0
    /// `autopurge.snapRetainCount`; values below 3 become 3 (Apache warns and does the same).
    public var snapRetainCount: Int = 3
    /// `autopurge.purgeInterval` in hours; 0 = autopurge off.
    public var purgeInterval: Int = 0
    /// Transactions between snapshots (`snapCount`); Apache resets values below 2 to 2.
    public var snapCount: Int = 100_000
    /// How often empty containers and expired TTL nodes are removed (Apache's system property
    /// `znode.container.checkIntervalMs`, accepted here as a zoo.cfg key), ms.
    public var containerCheckIntervalMs: Int = 60_000
    /// Max outstanding requests before throttling (`globalOutstandingLimit`).
    public var globalOutstandingLimit: Int = 1000
    /// Enabled four-letter words. Default `srvr` only; `*` = all. `srvr` is always present
    /// (Apache adds it unconditionally because zkServer.sh needs it).
    public var fourLetterWhitelist: Set<String> = ["srvr"]
    /// Max packet/znode data size (`jute.maxbuffer`), bytes.
    public var juteMaxBuffer: Int = 0xfffff
    /// `skipACL=yes` disables ACL checks; any other value (even `true`) leaves them on, as in Apache.
    public var skipACL: Bool = false
    /// `extendedTypesEnabled` (TTL nodes); Java `Boolean.getBoolean` semantics: only "true".
    public var extendedTypesEnabled: Bool = false
    public var reconfigEnabled: Bool = false
    public var standaloneEnabled: Bool = true
    /// `forceSync=no` disables fsync; any other value keeps it, as in Apache.
    public var forceSync: Bool = true
    /// `DigestAuthenticationProvider.superDigest` (also accepted as `superDigest`): `super:<base64 sha1>`.
    public var superDigest: String?
    public var localSessionsEnabled: Bool = false
    /// `readonlymode.enabled=true` (Apache: the JVM property of that name): a server cut off from
    /// the quorum keeps serving reads to clients that asked for a read-only session.
    public var readOnlyModeEnabled: Bool = false
    public var localSessionsUpgradingEnabled: Bool = false
    /// Whether observers log to disk (`syncEnabled`).
    public var syncEnabled: Bool = true
    public var quorumListenOnAllIPs: Bool = false
    /// `dynamicConfigFile` as written: Apache opens it relative to the working directory.
    public var dynamicConfigFile: String?
    /// The membership, ascending id. Empty for a plain standalone config.
    public var servers: [QuorumServerSpec] = []
    /// Version of the membership: the dynamic file's name suffix; nil for server lines in zoo.cfg
    /// (Apache then uses 0).
    public var configVersion: Int64?
    /// From `dataDir/myid`, read only when there are server lines.
    public var myid: Int64?
    /// True when the server must run a quorum: there are server lines and either
    /// `standaloneEnabled=false` or more than one participant (Apache `isDistributed`).
    public var isDistributed: Bool = false
    /// Where to listen for clients: this server's `;client` part when it has one, else
    /// `clientPortAddress` (default `0.0.0.0`). Nil port = no client port (allowed in a quorum).
    public var clientListenHost: String = "0.0.0.0"
    public var clientListenPort: Int?
    /// Keys present in the file that this server does not interpret, in file order. The server
    /// logs them once and starts anyway.
    public var ignoredKeys: [String] = []

    /// Every four-letter word a `*` whitelist enables.
    public static let allFourLetterWords: Set<String> = [
        "ruok", "stmk", "gtmk", "conf", "cons", "crst", "dirs", "dump", "envi", "srvr", "stat",
        "srst", "mntr", "wchc", "wchp", "wchs", "isro", "hash",
    ]

    /// This server's entry in `servers`, when it has a myid that is a member.
    public var myServer: QuorumServerSpec? {
        guard let myid else { return nil }
        return servers.first { $0.id == myid }
    }

    /// Voting members.
    public var participants: [QuorumServerSpec] { servers.filter { $0.role == .participant } }
    /// Non-voting members.
    public var observers: [QuorumServerSpec] { servers.filter { $0.role == .observer } }

    /// A minimal standalone config (defaults everywhere), for tests and embedding.
    public init(dataDir: String, clientPort: Int?, configFile: String = "zoo.cfg") {
        self.configFile = configFile
        self.dataDir = dataDir
        self.dataLogDir = dataDir
        self.clientPort = clientPort
        self.clientListenPort = clientPort
        self.minSessionTimeout = 2 * 2000
        self.maxSessionTimeout = 20 * 2000
    }

    // MARK: Loading

    /// Reads and checks a zoo.cfg file, its dynamic config file and `dataDir/myid`.
    public static func load(path: String) throws(ConfigError) -> ServerConfig {
        guard let text = _ConfigFiles.read(path) else {
            throw ConfigError(file: path, message: "cannot read the file")
        }
        return try parse(text: text, file: path, readFile: { _ConfigFiles.read($0) })
    }

    /// Parses zoo.cfg text. `file` names it in errors and is the base for dynamic file names;
    /// `readFile` returns a file's contents (nil if absent) for the dynamic config file and
    /// `dataDir/myid`, so tests need no disk.
    public static func parse(text: String, file: String,
                             readFile: (String) -> String?) throws(ConfigError) -> ServerConfig {
        let entries = ZooCfgProperties.parse(text)
        var cfg = ServerConfig(dataDir: "", clientPort: nil, configFile: file)
        var lineOf: [String: Int] = [:]
        var serverEntries: [ZooCfgEntry] = []
        var dataDir: String?
        var dataLogDir: String?
        var minSession = -1
        var maxSession = -1

        func err(_ e: ZooCfgEntry, _ message: String) -> ConfigError {
            ConfigError(file: file, line: e.line, key: e.key, message: message)
        }
        func int(_ e: ZooCfgEntry) throws(ConfigError) -> Int {
            guard let v = Int(e.value) else { throw err(e, "\"\(e.value)\" is not a number") }
            return v
        }
        func bool(_ e: ZooCfgEntry) throws(ConfigError) -> Bool {
            switch e.value.lowercased() {
            case "true": return true
            case "false": return false
            default: throw err(e, "\"\(e.value)\" is not true or false")
            }
        }

        for e in entries {
            if let previous = lineOf[e.key], e.key.hasPrefix("server.") {
                throw err(e, "duplicate entry (first on line \(previous))")
            }
            lineOf[e.key] = e.line
            switch e.key {
            case "dataDir":
                guard !e.value.isEmpty else { throw err(e, "is empty") }
                dataDir = e.value
            case "dataLogDir":
                guard !e.value.isEmpty else { throw err(e, "is empty") }
                dataLogDir = e.value
            case "clientPort":
                let p = try int(e)
                guard (1...65535).contains(p) else { throw err(e, "\(p) is not a port (1..65535)") }
                cfg.clientPort = p
            case "clientPortAddress":
                cfg.clientPortAddress = e.value.hasPrefix("[") && e.value.hasSuffix("]")
                    ? String(e.value.dropFirst().dropLast()) : e.value
            case "clientPortListenBacklog": cfg.clientPortListenBacklog = try int(e)
            case "tickTime":
                cfg.tickTime = try int(e)
                guard cfg.tickTime > 0 else { throw err(e, "must be positive") }
            case "maxClientCnxns":
                cfg.maxClientCnxns = try int(e)
                guard cfg.maxClientCnxns >= 0 else { throw err(e, "must not be negative") }
            case "minSessionTimeout": minSession = try int(e)
            case "maxSessionTimeout": maxSession = try int(e)
            case "initLimit":
                cfg.initLimit = try int(e)
                guard cfg.initLimit >= 0 else { throw err(e, "must not be negative") }
            case "syncLimit":
                cfg.syncLimit = try int(e)
                guard cfg.syncLimit >= 0 else { throw err(e, "must not be negative") }
            case "connectToLearnerMasterLimit": cfg.connectToLearnerMasterLimit = try int(e)
            case "electionAlg":
                guard try int(e) == 3 else { throw err(e, "only 3 (fast leader election) is supported") }
            case "quorumListenOnAllIPs": cfg.quorumListenOnAllIPs = try bool(e)
            case "localSessionsEnabled": cfg.localSessionsEnabled = try bool(e)
            case "readonlymode.enabled": cfg.readOnlyModeEnabled = try bool(e)
            case "localSessionsUpgradingEnabled": cfg.localSessionsUpgradingEnabled = try bool(e)
            case "standaloneEnabled": cfg.standaloneEnabled = try bool(e)
            case "reconfigEnabled": cfg.reconfigEnabled = try bool(e)
            case "syncEnabled": cfg.syncEnabled = try bool(e)
            case "peerType":
                // Apache warns and trusts the server list; we only validate the word.
                guard ["observer", "participant"].contains(e.value.lowercased()) else {
                    throw err(e, "\"\(e.value)\" is not participant or observer")
                }
            case "dynamicConfigFile":
                guard !e.value.isEmpty else { throw err(e, "is empty") }
                cfg.dynamicConfigFile = e.value
            case "autopurge.snapRetainCount": cfg.snapRetainCount = max(3, try int(e))
            case "autopurge.purgeInterval":
                cfg.purgeInterval = try int(e)
                guard cfg.purgeInterval >= 0 else { throw err(e, "must not be negative") }
            case "snapCount": cfg.snapCount = max(2, try int(e))
            case "znode.container.checkIntervalMs", "zookeeper.znode.container.checkIntervalMs":
                cfg.containerCheckIntervalMs = max(1, try int(e))
            case "globalOutstandingLimit":
                cfg.globalOutstandingLimit = try int(e)
                guard cfg.globalOutstandingLimit > 0 else { throw err(e, "must be positive") }
            case "4lw.commands.whitelist":
                cfg.fourLetterWhitelist = parseWhitelist(e.value)
            case "jute.maxbuffer":
                // Apache reads it with Integer.getInteger, which also takes 0x-hex.
                let v = e.value.lowercased()
                let parsed = v.hasPrefix("0x") ? Int(v.dropFirst(2), radix: 16) : Int(v)
                guard let n = parsed else { throw err(e, "\"\(e.value)\" is not a number") }
                guard n > 0 else { throw err(e, "must be positive") }
                cfg.juteMaxBuffer = n
            case "skipACL": cfg.skipACL = e.value == "yes"
            case "extendedTypesEnabled": cfg.extendedTypesEnabled = e.value.lowercased() == "true"
            case "forceSync": cfg.forceSync = e.value != "no"
            case "DigestAuthenticationProvider.superDigest", "superDigest":
                cfg.superDigest = e.value.isEmpty ? nil : e.value
            default:
                if e.key.hasPrefix("server.") {
                    serverEntries.append(e)
                } else if e.key.hasPrefix("group") || e.key.hasPrefix("weight") {
                    throw err(e, "hierarchical quorums are not supported")
                } else {
                    cfg.ignoredKeys.append(e.key)
                }
            }
        }

        guard let dataDir else { throw ConfigError(file: file, key: "dataDir", message: "is not set") }
        cfg.dataDir = dataDir
        cfg.dataLogDir = dataLogDir ?? dataDir
        if cfg.clientPortAddress != nil, cfg.clientPort == nil {
            throw ConfigError(file: file, line: lineOf["clientPortAddress"], key: "clientPortAddress",
                              message: "is set but clientPort is not set")
        }
        cfg.minSessionTimeout = minSession == -1 ? 2 * cfg.tickTime : minSession
        cfg.maxSessionTimeout = maxSession == -1 ? 20 * cfg.tickTime : maxSession
        if cfg.minSessionTimeout > cfg.maxSessionTimeout {
            throw ConfigError(file: file, line: lineOf["minSessionTimeout"] ?? lineOf["maxSessionTimeout"],
                              key: "minSessionTimeout",
                              message: "\(cfg.minSessionTimeout) is larger than maxSessionTimeout \(cfg.maxSessionTimeout)")
        }

        // Membership: server lines here, or the dynamic file (never both).
        if let dyn = cfg.dynamicConfigFile {
            if let first = serverEntries.first {
                throw err(first, "must be in the dynamic config file when dynamicConfigFile is set")
            }
            guard let dynText = readFile(dyn) else {
                throw ConfigError(file: file, line: lineOf["dynamicConfigFile"], key: "dynamicConfigFile",
                                  message: "cannot read \"\(dyn)\"")
            }
            let parsed = try DynamicConfig.parse(text: dynText, file: dyn, allowVersion: false)
            cfg.servers = parsed.servers
            cfg.configVersion = DynamicConfig.version(fromFileName: dyn)
        } else {
            var servers: [QuorumServerSpec] = []
            var lines: [Int64: Int] = [:]
            for e in serverEntries {
                let s = try parseServerEntry(e, file: file)
                if let previous = lines[s.id] {
                    throw err(e, "duplicate server id \(s.id) (first on line \(previous))")
                }
                lines[s.id] = e.line
                servers.append(s)
            }
            try checkMembers(servers, lines: lines, file: file)
            cfg.servers = servers.sorted { $0.id < $1.id }
        }
        try cfg.checkQuorumShape(lineOf: lineOf)

        // myid: Apache reads it whenever the file exists; it matters once there are members.
        let myidPath = cfg.dataDir.hasSuffix("/") ? cfg.dataDir + "myid" : cfg.dataDir + "/myid"
        if !cfg.servers.isEmpty, let text = readFile(myidPath) {
            let firstLine = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
            guard let id = Int64(firstLine.cfgTrimmed) else {
                throw ConfigError(file: myidPath, line: 1, key: "myid", message: "\"\(firstLine)\" is not a number")
            }
            cfg.myid = id
        }
        cfg.isDistributed = !cfg.servers.isEmpty && (!cfg.standaloneEnabled || cfg.participants.count > 1)
        if cfg.isDistributed {
            if cfg.initLimit == 0 {
                throw ConfigError(file: file, line: lineOf["initLimit"], key: "initLimit", message: "is not set (required with server lines)")
            }
            if cfg.syncLimit == 0 {
                throw ConfigError(file: file, line: lineOf["syncLimit"], key: "syncLimit", message: "is not set (required with server lines)")
            }
            guard let myid = cfg.myid else {
                throw ConfigError(file: myidPath, key: "myid", message: "file is missing (required with server lines)")
            }
            guard cfg.myServer != nil else {
                throw ConfigError(file: myidPath, line: 1, key: "myid",
                                  message: "\(myid) is not one of the servers (\(cfg.servers.map { String($0.id) }.joined(separator: ", ")))")
            }
        }
        try cfg.resolveClientAddress(lineOf: lineOf)
        return cfg
    }

    /// `4lw.commands.whitelist`: comma-separated, trimmed, `*` = all; unknown words dropped;
    /// `srvr` always added (as Apache does).
    static func parseWhitelist(_ value: String) -> Set<String> {
        var set: Set<String> = ["srvr"]
        for word in value.split(separator: ",").map({ String($0).cfgTrimmed }) {
            if word == "*" { return allFourLetterWords }
            if allFourLetterWords.contains(word) { set.insert(word) }
        }
        return set
    }

    static func parseServerEntry(_ e: ZooCfgEntry, file: String) throws(ConfigError) -> QuorumServerSpec {
        let idText = e.key.dropFirst("server.".count)
        guard let id = Int64(idText), id >= 0 else {
            throw ConfigError(file: file, line: e.line, key: e.key, message: "\"\(idText)\" is not a server id")
        }
        switch QuorumServerSpec.parse(id: id, value: e.value) {
        case .success(let s): return s
        case .failure(var error):
            error.file = file
            error.line = e.line
            throw error
        }
    }

    /// Duplicate ids and addresses used twice. Wildcard client hosts (`;2181`) are exempt:
    /// every member of a real ensemble listens on `0.0.0.0:2181` on its own machine.
    static func checkMembers(_ servers: [QuorumServerSpec], lines: [Int64: Int], file: String) throws(ConfigError) {
        var ids: Set<Int64> = []
        var used: [String: Int64] = [:]
        for s in servers {
            guard ids.insert(s.id).inserted else {
                throw ConfigError(file: file, line: lines[s.id], key: "server.\(s.id)", message: "duplicate server id \(s.id)")
            }
            var addrs = [(s.host, s.quorumPort), (s.host, s.electionPort)]
            if let cp = s.clientPort, let ch = s.clientHost, ch != "0.0.0.0", ch != "::" {
                addrs.append((ch, cp))
            }
            for (h, p) in addrs {
                let key = "\(h.lowercased())|\(p)"
                if let other = used[key] {
                    throw ConfigError(file: file, line: lines[s.id], key: "server.\(s.id)",
                                      message: "address \(QuorumServerSpec.bracketed(h)):\(p) is also used by server.\(other)")
                }
                used[key] = s.id
            }
        }
    }

    /// Apache `parseDynamicConfig`'s shape rules.
    private func checkQuorumShape(lineOf: [String: Int]) throws(ConfigError) {
        let voters = participants.count
        let obs = observers.count
        let where_ = dynamicConfigFile ?? configFile
        if servers.isEmpty { return }
        if voters == 0 {
            if !standaloneEnabled {
                throw ConfigError(file: where_, key: "server", message: "standaloneEnabled=false needs at least one participant")
            }
            if obs > 0 {
                throw ConfigError(file: where_, key: "server", message: "observers without participants is an invalid configuration")
            }
        } else if voters == 1, standaloneEnabled, obs > 0 {
            throw ConfigError(file: where_, key: "server", message: "observers without a quorum is an invalid configuration (set standaloneEnabled=false)")
        }
    }

    /// Apache `setupClientPort`: a member's `;client` part wins; a static clientPort must agree.
    private mutating func resolveClientAddress(lineOf: [String: Int]) throws(ConfigError) {
        let staticHost = clientPortAddress ?? "0.0.0.0"
        if let me = myServer, let mePort = me.clientPort {
            let meHost = me.clientHost ?? "0.0.0.0"
            if let cp = clientPort {
                let wildcard = staticHost == "0.0.0.0" || staticHost == "::"
                if (!wildcard && (staticHost != meHost || cp != mePort)) || (wildcard && cp != mePort) {
                    throw ConfigError(file: configFile, line: lineOf["clientPort"], key: "clientPort",
                                      message: "\(QuorumServerSpec.bracketed(staticHost)):\(cp) differs from server.\(me.id)'s client address \(QuorumServerSpec.bracketed(meHost)):\(mePort)")
                }
            }
            clientListenHost = meHost
            clientListenPort = mePort
        } else {
            clientListenHost = staticHost
            clientListenPort = clientPort
        }
        if !isDistributed, clientListenPort == nil {
            throw ConfigError(file: configFile, key: "clientPort", message: "is not set (a standalone server needs one)")
        }
    }

    // MARK: Writing (dynamic reconfiguration)

    /// Where Apache writes the membership for `version`: `<configFile>.dynamic.<hex version>`.
    public func dynamicConfigFileName(version: Int64) -> String {
        configFile + ".dynamic." + String(UInt64(bitPattern: version), radix: 16)
    }

    /// Whether the static `clientPort`/`clientPortAddress` become redundant once the membership
    /// moves out: true when this server's own line carries its client address (Apache
    /// `needEraseClientInfoFromStaticConfig`).
    public var clientPortIsRedundant: Bool { myServer?.clientPort != nil }

    /// The zoo.cfg text Apache writes when it moves the membership to a dynamic file (first
    /// start with `reconfigEnabled=true`, and after each reconfig): every `key=value` of
    /// `originalText` except `server.*`, `group*`, `weight*`, `peerType`, an old
    /// `dynamicConfigFile` and, if `eraseClientPort`, `clientPort`/`clientPortAddress`; then
    /// `dynamicConfigFile=<dynamicConfigPath>`. Comments and blank lines are dropped, as Apache
    /// does. Unlike Apache we keep file order (Apache writes hash order) and keep
    /// `clientPortListenBacklog` (Apache drops it too, by a `startsWith("clientPort")` slip).
    /// `dynamicConfigPath` should be absolute: Apache writes the canonical path.
    public static func staticConfigAfterSplit(originalText: String, dynamicConfigPath: String,
                                              eraseClientPort: Bool) -> String {
        var out = ""
        var seen: [String: String] = [:]
        var order: [String] = []
        for e in ZooCfgProperties.parse(originalText) {
            if seen[e.key] == nil { order.append(e.key) }
            seen[e.key] = e.value
        }
        for key in order {
            if key.hasPrefix("server.") || key.hasPrefix("group") || key.hasPrefix("weight")
                || key.hasPrefix("dynamicConfigFile") || key.hasPrefix("peerType") {
                continue
            }
            if eraseClientPort, key == "clientPort" || key == "clientPortAddress" { continue }
            out += "\(key)=\(seen[key]!)\n"
        }
        return out + "dynamicConfigFile=\(dynamicConfigPath)\n"
    }

    /// `staticConfigAfterSplit` with Apache's rule for erasing the client port.
    public func staticConfigAfterSplit(originalText: String, dynamicConfigPath: String) -> String {
        Self.staticConfigAfterSplit(originalText: originalText, dynamicConfigPath: dynamicConfigPath,
                                    eraseClientPort: clientPortIsRedundant)
    }
}

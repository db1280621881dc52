import ZKProtocol

/// One `server.<id>=` entry of a static or dynamic config:
/// `<addr>:<quorumPort>:<electionPort>[:participant|observer][;[<clientAddr>:]<clientPort>]`.
///
/// Hosts are kept as written (no DNS at parse time); IPv6 literals are stored without brackets
/// and get them back when rendered.
public struct QuorumServerSpec: Sendable, Equatable, Hashable {
    /// Whether the member votes.
    public enum Role: String, Sendable, Equatable, Hashable {
        case participant
        case observer
    }

    public var id: Int64
    public var host: String
    public var quorumPort: Int
    public var electionPort: Int
    public var role: Role
    /// Client listen host; `0.0.0.0` when the line gave only `;<port>`. Nil when the line had no
    /// client part (then Apache takes the static `clientPort` and does not publish it).
    public var clientHost: String?
    public var clientPort: Int?

    public init(id: Int64, host: String, quorumPort: Int, electionPort: Int, role: Role = .participant,
                clientHost: String? = nil, clientPort: Int? = nil) {
        self.id = id
        self.host = host
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.role = role
        self.clientHost = clientHost
        self.clientPort = clientPort
    }

    /// The value part as Apache's `QuorumServer.toString()` renders it, e.g.
    /// `127.0.0.1:2888:3888:participant;0.0.0.0:2181` (role always written, `;port` expanded).
    public var value: String {
        var s = "\(Self.bracketed(host)):\(quorumPort):\(electionPort):\(role.rawValue)"
        if let clientPort {
            s += ";\(Self.bracketed(clientHost ?? "0.0.0.0")):\(clientPort)"
        }
        return s
    }

    /// The whole line, `server.<id>=<value>`.
    public var line: String { "server.\(id)=\(value)" }

    static func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// Parses the value of a `server.<id>` key. Errors carry no file/line; the caller adds them.
    public static func parse(id: Int64, value: String) -> Result<QuorumServerSpec, ConfigError> {
        func fail(_ message: String) -> Result<QuorumServerSpec, ConfigError> {
            .failure(ConfigError(file: "", key: "server.\(id)", message: message))
        }
        let wrongFormat = "\"\(value)\" does not have the form <addr>:<quorumPort>:<electionPort>[:participant|observer][;[<clientAddr>:]<clientPort>]"
        let parts = value.split(separator: ";", omittingEmptySubsequences: false).map { String($0).cfgTrimmed }
        guard parts.count <= 2 else { return fail(wrongFormat) }
        if parts[0].contains("|") {
            return fail("multiple addresses (multiAddress.enabled) are not supported")
        }
        guard let serverParts = splitHost(parts[0]), (3...4).contains(serverParts.count) else {
            return fail(wrongFormat)
        }
        let host = serverParts[0]
        guard !host.isEmpty else { return fail(wrongFormat) }
        guard let qp = port(serverParts[1]) else { return fail("quorum port \"\(serverParts[1])\" is not a port (1..65535)") }
        guard let ep = port(serverParts[2]) else { return fail("election port \"\(serverParts[2])\" is not a port (1..65535)") }
        if qp == ep {
            return fail("quorum port and election port must be different (both \(qp))")
        }
        var role = Role.participant
        if serverParts.count == 4 {
            switch serverParts[3].cfgTrimmed.lowercased() {
            case "participant": role = .participant
            case "observer": role = .observer
            default: return fail("unrecognised peer type \"\(serverParts[3])\" (participant or observer)")
            }
        }
        var spec = QuorumServerSpec(id: id, host: host, quorumPort: qp, electionPort: ep, role: role)
        if parts.count == 2 {
            guard let clientParts = splitHost(parts[1]), (1...2).contains(clientParts.count) else {
                return fail(wrongFormat)
            }
            let cport = clientParts[clientParts.count - 1]
            guard let cp = port(cport) else { return fail("client port \"\(cport)\" is not a port (1..65535)") }
            spec.clientHost = clientParts.count == 2 ? clientParts[0] : "0.0.0.0"
            spec.clientPort = cp
            if spec.clientHost!.isEmpty { return fail(wrongFormat) }
        }
        return .success(spec)
    }

    /// `host:a:b` split on colons, except an IPv6 literal in brackets stays whole
    /// (Apache `ConfigUtils.getHostAndPort`). Nil for a `[` without a matching `]:`.
    static func splitHost(_ s: String) -> [String]? {
        let chars = Array(s)
        if chars.first == "[" {
            guard let close = chars.indices.first(where: { $0 + 1 < chars.count && chars[$0] == "]" && chars[$0 + 1] == ":" })
            else { return nil }
            let host = String(chars[1..<close])
            let rest = String(chars[(close + 2)...]).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            return [host] + rest
        }
        return s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }

    static func port(_ s: String) -> Int? {
        guard let p = Int(s.cfgTrimmed), (1...65535).contains(p) else { return nil }
        return p
    }
}

/// The membership part of a configuration: what a dynamic config file or the
/// `/zookeeper/config` znode holds.
public struct DynamicConfig: Sendable, Equatable {
    /// Members in ascending id order.
    public var servers: [QuorumServerSpec]
    /// The config version (a zxid), when known: `version=` in znode data, or the hex suffix of a
    /// dynamic file's name (`zoo.cfg.dynamic.100000000`).
    public var version: Int64?

    public init(servers: [QuorumServerSpec], version: Int64? = nil) {
        self.servers = servers.sorted { $0.id < $1.id }
        self.version = version
    }

    /// Parses `server.N=` lines and an optional `version=<hex>` line (the znode/reconfig form).
    ///
    /// Any other key is an error, as in Apache's `parseDynamicConfig` ("Unrecognised parameter").
    /// Hierarchical quorums (`group.*`, `weight.*`) are not supported.
    public static func parse(text: String, file: String = "dynamic config",
                             allowVersion: Bool = true) throws(ConfigError) -> DynamicConfig {
        var servers: [QuorumServerSpec] = []
        var version: Int64?
        for e in ZooCfgProperties.parse(text) {
            if e.key.hasPrefix("server.") {
                servers.append(try ServerConfig.parseServerEntry(e, file: file))
            } else if e.key == "version" {
                guard allowVersion else {
                    throw ConfigError(file: file, line: e.line, key: e.key,
                                      message: "a dynamic config file must not hold a version (it comes from the file name)")
                }
                guard let v = UInt64(e.value, radix: 16) else {
                    throw ConfigError(file: file, line: e.line, key: e.key, message: "\"\(e.value)\" is not a hex number")
                }
                version = Int64(bitPattern: v)
            } else if e.key.hasPrefix("group") || e.key.hasPrefix("weight") {
                throw ConfigError(file: file, line: e.line, key: e.key, message: "hierarchical quorums are not supported")
            } else {
                throw ConfigError(file: file, line: e.line, key: e.key, message: "unrecognised parameter in a dynamic config")
            }
        }
        try ServerConfig.checkMembers(servers, lines: [:], file: file)
        return DynamicConfig(servers: servers, version: version)
    }

    /// The text Apache writes to `zoo.cfg.dynamic.<version>`: the `server.N=` lines sorted as
    /// strings (so `server.10` sorts before `server.2`), joined by `\n`, no trailing newline,
    /// no version line.
    public static func renderDynamic(servers: [QuorumServerSpec]) -> String {
        servers.map(\.line).sorted().joined(separator: "\n")
    }

    /// The `/zookeeper/config` data and the `membership:` part of `conf`
    /// (Apache `QuorumMaj.toString()`): lines in id order, each ending in `\n`, then
    /// `version=<hex>` without a trailing newline.
    public static func renderConfigData(servers: [QuorumServerSpec], version: Int64) -> String {
        var s = ""
        for m in servers.sorted(by: { $0.id < $1.id }) { s += m.line + "\n" }
        return s + "version=" + String(UInt64(bitPattern: version), radix: 16)
    }

    /// Apache's `getVersionFromFilename`: the hex number after the last `.`, or nil.
    public static func version(fromFileName name: String) -> Int64? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let suffix = name[name.index(after: dot)...]
        guard !suffix.isEmpty, let v = UInt64(suffix, radix: 16) else { return nil }
        return Int64(bitPattern: v)
    }
}

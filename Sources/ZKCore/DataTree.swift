import ZKProtocol

/// One znode.
public struct DataNode: Hashable, Sendable {
    /// nil is kept apart from empty, as Apache does.
    public var data: [UInt8]?
    public var acl: [ACL]
    /// The stored stat. Its `cversion` counts child creations only, like Apache's StatPersisted;
    /// clients see `clientStat`.
    public var stat: Stat
    public var children: Set<String>
    public init(data: [UInt8]?, acl: [ACL], stat: Stat, children: Set<String> = []) {
        self.data = data; self.acl = acl; self.stat = stat; self.children = children
    }

    /// The stat as Apache shows it (DataNode.copyStat): cversion = 2 × creations − live children
    /// (creations plus deletions), and no container/TTL marker in ephemeralOwner.
    public var clientStat: Stat {
        var s = stat
        s.cversion = stat.cversion &* 2 &- stat.numChildren
        if !EphemeralOwner.isSession(stat.ephemeralOwner) { s.ephemeralOwner = 0 }
        s.dataLength = Int32(data?.count ?? 0)
        return s
    }
}

/// A change that may fire watches: the server's watch manager turns these into notifications.
public struct WatchTrigger: Hashable, Sendable {
    public var path: String
    public var type: EventType
    public init(path: String, type: EventType) { self.path = path; self.type = type }
}

/// A session as the replicated state knows it.
public struct SessionRecord: Hashable, Sendable {
    public var timeout: Int32
    public var password: [UInt8]
    public init(timeout: Int32, password: [UInt8]) { self.timeout = timeout; self.password = password }
}

/// Special ephemeralOwner values (Apache's EphemeralType).
public enum EphemeralOwner {
    public static let container: Int64 = Int64.min
    public static let extendedMask: Int64 = Int64(bitPattern: 0xff00_0000_0000_0000)
    public static let ttlMax: Int64 = 0x00ff_ffff_ffff
    public static func ttl(_ ms: Int64) -> Int64 { extendedMask | ms }
    public static func isTTL(_ owner: Int64) -> Bool { owner & extendedMask == extendedMask && owner != container }
    public static func ttlValue(_ owner: Int64) -> Int64 { owner & ttlMax }
    /// A real session owns the node (not a container, TTL or persistent node).
    public static func isSession(_ owner: Int64) -> Bool { owner != 0 && owner != container && !isTTL(owner) }
}

/// The replicated state machine: the znode tree plus the global session table.
///
/// A pure value: `apply` takes committed transactions in zxid order and is deterministic, so
/// every replica that applies the same log holds the same tree. Reads never mutate it.
public struct DataTree: Sendable {
    public private(set) var nodes: [String: DataNode] = [:]
    public private(set) var ephemerals: [Int64: Set<String>] = [:]
    /// Containers and TTL nodes, checked by the leader's cleaner.
    public private(set) var containers: Set<String> = []
    public private(set) var ttlNodes: Set<String> = []
    public private(set) var sessions: [Int64: SessionRecord] = [:]
    public private(set) var lastZxid: Int64 = 0
    /// Sum of path and data sizes, for `mntr`'s zk_approximate_data_size.
    public private(set) var approximateDataSize: Int = 0

    public var skipACL: Bool
    public var extendedTypesEnabled: Bool

    /// Paths clients may not delete or write.
    public static let specialPaths: Set<String> = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
    public static let configPath = "/zookeeper/config"

    /// One shared array per distinct ACL list (Apache's ACL cache): most nodes use a handful of
    /// lists, so sharing the storage saves an allocation per node.
    private var aclCache: [[ACL]: [ACL]] = [:]

    private mutating func interned(_ acl: [ACL]) -> [ACL] {
        if let shared = aclCache[acl] { return shared }
        if aclCache.count < 100_000 { aclCache[acl] = acl }
        return acl
    }

    // Multi is applied op by op; on failure the touched nodes are put back from this log.
    private var undo: [(String, DataNode?)]? = nil

    public init(skipACL: Bool = false, extendedTypesEnabled: Bool = false) {
        self.skipACL = skipACL
        self.extendedTypesEnabled = extendedTypesEnabled
        var root = DataNode(data: [], acl: ACL.openUnsafe, stat: Stat())
        root.children = ["zookeeper"]
        root.stat.numChildren = 1
        setNode("/", root)
        var zk = DataNode(data: [], acl: ACL.openUnsafe, stat: Stat())
        zk.children = ["quota", "config"]
        zk.stat.numChildren = 2
        setNode("/zookeeper", zk)
        setNode("/zookeeper/quota", DataNode(data: [], acl: ACL.openUnsafe, stat: Stat()))
        var configStat = Stat()
        configStat.aversion = -1  // as Apache 3.8 creates it
        setNode("/zookeeper/config", DataNode(data: [], acl: ACL.readUnsafe, stat: configStat))
    }

    public var nodeCount: Int { nodes.count }
    public func node(_ path: String) -> DataNode? { nodes[path] }

    /// Sets the membership text of `/zookeeper/config` (ensemble mode), outside the log.
    /// Like Apache, the node's version reads -1 (its setData passes version -1) and mtime is
    /// the time of the change.
    public mutating func setConfigData(_ data: [UInt8], zxid: Int64, time: Int64 = 0) {
        guard var n = nodes[Self.configPath] else { return }
        n.data = data
        n.stat.dataLength = Int32(data.count)
        n.stat.mzxid = zxid
        n.stat.version = -1
        if time != 0 { n.stat.mtime = time }
        setNode("/zookeeper/config", n)
    }

    /// Replaces the whole state from a snapshot (nodes in any order).
    mutating func restore(lastZxid: Int64, sessions: [Int64: SessionRecord], nodes list: [(String, DataNode)]) {
        nodes = [:]; ephemerals = [:]; containers = []; ttlNodes = []; approximateDataSize = 0
        self.sessions = sessions
        self.lastZxid = lastZxid
        for (path, n) in list {
            var n = n
            n.children = []
            n.acl = interned(n.acl)
            setNode(path, n)
        }
        for (path, _) in list where path != "/" {
            nodes[PathUtils.parent(of: path)]?.children.insert(PathUtils.name(of: path))
        }
    }

    // MARK: - Node storage with index upkeep

    private mutating func setNode(_ path: String, _ node: DataNode?) {
        let old = nodes[path]
        if undo != nil, !(undo!.contains { $0.0 == path }) { undo!.append((path, old)) }
        if let old {
            approximateDataSize -= path.utf8.count + (old.data?.count ?? 0)
            let o = old.stat.ephemeralOwner
            if o != 0 {
                if o == EphemeralOwner.container { containers.remove(path) }
                else if EphemeralOwner.isTTL(o) { ttlNodes.remove(path) }
                else {
                    ephemerals[o]?.remove(path)
                    if ephemerals[o]?.isEmpty == true { ephemerals[o] = nil }
                }
            }
        }
        nodes[path] = node
        if let node {
            approximateDataSize += path.utf8.count + (node.data?.count ?? 0)
            let o = node.stat.ephemeralOwner
            if o != 0 {
                if o == EphemeralOwner.container { containers.insert(path) }
                else if EphemeralOwner.isTTL(o) { ttlNodes.insert(path) }
                else { ephemerals[o, default: []].insert(path) }
            }
        }
    }

    /// Mutates a node where it lives, for changes that leave the indexes alone (a parent's child
    /// set and counters). Copying the node out and back would copy its child set each time.
    private mutating func updateInPlace(_ path: String, _ body: (inout DataNode) -> Void) {
        guard nodes[path] != nil else { return }
        if undo != nil, !(undo!.contains { $0.0 == path }) { undo!.append((path, nodes[path])) }
        body(&nodes[path]!)
    }

    private mutating func beginUndo() { undo = [] }
    private mutating func rollback() {
        guard let log = undo else { return }
        undo = nil
        for (path, old) in log.reversed() { setNode(path, old) }
    }
    private mutating func commitUndo() { undo = nil }

    // MARK: - Apply

    /// The outcome of applying one transaction.
    public struct Outcome: Sendable {
        public var result: Result<ZKResponse, ErrorCode>
        public var triggers: [WatchTrigger]
    }

    /// Applies a committed transaction. Deterministic: the same tree and txn give the same outcome.
    public mutating func apply(_ txn: Txn) -> Outcome {
        precondition(txn.zxid > lastZxid, "txns must be applied in zxid order: \(txn.zxid) after \(lastZxid)")
        lastZxid = txn.zxid
        var triggers: [WatchTrigger] = []
        switch txn.body {
        case .createSession(let timeout, let password):
            sessions[txn.sessionId] = SessionRecord(timeout: timeout, password: password)
            return Outcome(result: .success(.empty), triggers: [])
        case .closeSession:
            sessions[txn.sessionId] = nil
            for path in (ephemerals[txn.sessionId] ?? []).sorted(by: >) {
                _ = removeNode(path, zxid: txn.zxid, triggers: &triggers)
            }
            return Outcome(result: .success(.empty), triggers: triggers)
        case .reconfigured(let data):
            guard var n = nodes[Self.configPath] else { return Outcome(result: .failure(.systemError), triggers: []) }
            n.data = data
            n.stat.version = -1  // as Apache's reconfig setData leaves it
            n.stat.mzxid = txn.zxid
            n.stat.mtime = txn.time
            n.stat.dataLength = Int32(data.count)
            setNode(Self.configPath, n)
            return Outcome(result: .success(.data(data, n.clientStat)),
                           triggers: [WatchTrigger(path: Self.configPath, type: .nodeDataChanged)])
        case .failed(let code):
            return Outcome(result: .failure(code), triggers: [])
        case .request(let req, let auth):
            if case .multi(let ops) = req {
                return applyMulti(ops, txn: txn, auth: auth)
            }
            let r = applyOne(req, txn: txn, auth: auth, triggers: &triggers)
            return Outcome(result: r.map(\.response), triggers: r.isSuccess ? triggers : [])
        }
    }

    private mutating func applyMulti(_ ops: [ZKRequest], txn: Txn, auth: [Id]) -> Outcome {
        var triggers: [WatchTrigger] = []
        var results: [MultiResult] = []
        beginUndo()
        for (i, op) in ops.enumerated() {
            switch applyOne(op, txn: txn, auth: auth, triggers: &triggers) {
            case .success(let r):
                results.append(r.multi)
            case .failure(let e):
                rollback()
                // Apache: ops before the failure report 0, the failing op its code, the rest -2.
                var errs = [MultiResult](repeating: .error(.ok), count: i)
                errs.append(.error(e))
                errs += [MultiResult](repeating: .error(.runtimeInconsistency), count: ops.count - i - 1)
                return Outcome(result: .success(.multi(errs)), triggers: [])
            }
        }
        commitUndo()
        return Outcome(result: .success(.multi(results)), triggers: triggers)
    }

    struct Applied {
        var response: ZKResponse
        var multi: MultiResult
    }

    private func check(_ node: DataNode, _ perm: Perms, _ auth: [Id]) -> Bool {
        ACLCheck.allowed(node.acl, perm, auth: auth, skipACL: skipACL)
    }

    private mutating func applyOne(_ req: ZKRequest, txn: Txn, auth: [Id], triggers: inout [WatchTrigger]) -> Result<Applied, ErrorCode> {
        switch req {
        case .create(let c, let op):
            return create(c, op: op, txn: txn, auth: auth, triggers: &triggers)
        case .delete(let path, let version, let op):
            // Apache checks only for a slash and NUL here; a malformed path is then simply not found.
            if !path.contains("/") || path.utf8.contains(0) || Self.specialPaths.contains(path) {
                return .failure(.badArguments)
            }
            let parentPath = PathUtils.parent(of: path)
            // Only the ACL is copied out: holding the whole parent would make the child-set
            // update below copy it (copy-on-write), O(children) per delete.
            guard let parentACL = nodes[parentPath]?.acl else { return .failure(.noNode) }
            if op == .deleteContainer {
                guard let n = nodes[path] else { return .failure(.noNode) }
                let o = n.stat.ephemeralOwner
                guard o == EphemeralOwner.container || EphemeralOwner.isTTL(o) else { return .failure(.badArguments) }
                guard n.children.isEmpty else { return .failure(.notEmpty) }
            } else {
                guard ACLCheck.allowed(parentACL, .delete, auth: auth, skipACL: skipACL) else { return .failure(.noAuth) }
                guard let n = nodes[path] else { return .failure(.noNode) }
                guard version == -1 || version == n.stat.version else { return .failure(.badVersion) }
                guard n.children.isEmpty else { return .failure(.notEmpty) }
            }
            _ = removeNode(path, zxid: txn.zxid, triggers: &triggers)
            return .success(Applied(response: .empty, multi: .delete))
        case .setData(let path, let data, let version):
            if PathUtils.validate(path) != nil { return .failure(.badArguments) }
            guard var n = nodes[path] else { return .failure(.noNode) }
            guard check(n, .write, auth) else { return .failure(.noAuth) }
            guard version == -1 || version == n.stat.version else { return .failure(.badVersion) }
            n.data = data
            n.stat.version = n.stat.version &+ 1
            n.stat.mzxid = txn.zxid
            n.stat.mtime = txn.time
            n.stat.dataLength = Int32(data?.count ?? 0)
            setNode(path, n)
            triggers.append(WatchTrigger(path: path, type: .nodeDataChanged))
            return .success(Applied(response: .stat(n.clientStat), multi: .setData(n.clientStat)))
        case .setACL(let path, let acl, let version):
            if PathUtils.validate(path) != nil { return .failure(.badArguments) }
            guard var n = nodes[path] else { return .failure(.noNode) }
            guard check(n, .admin, auth) else { return .failure(.noAuth) }
            guard let fixed = ACLCheck.fixup(acl, auth: auth) else { return .failure(.invalidACL) }
            guard version == -1 || version == n.stat.aversion else { return .failure(.badVersion) }
            n.acl = interned(fixed)
            n.stat.aversion = n.stat.aversion &+ 1
            setNode(path, n)
            return .success(Applied(response: .stat(n.clientStat), multi: .check))
        case .check(let path, let version):
            if PathUtils.validate(path) != nil { return .failure(.badArguments) }
            guard let n = nodes[path] else { return .failure(.noNode) }
            guard check(n, .read, auth) else { return .failure(.noAuth) }
            guard version == -1 || version == n.stat.version else { return .failure(.badVersion) }
            return .success(Applied(response: .empty, multi: .check))
        case .reconfig:
            return .failure(.unimplemented)
        default:
            return .failure(.badArguments)
        }
    }

    private mutating func create(_ c: CreateRequest, op: OpCode, txn: Txn, auth: [Id], triggers: inout [WatchTrigger]) -> Result<Applied, ErrorCode> {
        guard let mode = CreateMode(rawValue: c.flags) else { return .failure(.badArguments) }
        if mode.isTTL {
            guard extendedTypesEnabled else { return .failure(.unimplemented) }
            guard op == .createTTL, c.ttl > 0, c.ttl <= EphemeralOwner.ttlMax else { return .failure(.badArguments) }
        } else if op == .createTTL {
            return .failure(.badArguments)
        }
        // Apache's order: a slash and no NUL, the ACL, then the parent; the full path is validated
        // only after the parent is found (so "/a//b" is NoNode when "/a/" does not exist).
        if !c.path.contains("/") || c.path.utf8.contains(0) { return .failure(.badArguments) }
        guard let acl = ACLCheck.fixup(c.acl, auth: auth) else { return .failure(.invalidACL) }
        let parentPath = PathUtils.parent(of: c.path)
        // Scalars only (see delete): the parent's child set is then updated in place.
        guard let parentACL = nodes[parentPath]?.acl, let parentStat = nodes[parentPath]?.stat else {
            return .failure(.noNode)
        }
        guard ACLCheck.allowed(parentACL, .create, auth: auth, skipACL: skipACL) else { return .failure(.noAuth) }
        var path = c.path
        if mode.isSequential { path += PathUtils.sequenceSuffix(parentStat.cversion) }
        if PathUtils.validate(path) != nil { return .failure(.badArguments) }
        if nodes[path] != nil { return .failure(.nodeExists) }
        if EphemeralOwner.isSession(parentStat.ephemeralOwner) { return .failure(.noChildrenForEphemerals) }
        var owner: Int64 = 0
        if mode.isEphemeral {
            guard sessions[txn.sessionId] != nil else { return .failure(.sessionExpired) }
            owner = txn.sessionId
        } else if mode.isContainer {
            owner = EphemeralOwner.container
        } else if mode.isTTL {
            owner = EphemeralOwner.ttl(c.ttl)
        }
        var stat = Stat()
        stat.czxid = txn.zxid; stat.mzxid = txn.zxid; stat.pzxid = txn.zxid
        stat.ctime = txn.time; stat.mtime = txn.time
        stat.ephemeralOwner = owner
        stat.dataLength = Int32(c.data?.count ?? 0)
        let name = PathUtils.name(of: path)
        updateInPlace(parentPath) { parent in
            parent.stat.cversion = parent.stat.cversion &+ 1
            parent.stat.pzxid = txn.zxid
            parent.stat.numChildren += 1
            parent.children.insert(name)
        }
        setNode(path, DataNode(data: c.data, acl: interned(acl), stat: stat))
        triggers.append(WatchTrigger(path: path, type: .nodeCreated))
        triggers.append(WatchTrigger(path: parentPath, type: .nodeChildrenChanged))
        let shown = nodes[path]!.clientStat
        let response: ZKResponse = op == .create ? .path(path) : .pathStat(path, shown)
        // In a multi, create and create2 both answer as a plain create (Apache 3.8.0); containers
        // and TTL nodes answer with a stat.
        let multi: MultiResult = (op == .create || op == .create2) ? .create(path: path) : .create2(path: path, stat: shown)
        return .success(Applied(response: response, multi: multi))
    }

    private mutating func removeNode(_ path: String, zxid: Int64, triggers: inout [WatchTrigger]) -> Bool {
        guard nodes[path] != nil else { return false }
        let parentPath = PathUtils.parent(of: path)
        let name = PathUtils.name(of: path)
        updateInPlace(parentPath) { parent in
            // Only pzxid moves: the stored cversion counts creations (see `clientStat`).
            parent.children.remove(name)
            parent.stat.numChildren -= 1
            parent.stat.pzxid = zxid
        }
        setNode(path, nil)
        triggers.append(WatchTrigger(path: path, type: .nodeDeleted))
        triggers.append(WatchTrigger(path: parentPath, type: .nodeChildrenChanged))
        return true
    }

    // MARK: - Reads

    /// Serves a read. `auth` is the session's identities; `session` is the caller (for getEphemerals).
    /// Reads do no path validation (as Apache): a malformed path is simply not found, and ""
    /// is the root.
    public func lookup(_ path: String) -> DataNode? { nodes[path.isEmpty ? "/" : path] }

    public func read(_ req: ZKRequest, auth: [Id], session: Int64) -> Result<ZKResponse, ErrorCode> {
        switch req {
        case .exists(let path, _):
            if path.utf8.contains(0) { return .failure(.badArguments) }
            guard let n = lookup(path) else { return .failure(.noNode) }
            return .success(.stat(n.clientStat))
        case .getData(let path, _):
            guard let n = lookup(path) else { return .failure(.noNode) }
            guard check(n, .read, auth) else { return .failure(.noAuth) }
            return .success(.data(n.data, n.clientStat))
        case .getACL(let path):
            guard let n = lookup(path) else { return .failure(.noNode) }
            guard check(n, [.read, .admin], auth) else { return .failure(.noAuth) }
            if check(n, .admin, auth) { return .success(.acl(n.acl, n.clientStat)) }
            // Without ADMIN, digest hashes are hidden (CVE-2019-0201 behaviour).
            let masked = n.acl.map { a -> ACL in
                guard a.id.scheme == "digest", let colon = a.id.id.firstIndex(of: ":") else { return a }
                return ACL(perms: a.perms, id: Id(scheme: "digest", id: a.id.id[..<colon] + ":x"))
            }
            return .success(.acl(masked, n.clientStat))
        case .getChildren(let path, _, let withStat):
            guard let n = lookup(path) else { return .failure(.noNode) }
            guard check(n, .read, auth) else { return .failure(.noAuth) }
            let children = Array(n.children)
            return .success(withStat ? .children2(children, n.clientStat) : .children(children))
        case .getAllChildrenNumber(let path):
            guard let n = lookup(path) else { return .failure(.noNode) }
            guard check(n, .read, auth) else { return .failure(.noAuth) }
            return .success(.number(Int32(countDescendants(path.isEmpty ? "/" : path))))
        case .getEphemerals(let prefix):
            let mine = ephemerals[session] ?? []
            let list = prefix == "/" ? Array(mine) : mine.filter { $0.hasPrefix(prefix) }
            return .success(.strings(list.sorted()))
        case .multiRead(let ops):
            var out: [MultiResult] = []
            for op in ops {
                switch read(op, auth: auth, session: session) {
                case .success(.data(let d, let s)): out.append(.getData(data: d, stat: s))
                case .success(.children(let c)): out.append(.getChildren(c))
                case .success: out.append(.error(.runtimeInconsistency))
                case .failure(let e): out.append(.error(e))
                }
            }
            return .success(.multi(out))
        default:
            return .failure(.unimplemented)
        }
    }

    public func countDescendants(_ path: String) -> Int {
        guard let n = nodes[path] else { return 0 }
        var total = 0
        var stack: [String] = n.children.map { path == "/" ? "/" + $0 : path + "/" + $0 }
        while let p = stack.popLast() {
            total += 1
            if let c = nodes[p] { for name in c.children { stack.append(p + "/" + name) } }
        }
        return total
    }

    /// Containers that are empty and have had children, and TTL nodes whose time has passed: the
    /// leader turns each into a deleteContainer request (Apache's ContainerManager).
    public func expiredContainersAndTTLs(now: Int64) -> [String] {
        var out: [String] = []
        for p in containers {
            if let n = nodes[p], n.children.isEmpty, n.stat.cversion > 0 { out.append(p) }
        }
        for p in ttlNodes {
            if let n = nodes[p], n.children.isEmpty,
               now - n.stat.mtime > EphemeralOwner.ttlValue(n.stat.ephemeralOwner) { out.append(p) }
        }
        return out.sorted()
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true } else { return false } }
}

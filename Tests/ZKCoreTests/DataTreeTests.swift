import Testing
import ZKProtocol
@testable import ZKCore

/// Applies requests as a leader would: one txn per request, zxids counting up.
private struct Harness {
    var tree = DataTree(extendedTypesEnabled: true)
    var zxid: Int64 = 0
    var time: Int64 = 1_000

    @discardableResult
    mutating func write(_ r: ZKRequest, session: Int64 = 0x100, auth: [Id] = []) -> DataTree.Outcome {
        zxid += 1; time += 10
        return tree.apply(Txn(zxid: zxid, time: time, sessionId: session, cxid: 1, body: .request(r, auth: auth)))
    }
    mutating func session(_ id: Int64) {
        zxid += 1
        _ = tree.apply(Txn(zxid: zxid, time: time, sessionId: id, cxid: 0, body: .createSession(timeout: 4000, password: [1])))
    }
    mutating func close(_ id: Int64) -> DataTree.Outcome {
        zxid += 1
        return tree.apply(Txn(zxid: zxid, time: time, sessionId: id, cxid: 0, body: .closeSession))
    }
    func err(_ o: DataTree.Outcome) -> ErrorCode? { if case .failure(let e) = o.result { return e } else { return nil } }
}

private func create(_ path: String, _ data: String = "", flags: Int32 = 0, acl: [ACL] = ACL.openUnsafe,
                    op: OpCode = .create, ttl: Int64 = -1) -> ZKRequest {
    .create(CreateRequest(path: path, data: Array(data.utf8), acl: acl, flags: flags, ttl: ttl), op)
}

@Suite struct DataTreeSemantics {
    @Test func specialNodesExist() {
        let t = DataTree()
        #expect(t.node("/zookeeper") != nil)
        #expect(t.node("/zookeeper/quota") != nil)
        #expect(t.node("/zookeeper/config")?.acl == ACL.readUnsafe)
    }

    @Test func createStatsAndParentUpdates() {
        var h = Harness()
        let o = h.write(create("/a", "hi", op: .create2))
        guard case .success(.pathStat(let p, let s)) = o.result else { Issue.record("\(o.result)"); return }
        #expect(p == "/a")
        #expect(s.czxid == 1 && s.mzxid == 1 && s.pzxid == 1 && s.dataLength == 2 && s.version == 0)
        let root = h.tree.node("/")!.stat
        #expect(root.cversion == 1 && root.pzxid == 1 && root.numChildren == 2)
        #expect(o.triggers == [WatchTrigger(path: "/a", type: .nodeCreated), WatchTrigger(path: "/", type: .nodeChildrenChanged)])
    }

    @Test func sequentialSuffixFollowsParentCversion() {
        var h = Harness()
        h.write(create("/q"))
        h.write(create("/q/x"))
        h.write(create("/q/x/y")); h.write(.delete(path: "/q/x/y", version: -1, .delete))
        let o = h.write(create("/q/n-", flags: 2))
        #expect(o.result == .success(.path("/q/n-0000000001")))
        h.write(.delete(path: "/q/x", version: -1, .delete))
        do { let o_ = h.write(create("/q/n-", flags: 2))
        // The suffix is the stored cversion, which counts creations only (Apache), so the delete
        // of /q/x does not move it.
        #expect(o_.result == .success(.path("/q/n-0000000002"))) }
        #expect(PathUtils.sequenceSuffix(-1) == "-000000001")
    }

    @Test func errorsAsApache() {
        var h = Harness()
        do { let o_ = h.write(create("/a/b"))
        #expect(h.err(o_) == .noNode) }
        h.write(create("/a"))
        do { let o_ = h.write(create("/a"))
        #expect(h.err(o_) == .nodeExists) }
        do { let o_ = h.write(create("bad"))
        #expect(h.err(o_) == .badArguments) }
        do { let o_ = h.write(create("/a/"))
        #expect(h.err(o_) == .badArguments) }
        // Apache looks the parent up before validating the whole path: "/a/." does not exist.
        do { let o_ = h.write(create("/a/./b"))
        #expect(h.err(o_) == .noNode) }
        do { let o_ = h.write(create("/a/\u{1}"))
        #expect(h.err(o_) == .badArguments) }
        do { let o_ = h.write(create("/a/b", acl: []))
        #expect(h.err(o_) == .invalidACL) }
        h.write(create("/a/b"))
        do { let o_ = h.write(.delete(path: "/a", version: -1, .delete))
        #expect(h.err(o_) == .notEmpty) }
        do { let o_ = h.write(.delete(path: "/a/b", version: 5, .delete))
        #expect(h.err(o_) == .badVersion) }
        do { let o_ = h.write(.setData(path: "/a", data: [], version: 3))
        #expect(h.err(o_) == .badVersion) }
        do { let o_ = h.write(.setData(path: "/nope", data: [], version: -1))
        #expect(h.err(o_) == .noNode) }
        do { let o_ = h.write(.delete(path: "/zookeeper", version: -1, .delete))
        #expect(h.err(o_) == .badArguments) }
        do { let o_ = h.write(create("/t", flags: 5, op: .createTTL, ttl: 0))
        #expect(h.err(o_) == .badArguments) }
    }

    @Test func ephemeralsBelongToSessionsAndDieWithThem() {
        var h = Harness()
        h.session(7)
        h.write(create("/e", flags: 1), session: 7)
        #expect(h.tree.node("/e")?.stat.ephemeralOwner == 7)
        do { let o_ = h.write(create("/e/child"))
        #expect(h.err(o_) == .noChildrenForEphemerals) }
        #expect(h.tree.read(.getEphemerals(prefix: "/"), auth: [], session: 7) == .success(.strings(["/e"])))
        // A session that does not exist cannot own an ephemeral.
        do { let o_ = h.write(create("/e2", flags: 1), session: 99)
        #expect(h.err(o_) == .sessionExpired) }
        let o = h.close(7)
        #expect(h.tree.node("/e") == nil)
        #expect(o.triggers.contains(WatchTrigger(path: "/e", type: .nodeDeleted)))
        #expect(h.tree.sessions[7] == nil)
    }

    @Test func multiIsAtomic() {
        var h = Harness()
        h.write(create("/m"))
        let o = h.write(.multi([create("/m/1"), .setData(path: "/m", data: [1], version: 0), .check(path: "/m", version: 7),
                                create("/m/2")]))
        #expect(o.result == .success(.multi([.error(.ok), .error(.ok), .error(.badVersion), .error(.runtimeInconsistency)])))
        #expect(h.tree.node("/m/1") == nil)
        #expect(h.tree.node("/m")?.stat.version == 0)
        #expect(h.tree.node("/m")?.stat.cversion == 0)
        #expect(o.triggers.isEmpty)
        let ok = h.write(.multi([create("/m/1"), .setData(path: "/m", data: [1], version: 0), .check(path: "/m", version: 1)]))
        guard case .success(.multi(let rs)) = ok.result else { Issue.record("no multi"); return }
        #expect(rs.count == 3)
        #expect(h.tree.node("/m/1") != nil)
    }

    @Test func containersAndTTLsAreFoundForCleanup() {
        var h = Harness()
        h.write(create("/c", flags: 4, op: .createContainer))
        #expect(h.tree.expiredContainersAndTTLs(now: 0).isEmpty)  // never had children
        h.write(create("/c/x")); h.write(.delete(path: "/c/x", version: -1, .delete))
        #expect(h.tree.expiredContainersAndTTLs(now: 0) == ["/c"])
        h.write(create("/t", flags: 5, op: .createTTL, ttl: 100))
        #expect(h.tree.node("/t")!.stat.ephemeralOwner == EphemeralOwner.ttl(100))
        #expect(!h.tree.expiredContainersAndTTLs(now: h.time).contains("/t"))
        #expect(h.tree.expiredContainersAndTTLs(now: h.time + 1000).contains("/t"))
        do { let o_ = h.write(.delete(path: "/c", version: -1, .deleteContainer))
        #expect(o_.result == .success(.empty)) }
    }

    @Test func snapshotRoundTrip() throws {
        var h = Harness()
        h.session(5)
        h.write(create("/a", "x")); h.write(create("/a/b", "y")); h.write(create("/e", flags: 1), session: 5)
        let copy = try DataTree(snapshot: h.tree.snapshotBytes(), skipACL: false, extendedTypesEnabled: true)
        #expect(copy.nodes == h.tree.nodes)
        #expect(copy.sessions == h.tree.sessions)
        #expect(copy.ephemerals == h.tree.ephemerals)
        #expect(copy.lastZxid == h.tree.lastZxid)
        #expect(copy.approximateDataSize == h.tree.approximateDataSize)
    }

    @Test func txnBytesRoundTrip() throws {
        let t = Txn(zxid: 0x100000002, time: 5, sessionId: 9, cxid: 3,
                    body: .request(create("/a", "b"), auth: [Id(scheme: "ip", id: "127.0.0.1")]))
        #expect(try Txn(bytes: t.bytes) == t)
        let s = Txn(zxid: 1, time: 5, sessionId: 9, cxid: 0, body: .createSession(timeout: 10, password: [1, 2]))
        #expect(try Txn(bytes: s.bytes) == s)
    }
}

@Suite struct ACLs {
    let alice = Id(scheme: "digest", id: DigestAuth.digest("alice:secret"))

    @Test func digestMatchesApacheFormat() {
        // Apache: DigestAuthenticationProvider.generateDigest("super:test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        #expect(DigestAuth.digest("super:test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    }

    @Test func permissionsAreChecked() {
        var h = Harness()
        h.write(create("/p", "s", acl: [ACL(perms: [.read, .create], id: alice)]), auth: [alice])
        #expect(h.tree.read(.getData(path: "/p", watch: false), auth: [], session: 1) == .failure(.noAuth))
        #expect(h.tree.read(.getData(path: "/p", watch: false), auth: [alice], session: 1) == .success(.data(Array("s".utf8), h.tree.node("/p")!.stat)))
        do { let o_ = h.write(.setData(path: "/p", data: [], version: -1), auth: [alice])
        #expect(h.err(o_) == .noAuth) }
        do { let o_ = h.write(create("/p/c"), auth: [])
        #expect(h.err(o_) == .noAuth) }
        do { let o_ = h.write(create("/p/c"), auth: [alice])
        #expect(h.err(o_) == nil) }
        do { let o_ = h.write(.setData(path: "/p", data: [], version: -1), auth: [ACLCheck.superId])
        #expect(h.err(o_) == nil) }
    }

    @Test func authSchemeExpandsAndNeedsAnIdentity() {
        var h = Harness()
        let authACL = [ACL(perms: .all, id: Id(scheme: "auth", id: ""))]
        do { let o_ = h.write(create("/x", acl: authACL), auth: [Id(scheme: "ip", id: "127.0.0.1")])
        #expect(h.err(o_) == .invalidACL) }
        h.write(create("/x", acl: authACL), auth: [alice])
        #expect(h.tree.node("/x")?.acl == [ACL(perms: .all, id: alice)])
    }

    @Test func ipMasks() {
        let acl = [ACL(perms: .read, id: Id(scheme: "ip", id: "10.1.0.0/16"))]
        #expect(ACLCheck.allowed(acl, .read, auth: [Id(scheme: "ip", id: "10.1.2.3")], skipACL: false))
        #expect(!ACLCheck.allowed(acl, .read, auth: [Id(scheme: "ip", id: "10.2.2.3")], skipACL: false))
        #expect(ACLCheck.allowed(acl, .write, auth: [], skipACL: true))
    }

    @Test func getACLHidesDigestsWithoutAdmin() {
        var h = Harness()
        h.write(create("/h", acl: [ACL(perms: .read, id: Id(scheme: "world", id: "anyone")), ACL(perms: .all, id: alice)]))
        guard case .success(.acl(let a, _)) = h.tree.read(.getACL(path: "/h"), auth: [], session: 1) else { Issue.record(); return }
        #expect(a[1].id.id == "alice:x")
    }
}

@Suite struct Watches {
    @Test func oneShotAndPersistent() {
        var w = WatchManager()
        w.add(.data, path: "/a", watcher: 1)
        w.add(.child, path: "/", watcher: 2)
        w.add(.persistent, path: "/a", watcher: 3)
        w.add(.persistentRecursive, path: "/", watcher: 4)
        #expect(w.trigger(WatchTrigger(path: "/a", type: .nodeDataChanged)) == [1, 3, 4])
        #expect(w.trigger(WatchTrigger(path: "/a", type: .nodeDataChanged)) == [3, 4])
        #expect(w.trigger(WatchTrigger(path: "/", type: .nodeChildrenChanged)) == [2])
        #expect(w.trigger(WatchTrigger(path: "/", type: .nodeChildrenChanged)) == [])
        w.removeAll(watcher: 4)
        #expect(w.trigger(WatchTrigger(path: "/a/b", type: .nodeCreated)) == [])
        let first = w.remove(.persistent, path: "/a", watcher: 3)
        let second = w.remove(.persistent, path: "/a", watcher: 3)
        #expect(first && !second)
    }

    @Test func deleteFiresDataAndChildWatches() {
        var w = WatchManager()
        w.add(.data, path: "/x", watcher: 1)
        w.add(.child, path: "/x", watcher: 2)
        #expect(w.trigger(WatchTrigger(path: "/x", type: .nodeDeleted)) == [1, 2])
        #expect(w.totalWatches() == 0)
    }
}

@Suite struct ClientVisibleStat {
    @Test func cversionCountsCreatesAndDeletesAndMarkersAreHidden() {
        var h = Harness()
        // Fresh tree: "/" has one child and no creations → -1; /zookeeper has two → -2 (Apache 3.8.0).
        #expect(h.tree.node("/")!.clientStat.cversion == -1)
        #expect(h.tree.node("/zookeeper")!.clientStat.cversion == -2)
        #expect(h.tree.node("/zookeeper/config")!.clientStat.aversion == -1)
        h.write(create("/p"))
        h.write(create("/p/a")); h.write(create("/p/b")); h.write(.delete(path: "/p/a", version: -1, .delete))
        #expect(h.tree.node("/p")!.clientStat.cversion == 3)
        h.write(create("/c", flags: 4, op: .createContainer))
        #expect(h.tree.node("/c")!.clientStat.ephemeralOwner == 0)
        #expect(h.tree.node("/c")!.stat.ephemeralOwner == EphemeralOwner.container)
    }

    @Test func nullDataStaysNull() {
        var h = Harness()
        h.write(.create(CreateRequest(path: "/n", data: nil, acl: ACL.openUnsafe, flags: 0), .create))
        #expect(h.tree.read(.getData(path: "/n", watch: false), auth: [], session: 1) == .success(.data(nil, h.tree.node("/n")!.clientStat)))
        #expect(h.tree.read(.getChildren(path: "", watch: false, withStat: false), auth: [], session: 1) != .failure(.noNode))
    }
}

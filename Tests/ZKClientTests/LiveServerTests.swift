#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import ZKClient
import ZKProtocol

/// "host:port" of a running server to exercise the async API against; the suite is skipped without it.
/// E.g. `ZK_CLIENT_TEST_SERVER=127.0.0.1:2181 swift test --filter ZKClientTests`.
private let liveServer: (host: String, port: Int)? = {
    guard let raw = getenv("ZK_CLIENT_TEST_SERVER") else { return nil }
    let s = String(cString: raw)
    guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]) else { return nil }
    return (String(s[..<colon]), port)
}()

@Suite(.enabled(if: liveServer != nil, "set ZK_CLIENT_TEST_SERVER=host:port"))
struct LiveServerTests {
    private func connect() async throws -> ZooKeeperClient {
        let server = try #require(liveServer)
        return try await ZooKeeperClient.connect(host: server.host, port: server.port, sessionTimeout: .seconds(10))
    }

    @Test func crudWatchesMultiACLAndAuth() async throws {
        let zk = try await connect()
        #expect(zk.sessionId != 0)
        let base = "/zkclient-test-\(getpid())-\(zk.sessionId & 0xffff)"
        #expect(try await zk.create(path: base, data: Array("hi".utf8)) == base)
        #expect(try await zk.exists(path: base + "/missing") == nil)

        // Data watch fires on setData.
        let (data, stat) = try await zk.getData(path: base, watch: true)
        #expect(data == Array("hi".utf8) && stat.version == 0)
        let newStat = try await zk.setData(path: base, data: [1, 2, 3], version: 0)
        #expect(newStat.version == 1)
        var events = zk.events.makeAsyncIterator()
        #expect(await events.next() == WatcherEvent(type: .nodeDataChanged, path: base))

        // Sequential create, children, create2, version conflicts.
        let seq = try await zk.create(path: base + "/s-", mode: .persistentSequential)
        #expect(seq == base + "/s-0000000000")
        let (path2, stat2) = try await zk.create2(path: base + "/c", data: [7])
        #expect(path2 == base + "/c" && stat2.dataLength == 1)
        #expect(Set(try await zk.getChildren(path: base)) == ["s-0000000000", "c"])
        do throws(ZooKeeperError) {
            try await zk.setData(path: base, data: [], version: 99)
            Issue.record("expected BADVERSION")
        } catch {
            #expect(error.code == .badVersion)
        }

        // multi: all or nothing.
        let ok = try await zk.multi([
            .create(CreateRequest(path: base + "/m", data: [], acl: ACL.openUnsafe, flags: 0), .create),
            .setData(path: base + "/c", data: [8], version: -1),
            .check(path: base, version: 1),
        ])
        #expect(ok.count == 3)
        if case .create(let p) = ok[0] { #expect(p == base + "/m") } else { Issue.record("multi[0] \(ok[0])") }
        let failed = try await zk.multi([
            .delete(path: base + "/m", version: -1, .delete),
            .check(path: base, version: 42),
        ])
        #expect(failed.contains(.error(.badVersion)))
        #expect(try await zk.exists(path: base + "/m") != nil)

        // ACLs with digest auth.
        try await zk.addAuth(scheme: "digest", auth: Array("alice:secret".utf8))
        let (acl, _) = try await zk.getACL(path: base)
        #expect(acl == ACL.openUnsafe)
        try await zk.setACL(path: base + "/c", acl: [ACL(perms: .all, id: Id(scheme: "auth", id: ""))])
        let other = try await connect()
        do throws(ZooKeeperError) {
            _ = try await other.getData(path: base + "/c")
            Issue.record("expected NOAUTH")
        } catch {
            #expect(error.code == .noAuth)
        }
        await other.close()
        #expect(try await zk.sync(path: base) == base)

        // Clean up, then close: the stream ends with a closed state event.
        for child in try await zk.getChildren(path: base) { try await zk.delete(path: base + "/" + child) }
        try await zk.delete(path: base)
        await zk.close()
        #expect(await events.next() == WatcherEvent(type: .none, state: .closed, path: ""))
        #expect(await events.next() == nil)
        do throws(ZooKeeperError) {
            _ = try await zk.exists(path: "/")
            Issue.record("expected CONNECTIONLOSS after close")
        } catch {
            #expect(error.code == .connectionLoss)
        }
    }

    @Test func ephemeralsGoWithTheSession() async throws {
        let zk = try await connect()
        let path = "/zkclient-eph-\(getpid())-\(zk.sessionId & 0xffff)"
        try await zk.create(path: path, mode: .ephemeral)
        let watcher = try await connect()
        #expect(try await watcher.exists(path: path, watch: true)?.ephemeralOwner == zk.sessionId)
        await zk.close()
        var events = watcher.events.makeAsyncIterator()
        #expect(await events.next() == WatcherEvent(type: .nodeDeleted, path: path))
        await watcher.close()
    }
}

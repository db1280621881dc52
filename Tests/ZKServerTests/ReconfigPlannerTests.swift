import Testing
import ZKCore
import ZKProtocol
@testable import ZKServer

/// Three participants on loopback, version 0x100000000 (epoch 1's first NEWLEADER).
private let three: DynamicConfig = {
    let servers = (1...3).map { i in
        QuorumServerSpec(id: Int64(i), host: "127.0.0.1", quorumPort: 2887 + i * 10, electionPort: 3887 + i * 10,
                         clientHost: "127.0.0.1", clientPort: 2180 + i)
    }
    return DynamicConfig(servers: servers, version: 0x1_0000_0000)
}()

private func ctx(enabled: Bool = true, ensemble: Bool = true, synced: Set<Int64> = [1, 2, 3],
                 lastSeen: DynamicConfig? = nil, acl: [ACL] = ACL.openUnsafe, auth: [Id] = [],
                 skipACL: Bool = false) -> ReconfigPlanner.Context {
    ReconfigPlanner.Context(reconfigEnabled: enabled, isEnsemble: ensemble, skipACL: skipACL, current: three,
                            lastSeen: lastSeen, synced: synced, configACL: acl, auth: auth)
}

private func req(join: String? = nil, leave: String? = nil, members: String? = nil, from: Int64 = -1) -> ReconfigRequest {
    ReconfigRequest(joiningServers: join, leavingServers: leave, newMembers: members, curConfigId: from)
}

private func code(_ r: Result<ReconfigPlanner.Plan, ReconfigPlanner.Rejection>) -> ErrorCode? {
    if case .failure(let e) = r { return e.code }
    return nil
}

private let server4 = "server.4=127.0.0.1:2937:3937:participant;127.0.0.1:2184"

@Suite struct ReconfigPlannerTests {
    @Test func disabledAndStandalone() {
        #expect(code(ReconfigPlanner.plan(req(leave: "3"), ctx(enabled: false))) == .reconfigDisabled)
        #expect(code(ReconfigPlanner.plan(req(leave: "3"), ctx(enabled: false, ensemble: false))) == .reconfigDisabled)
        #expect(code(ReconfigPlanner.plan(req(leave: "3"), ctx(ensemble: false))) == .unimplemented)
    }

    @Test func removeFollower() throws {
        let plan = try ReconfigPlanner.plan(req(leave: "3"), ctx()).get()
        #expect(plan.servers.map(\.id) == [1, 2])
        #expect(plan.configData(version: 0x1_0000_0005) ==
            "server.1=127.0.0.1:2897:3897:participant;127.0.0.1:2181\n"
            + "server.2=127.0.0.1:2907:3907:participant;127.0.0.1:2182\nversion=100000005")
    }

    @Test func addJoinerNeedsItSynced() throws {
        // A majority of the 4 new voters (3 of 4) must be synced: 1,2,3 are.
        let plan = try ReconfigPlanner.plan(req(join: server4), ctx()).get()
        #expect(plan.voters == [1, 2, 3, 4])
        #expect(code(ReconfigPlanner.plan(req(join: server4), ctx(synced: [1, 2]))) == .newConfigNoQuorum)
        // Two joiners not yet synced: 3 of 5 synced is still a quorum.
        let two = server4 + ",server.5=127.0.0.1:2947:3947:participant;127.0.0.1:2185"
        #expect(try ReconfigPlanner.plan(req(join: two), ctx()).get().voters == [1, 2, 3, 4, 5])
    }

    @Test func joinAndLeaveTogether() throws {
        let plan = try ReconfigPlanner.plan(req(join: server4, leave: " 1 , 2 "), ctx(synced: [3, 4])).get()
        #expect(plan.voters == [3, 4])
    }

    @Test func joinerReplacesSameId() throws {
        let obs = "server.3=127.0.0.1:2917:3917:observer;127.0.0.1:2183"
        let plan = try ReconfigPlanner.plan(req(join: obs), ctx()).get()
        #expect(plan.servers.first { $0.id == 3 }?.role == .observer)
        #expect(plan.voters == [1, 2])
    }

    @Test func nonIncremental() throws {
        let members = three.servers.prefix(2).map(\.line).joined(separator: ",") + "," + server4
        let plan = try ReconfigPlanner.plan(req(members: members), ctx()).get()
        #expect(plan.voters == [1, 2, 4])
        // Newlines separate as well as commas; a version line is accepted.
        let nl = three.servers.map(\.line).joined(separator: "\n") + "\nversion=100000000"
        #expect(try ReconfigPlanner.plan(req(members: nl), ctx()).get().voters == [1, 2, 3])
    }

    @Test func badArguments() {
        #expect(code(ReconfigPlanner.plan(req(join: "server.4"), ctx())) == .badArguments)
        #expect(code(ReconfigPlanner.plan(req(join: "server.4=127.0.0.1:2937:3937"), ctx())) == .badArguments)  // no client port
        #expect(code(ReconfigPlanner.plan(req(join: "server.4=127.0.0.1:2937"), ctx())) == .badArguments)
        // The joiner's quorum port is server 1's.
        #expect(code(ReconfigPlanner.plan(req(join: "server.4=127.0.0.1:2897:3937;2184"), ctx())) == .badArguments)
        #expect(code(ReconfigPlanner.plan(req(members: "server.1=nonsense"), ctx())) == .badArguments)
        #expect(code(ReconfigPlanner.plan(req(members: "foo=bar"), ctx())) == .badArguments)
        // Fewer than 2 participants with standaloneEnabled.
        #expect(code(ReconfigPlanner.plan(req(leave: "2,3"), ctx())) == .badArguments)
        #expect(code(ReconfigPlanner.plan(req(members: ""), ctx())) == .badArguments)
        // Non-numeric ids fail in Apache outside its ConfigException handler.
        #expect(code(ReconfigPlanner.plan(req(leave: "x"), ctx())) == .marshallingError)
        #expect(code(ReconfigPlanner.plan(req(join: "server.x=127.0.0.1:2937:3937;2184"), ctx())) == .marshallingError)
    }

    @Test func versionAndInProgress() throws {
        #expect(code(ReconfigPlanner.plan(req(leave: "3", from: 0x1_0000_0001), ctx())) == .badVersion)
        #expect(try ReconfigPlanner.plan(req(leave: "3", from: 0x1_0000_0000), ctx()).get().voters == [1, 2])
        var pending = three
        pending.version = 0x1_0000_0007
        #expect(code(ReconfigPlanner.plan(req(leave: "3"), ctx(lastSeen: pending))) == .reconfigInProgress)
    }

    @Test func aclComesLast() {
        let restricted = [ACL(perms: .read, id: .anyone)]
        #expect(code(ReconfigPlanner.plan(req(leave: "3"), ctx(acl: restricted))) == .noAuth)
        #expect((try? ReconfigPlanner.plan(req(leave: "3"), ctx(acl: restricted, auth: [ACLCheck.superId])).get()) != nil)
        #expect((try? ReconfigPlanner.plan(req(leave: "3"), ctx(acl: restricted, skipACL: true)).get()) != nil)
        // Apache checks the ACL after the quorum: NewConfigNoQuorum wins.
        #expect(code(ReconfigPlanner.plan(req(join: server4), ctx(synced: [1], acl: restricted))) == .newConfigNoQuorum)
    }
}

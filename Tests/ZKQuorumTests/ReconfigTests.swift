import Testing
@testable import ZKQuorum

/// Dynamic membership in the consensus core: joiners sync as guests, a reconfig commits on a
/// quorum of the old and of the new voters, and servers left out stop taking part.
@Suite struct QuorumReconfigTests {
    /// A running 3-server cluster with a few committed writes.
    func running() -> TestCluster {
        var c = TestCluster(participants: [1, 2, 3])
        c.run(50) { $0.establishedLeader != nil }
        for i in 0..<3 { _ = c.propose([UInt8(i)]) }
        c.run(3)
        return c
    }

    @Test func joinerSyncsAsGuestThenVotesAfterReconfig() throws {
        var c = running()
        let leader = try #require(c.establishedLeader)
        c.addJoiner(4)
        c.run(20) { $0.peers[leader]!.status.syncedFollowers.contains(4) }
        #expect(c.peers[leader]!.status.syncedFollowers.contains(4), "the joiner synced as a guest")
        #expect(c.peers[leader]!.config.quorumSize == 2, "a guest does not count yet")
        let zOpt = c.proposeReconfig(participants: [1, 2, 3, 4])
        let z = try #require(zOpt)
        c.run(3)
        for id: Int64 in 1...4 {
            #expect(c.peers[id]!.config.participants == [1, 2, 3, 4], "server \(id)")
            #expect(c.applied[id]!.contains { $0.zxid == z }, "server \(id) applied the reconfig")
        }
        #expect(c.peers[leader]!.config.quorumSize == 3)
        #expect(c.peers[leader]!.guests.isEmpty)
        let wOpt = c.propose([9])
        let w = try #require(wOpt)
        c.run(3)
        #expect(c.applied[4]!.contains { $0.zxid == w })
    }

    @Test func reconfigWaitsForQuorumOfNewVoters() throws {
        var c = running()
        let leader = try #require(c.establishedLeader)
        let others = [Int64(1), 2, 3].filter { $0 != leader }
        c.addJoiner(4)
        c.addJoiner(5)
        c.run(20) { Set($0.peers[leader]!.status.syncedFollowers).isSuperset(of: [4, 5]) }
        // New voters: the leader and the two joiners. With both joiners cut off, only the leader
        // of the new set has it: nothing from the reconfig on may commit.
        c.isolated = [4, 5]
        let before = c.peers[leader]!.committedZxid
        let zOpt = c.proposeReconfig(participants: [leader, 4, 5])
        let z = try #require(zOpt)
        let second = c.proposeReconfig(participants: [leader, 4])
        #expect(second == nil, "one reconfig at a time")
        let wOpt = c.propose([7])
        let w = try #require(wOpt)
        // Long enough for leader and joiners to drop each other (an isolated peer loses messages,
        // which over TCP means a lost connection).
        c.run(8)
        #expect(c.peers[leader]!.committedZxid == before, "old quorum alone does not commit a reconfig")
        #expect(c.peers[leader]!.reconfigPending)
        c.isolated = []
        // The joiners were dropped for silence, re-sync and ack.
        c.run(60) { $0.peers[leader]!.committedZxid >= w }
        #expect(c.peers[leader]!.committedZxid >= w)
        #expect(c.peers[leader]!.config.participants == [leader, 4, 5])
        c.run(5)
        for id in others {
            #expect(!c.peers[id]!.isMember, "server \(id) was removed")
            #expect(c.peers[id]!.role == .looking)
        }
        let sentBefore = c.sent.count
        c.run(10)
        #expect(!c.sent[sentBefore...].contains { others.contains($0.from) }, "removed servers stay silent")
        let w2Opt = c.propose([8])
        let w2 = try #require(w2Opt)
        c.run(3)
        #expect(c.applied[4]!.contains { $0.zxid == w2 } && c.applied[5]!.contains { $0.zxid == w2 })
    }

    @Test func removedLeaderStepsDownAndTheRestElect() throws {
        var c = running()
        let leader = try #require(c.establishedLeader)
        let rest = Set<Int64>([1, 2, 3]).subtracting([leader])
        let zOpt = c.proposeReconfig(participants: rest)
        let z = try #require(zOpt)
        c.run(1)
        #expect(c.peers[leader]!.applied(z: z, in: c))
        c.run(60) { c in c.establishedLeader.map { rest.contains($0) } ?? false }
        let newLeader = try #require(c.establishedLeader)
        #expect(rest.contains(newLeader))
        #expect(!c.peers[leader]!.isMember)
        #expect(c.peers[newLeader]!.config.quorumSize == 2)
        let wOpt = c.propose([5])
        let w = try #require(wOpt)
        c.run(3)
        for id in rest { #expect(c.applied[id]!.contains { $0.zxid == w }, "server \(id)") }
        #expect(!c.applied[leader]!.contains { $0.zxid == w })
    }

    @Test func observerJoinsAndNeverCounts() throws {
        var c = running()
        let leader = try #require(c.establishedLeader)
        c.addJoiner(9, observer: true)
        c.run(20) { $0.peers[leader]!.status.syncedObservers.contains(9) }
        #expect(c.peers[leader]!.status.syncedObservers == [9])
        let anyOpt = c.proposeReconfig(participants: [1, 2, 3], observers: [9])
        _ = try #require(anyOpt)
        c.run(3)
        #expect(c.peers[9]!.config.observers == [9])
        #expect(c.peers[9]!.role == .observing)
        #expect(c.peers[leader]!.config.quorumSize == 2)
        let wOpt = c.propose([6])
        let w = try #require(wOpt)
        c.run(3)
        #expect(c.applied[9]!.contains { $0.zxid == w })
    }

    @Test func removedFollowerIsInertAndWritesGoOn() throws {
        var c = running()
        let leader = try #require(c.establishedLeader)
        let victim = [Int64(1), 2, 3].first { $0 != leader }!
        let keep = Set<Int64>([1, 2, 3]).subtracting([victim])
        let anyOpt = c.proposeReconfig(participants: keep)
        _ = try #require(anyOpt)
        c.run(3)
        #expect(!c.peers[victim]!.isMember)
        #expect(c.peers[victim]!.role == .looking)
        #expect(c.establishedLeader == leader, "the leader keeps leading")
        let wOpt = c.propose([4])
        let w = try #require(wOpt)
        c.run(3)
        #expect(c.peers[leader]!.committedZxid >= w)
    }
}

extension QuorumPeer {
    func applied(z: Int64, in c: TestCluster) -> Bool { c.applied[config.myid]!.contains { $0.zxid == z } }
}

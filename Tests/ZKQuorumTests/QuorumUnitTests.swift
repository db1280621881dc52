import Testing
@testable import ZKQuorum

@Suite struct ElectionTests {
    @Test func threePeersElectHighestEpochThenZxidThenId() {
        // 1 has the longest log but an older currentEpoch; 2 and 3 tie on (epoch, zxid): 3 wins on id.
        let states: [Int64: PersistedState] = [
            1: PersistedState(acceptedEpoch: 1, currentEpoch: 1, log: entries(epoch: 1, 1...5)),
            2: PersistedState(acceptedEpoch: 2, currentEpoch: 2, log: entries(epoch: 1, 1...3) + entries(epoch: 2, 1...1)),
            3: PersistedState(acceptedEpoch: 2, currentEpoch: 2, log: entries(epoch: 1, 1...3) + entries(epoch: 2, 1...1)),
        ]
        var c = TestCluster(participants: [1, 2, 3], states: states)
        c.run(50) { $0.establishedLeader != nil }
        #expect(c.establishedLeader == 3)
        #expect(c.peers[3]!.currentEpoch == 3)
        // 1 had 1:4 and 1:5 that the new leader lacks: it must have been told to TRUNC after 1:3.
        #expect(c.sent.contains { $0.to == 1 && { if case .trunc(_, let a, _, _) = $0.message { a == Zxid.make(epoch: 1, counter: 3) } else { false } }($0) })
        c.run(5)
        let expected = entries(epoch: 1, 1...3) + entries(epoch: 2, 1...1)
        for id: Int64 in [1, 2, 3] {
            #expect(c.peers[id]!.log == expected, "server \(id)")
            #expect(c.applied[id] == expected, "server \(id) applied the new leader's history")
        }
    }

    @Test func higherZxidBeatsHigherId() {
        let states: [Int64: PersistedState] = [
            1: PersistedState(acceptedEpoch: 1, currentEpoch: 1, log: entries(epoch: 1, 1...4)),
            2: PersistedState(acceptedEpoch: 1, currentEpoch: 1, log: entries(epoch: 1, 1...3)),
            3: PersistedState(acceptedEpoch: 1, currentEpoch: 1, log: entries(epoch: 1, 1...3)),
        ]
        var c = TestCluster(participants: [1, 2, 3], states: states)
        c.run(50) { $0.establishedLeader != nil }
        #expect(c.establishedLeader == 1)
        #expect(c.peers[1]!.status.syncedFollowers == [2, 3])
        #expect(c.peers[2]!.status.leaderId == 1)
        #expect(c.peers[2]!.status.role == .following)
    }

    @Test func observerNeverVotesNorCountsTowardQuorum() {
        // The observer has the best history, yet must not lead; with two participants down the
        // remaining participant plus the observer are no quorum.
        let p = PersistedState(acceptedEpoch: 5, currentEpoch: 5, log: entries(epoch: 5, 1...3))
        let states: [Int64: PersistedState] = [
            1: p, 2: p, 3: p,
            4: PersistedState(acceptedEpoch: 5, currentEpoch: 5, log: entries(epoch: 5, 1...9)),
        ]
        var c = TestCluster(participants: [1, 2, 3], observers: [4], states: states)
        c.down = [2, 3]
        c.run(100)
        #expect(c.establishedLeader == nil)
        #expect(c.peers[1]!.role != .leading || !c.peers[1]!.isEstablishedLeader)
        #expect(c.peers[4]!.role != .leading)
        // No vote for the observer is ever adopted by a participant.
        #expect(!c.sent.contains { if case .vote(let n) = $0.message { n.vote.leader == 4 } else { false } })
        c.down = []
        c.run(60) { $0.establishedLeader != nil && $0.peers[4]!.status.isSynced }
        let leader = c.establishedLeader
        #expect(leader != nil && leader != 4)
        #expect(c.peers[4]!.role == .observing)
        #expect(c.peers[leader!]!.status.syncedObservers == [4])
        // The observer gets commits via INFORM, never proposals.
        _ = c.propose([42])
        c.run(3)
        #expect(c.applied[4]!.last?.payload == [42])
        #expect(!c.sent.contains { if case .proposal = $0.message { $0.to == 4 } else { false } })
        #expect(c.sent.contains { if case .inform = $0.message { $0.to == 4 } else { false } })
    }
}

@Suite struct DurabilityTests {
    /// A new leader may adopt its epoch as `currentEpoch` only once its history is durable.
    /// Otherwise: it is elected holding a committed txn only in memory, saves the new epoch,
    /// crashes, and comes back advertising the newest epoch with a log that lacks the txn — and
    /// wins the next election, truncating the txn away everywhere.
    @Test func leaderAdoptsEpochOnlyAfterItsHistoryIsDurable() {
        var c = TestCluster(participants: [1, 2, 3])
        c.run(50) { $0.establishedLeader != nil }
        #expect(c.establishedLeader == 3)
        c.run(2)
        c.slow = [3]
        let x = c.propose([42])!
        c.run(2)
        // Committed by 1 and 2; only in 3's memory.
        #expect(c.applied[3]!.last?.zxid == x)
        #expect(!c.disks[3]!.log.contains { $0.zxid == x })
        // Force a new election that 3 wins (same history, highest id).
        c.isolated = [3]
        c.run(12) { c in [Int64(1), 2, 3].allSatisfy { c.peers[$0]!.role == .looking } }
        c.isolated = []
        // Followers never see 3's NEWLEADER, so they keep their old currentEpoch.
        c.drop = { from, _, m in if case .newLeader = m { from == 3 } else { false } }
        c.run(30) { $0.peers[3]!.leader?.phase == .synchronization }
        #expect(c.peers[3]!.leader?.phase == .synchronization, "3 waits for its own history to be durable")
        #expect(c.disks[3]!.currentEpoch < c.peers[3]!.acceptedEpoch)
        // 3 crashes before its disk catches up and before followers see NEWLEADER.
        c.crashAndRestart(3)
        c.slow = []
        c.drop = nil
        c.run(60) { $0.establishedLeader != nil }
        c.run(5)
        for id: Int64 in [1, 2, 3] {
            #expect(c.peers[id]!.log.contains { $0.zxid == x && $0.payload == [42] }, "server \(id) kept the committed txn")
        }
    }
}

@Suite struct BroadcastTests {
    @Test func proposalsCommitInOrderOnAllServers() {
        var c = TestCluster(participants: [1, 2, 3])
        c.run(50) { $0.establishedLeader != nil }
        var zxids: [Int64] = []
        for i in 0..<10 { zxids.append(c.propose([UInt8(i)])!) }
        c.run(3)
        for id: Int64 in [1, 2, 3] {
            #expect(c.applied[id]!.map(\.zxid) == zxids, "server \(id)")
        }
        let s = c.peers[c.establishedLeader!]!.status
        #expect(s.pendingProposals == 0 && s.lastZxid == zxids.last && s.quorumSize == 2)
    }

    @Test func isolatedLeaderStepsDownAndNeverCommits() {
        var c = TestCluster(participants: [1, 2, 3])
        c.run(50) { $0.establishedLeader != nil }
        let old = c.establishedLeader!
        c.isolated = [old]
        let before = c.applied[old]?.count ?? 0
        _ = c.propose([9])
        c.run(10)
        #expect(c.peers[old]!.role != .leading)
        #expect((c.applied[old]?.count ?? 0) == before, "a leader without quorum must not commit")
        c.run(40) { $0.establishedLeader != nil }
        let new = c.establishedLeader!
        #expect(new != old)
        c.isolated = []
        let z = c.propose([10])!
        c.run(40) { $0.applied[old]?.last?.zxid == z }
        // The old leader's lone proposal was truncated away; it now carries the new history.
        #expect(c.applied[old]!.last?.zxid == z)
        #expect(!c.applied[old]!.contains { $0.payload == [9] })
    }

    @Test func forwardAndSyncChannel() {
        var c = TestCluster(participants: [1, 2, 3])
        c.run(50) { $0.establishedLeader != nil }
        c.run(2)
        let l = c.establishedLeader!
        let f = [Int64(1), 2, 3].first { $0 != l }!
        let (ok, r) = c.peers[f]!.forward(id: 7, payload: [1, 2])
        #expect(ok)
        c.handle(f, r)
        c.round()
        #expect(c.forwarded[l] == [ForwardedRequest(from: f, id: 7, payload: [1, 2])])
        c.handle(l, c.peers[l]!.respond(to: f, id: 7, payload: [3]))
        c.round()
        #expect(c.responses[f] == [LearnerResponse(id: 7, payload: [3])])

        // A sync issued while a proposal is in flight completes only after that proposal is applied.
        let z = c.propose([5])!
        let (accepted, r2) = c.peers[f]!.requestSync(id: 1)
        #expect(accepted)
        c.handle(f, r2)
        c.run(3)
        let done = c.syncs[f]!.first { $0.id == 1 }
        #expect(done != nil && done!.zxid >= z)
        #expect(c.applied[f]!.contains { $0.zxid == z })
    }
}

/// Drives a single leader by hand to see which sync it picks.
@Suite struct SyncModeTests {
    /// Makes server 1 the leader of {1,2,3} with `log`, and returns it after 2 and 3 sent
    /// FOLLOWERINFO, with epoch chosen.
    func leader(_ state: PersistedState, retained: Int = 1000) -> QuorumPeer {
        let cfg = PeerConfig(myid: 1, participants: [1, 2, 3], retainedCommittedEntries: retained)
        var p = QuorumPeer(config: cfg, persisted: state)
        _ = p.tick()
        let vote = Vote(leader: 1, zxid: p.lastZxid, peerEpoch: p.currentEpoch)
        _ = p.receive(.vote(Notification(vote: vote, electionEpoch: 1, state: .looking)), from: 2)
        _ = p.tick()  // the finalize wait: decide one tick after a quorum agrees
        #expect(p.role == .leading)
        _ = p.receive(.followerInfo(acceptedEpoch: 0, lastZxid: 0), from: 2)
        _ = p.receive(.followerInfo(acceptedEpoch: 0, lastZxid: 0), from: 3)
        return p
    }

    func syncMessage(_ p: inout QuorumPeer, history: [Int64], from: Int64 = 2) -> QuorumMessage? {
        guard let e = p.status.epoch else { Issue.record("leader has no epoch"); return nil }
        let s = Zxid.make(epoch: e, counter: from - 1)
        let r = p.receive(.ackEpoch(session: s, currentEpoch: 0, history: history), from: from)
        return r.messages.first { $0.to == from }?.message
    }

    let base = PersistedState(acceptedEpoch: 3, currentEpoch: 3,
                              log: entries(epoch: 1, 1...5) + entries(epoch: 1, 6...6) + entries(epoch: 3, 1...2))

    @Test func diffWhenLearnerIsAPrefix() {
        var p = leader(base)
        let m = syncMessage(&p, history: [0, Zxid.make(epoch: 1, counter: 4)])
        guard case .diff(_, let es, _) = m else { Issue.record("expected DIFF, got \(String(describing: m))"); return }
        #expect(es.map(\.zxid) == [Zxid.make(epoch: 1, counter: 5), Zxid.make(epoch: 1, counter: 6),
                                   Zxid.make(epoch: 3, counter: 1), Zxid.make(epoch: 3, counter: 2)])
    }

    @Test func emptyDiffWhenUpToDate() {
        var p = leader(base)
        let m = syncMessage(&p, history: [0, Zxid.make(epoch: 1, counter: 6), Zxid.make(epoch: 3, counter: 2)])
        guard case .diff(_, let es, _) = m else { Issue.record("expected DIFF, got \(String(describing: m))"); return }
        #expect(es.isEmpty)
    }

    @Test func truncWhenLearnerHasTxnsTheLeaderLacks() {
        var p = leader(base)
        // Learner logged 1:1..1:5 then 2:1 from a leader of epoch 2 that never committed it.
        // The leader has no epoch 2 at all, so the common prefix ends at 1:5 (not at 1:6, which
        // the learner never had).
        let m = syncMessage(&p, history: [0, Zxid.make(epoch: 1, counter: 5), Zxid.make(epoch: 2, counter: 1)])
        guard case .trunc(_, let after, let es, _) = m else { Issue.record("expected TRUNC, got \(String(describing: m))"); return }
        #expect(after == Zxid.make(epoch: 1, counter: 5))
        #expect(es.first?.zxid == Zxid.make(epoch: 1, counter: 6))
    }

    @Test func truncWhenLearnerIsLongerInSameEpoch() {
        var p = leader(base)
        let m = syncMessage(&p, history: [0, Zxid.make(epoch: 1, counter: 6), Zxid.make(epoch: 3, counter: 7)])
        guard case .trunc(_, let after, let es, _) = m else { Issue.record("expected TRUNC, got \(String(describing: m))"); return }
        #expect(after == Zxid.make(epoch: 3, counter: 2))
        #expect(es.isEmpty)
    }

    @Test func snapWhenLearnerIsBehindTheRetainedLog() {
        // The leader booted from a snapshot at 1:5 and only kept the log after 1:4.
        let state = PersistedState(acceptedEpoch: 1, currentEpoch: 1, appliedZxid: Zxid.make(epoch: 1, counter: 5),
                                   log: entries(epoch: 1, 4...8))
        var p = leader(state)
        let r = p.receive(.ackEpoch(session: Zxid.make(epoch: p.status.epoch ?? -1, counter: 1), currentEpoch: 0, history: [0]), from: 2)
        #expect(r.needSnapshot)
        #expect(!r.messages.contains { $0.to == 2 })
        // The shell snapshots its applied state; the learner gets it plus the log after it.
        let r2 = p.snapshotReady(zxid: Zxid.make(epoch: 1, counter: 5), data: [7, 7])
        guard case .snap(_, let z, let data, let es, _) = r2.messages.first?.message else {
            Issue.record("expected SNAP, got \(r2.messages)"); return
        }
        #expect(z == Zxid.make(epoch: 1, counter: 5) && data == [7, 7])
        #expect(es.map(\.zxid) == [Zxid.make(epoch: 1, counter: 6), Zxid.make(epoch: 1, counter: 7), Zxid.make(epoch: 1, counter: 8)])
        #expect(r2.messages.contains { if case .newLeader = $0.message { true } else { false } })
    }

    @Test func learnerAppliesTruncAndRefusesToDropCommitted() {
        let cfg = PeerConfig(myid: 2, participants: [1, 2, 3])
        let state = PersistedState(acceptedEpoch: 2, currentEpoch: 2, appliedZxid: Zxid.make(epoch: 1, counter: 3),
                                   log: entries(epoch: 1, 1...5) + entries(epoch: 2, 1...1))
        func follower() -> QuorumPeer {
            var p = QuorumPeer(config: cfg, persisted: state)
            _ = p.tick()
            let leaderVote = Vote(leader: 1, zxid: Zxid.make(epoch: 3, counter: 0), peerEpoch: 3)
            _ = p.receive(.vote(Notification(vote: leaderVote, electionEpoch: 1, state: .looking)), from: 1)
            _ = p.receive(.vote(Notification(vote: leaderVote, electionEpoch: 1, state: .looking)), from: 3)
            _ = p.tick()
            #expect(p.role == .following)
            let r = p.receive(.leaderInfo(session: Zxid.make(epoch: 4, counter: 1), epoch: 4), from: 1)
            #expect(r.saveEpochs == SavedEpochs(acceptedEpoch: 4, currentEpoch: 2))
            return p
        }
        var p = follower()
        let s = Zxid.make(epoch: 4, counter: 1)
        let r = p.receive(.trunc(session: s, afterZxid: Zxid.make(epoch: 1, counter: 4), entries: entries(epoch: 3, 1...1),
                                 committedZxid: Zxid.make(epoch: 1, counter: 4)), from: 1)
        #expect(r.truncateAfter == Zxid.make(epoch: 1, counter: 4))
        #expect(r.persist == entries(epoch: 3, 1...1))
        #expect(r.commit == entries(epoch: 1, 4...4))
        #expect(p.lastZxid == Zxid.make(epoch: 3, counter: 1))
        // NEWLEADER is acked only after the shell reports the batch durable.
        let r3 = p.receive(.newLeader(session: s, zxid: Zxid.make(epoch: 4, counter: 0)), from: 1)
        #expect(!r3.messages.contains { if case .ackNewLeader = $0.message { true } else { false } })
        let r4 = p.persisted(upTo: r.storageWatermark!)
        #expect(r4.saveEpochs == SavedEpochs(acceptedEpoch: 4, currentEpoch: 4))
        #expect(r4.messages.contains { if case .ackNewLeader = $0.message { true } else { false } })

        // Truncating below the applied zxid would lose committed state: refuse and re-elect.
        var q = follower()
        let bad = q.receive(.trunc(session: s, afterZxid: Zxid.make(epoch: 1, counter: 2), entries: [], committedZxid: 0), from: 1)
        #expect(bad.truncateAfter == nil)
        #expect(q.role == .looking)
    }
}

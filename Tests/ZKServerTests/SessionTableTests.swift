import Testing
@testable import ZKServer

@Suite struct SessionTableTests {
    @Test func idsFollowApachesSchemeAndSkipExistingOnes() {
        let wall: Int64 = 1_764_000_000_000
        let base = ((wall << 24) >> 8) & 0x00ff_ffff_ffff_ffff | (Int64(3) << 56)
        var t = SessionTable(serverByte: 3, wallMillis: wall, existing: [base + 5, (Int64(2) << 56) + 1_000_000_000_000])
        #expect(t.allocateId() == base + 6, "above the highest existing id of the same server byte")
        #expect(t.allocateId() == base + 7)
        var fresh = SessionTable(serverByte: 1, wallMillis: wall, existing: [])
        let id = fresh.allocateId()
        #expect(id >> 56 == 1)
        #expect(id & 0xff == 0, "the low bits count from zero")
    }

    @Test func deadlinesExpireInOrderAndOnlyOnce() {
        var t = SessionTable(serverByte: 1, wallMillis: 0, existing: [])
        t.track(20, timeout: 1000, now: 0)
        t.track(10, timeout: 500, now: 0)
        t.track(30, timeout: 5000, now: 0)
        #expect(t.expire(now: 400).isEmpty)
        let renewed = t.touch(10, timeout: 500, now: 400)
        #expect(renewed)
        let unknown = t.touch(99, timeout: 500, now: 400)
        #expect(!unknown, "an untracked session is not renewed")
        #expect(t.expire(now: 1001) == [20, 10].sorted())
        #expect(t.expire(now: 2000).isEmpty, "closing sessions are not expired twice")
        #expect(t.closing == [10, 20])
        t.abandonClosing(10)
        #expect(t.expire(now: 2000) == [10], "a closeSession given up expires again")
    }

    @Test func attachDetachAndClose() {
        var t = SessionTable(serverByte: 1, wallMillis: 0, existing: [])
        #expect(t.attach(7, to: 1) == nil)
        #expect(t.attach(7, to: 1) == nil, "the same connection again is no move")
        #expect(t.attach(7, to: 2) == 1, "the session moved: the old connection is named")
        t.detach(7, from: 1)
        #expect(t.connectionOf[7] == 2, "a stale connection cannot detach the session")
        t.track(7, timeout: 100, now: 0)
        let first = t.beginClosing(7), second = t.beginClosing(7)
        #expect(first && !second)
        #expect(t.closed(7) == 2)
        #expect(t.connectionOf[7] == nil && t.deadline[7] == nil && !t.closing.contains(7))
    }

    @Test func resetGivesEveryoneAFullTimeout() {
        var t = SessionTable(serverByte: 1, wallMillis: 0, existing: [])
        t.track(1, timeout: 10, now: 0)
        t.resetDeadlines([(2, 1000)], now: 50)
        #expect(t.deadline == [2: 1050])
        t.beginClosing(2)
        t.forgetClosing()
        #expect(t.closing.isEmpty)
    }
}

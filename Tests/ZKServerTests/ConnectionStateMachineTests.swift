import Testing
import ZKProtocol
@testable import ZKServer

/// The per-connection FIFO: replies leave in request order whatever finishes first.
@Suite struct ConnectionStateMachineTests {
    private func connected() -> ConnectionStateMachine {
        var m = ConnectionStateMachine()
        m.sessionProposed()
        m.sessionEstablished()
        return m
    }

    @Test func readOnAnIdleConnectionRunsAtOnce() {
        var m = connected()
        #expect(m.readReceived(xid: 1, request: .ping, received: 10) == .execute(xid: 1, request: .ping, received: 10))
        #expect(m.queuedCount == 0)
    }

    @Test func requestsWaitUntilTheSessionIsCommitted() {
        var m = ConnectionStateMachine()
        m.sessionProposed()
        #expect(m.readReceived(xid: 1, request: .getData(path: "/a", watch: false), received: 1) == .queued)
        #expect(m.answerReceived(xid: 2, err: .noAuth, received: 2) == .queued)
        #expect(m.nextStep() == nil, "nothing runs before the session is established")
        m.sessionEstablished()
        #expect(m.nextStep() == .execute(xid: 1, request: .getData(path: "/a", watch: false), received: 1))
        #expect(m.nextStep() == .reply(xid: 2, err: .noAuth, response: .empty, zxid: nil, closeAfter: false, received: 2))
        #expect(m.nextStep() == nil)
    }

    @Test func aReadBehindAWriteWaitsForTheCommit() {
        var m = connected()
        m.writeReceived(xid: 1, received: 1)
        #expect(m.pendingWrites == 1)
        #expect(m.readReceived(xid: 2, request: .exists(path: "/a", watch: false), received: 2) == .queued)
        m.writeReceived(xid: 3, received: 3)
        #expect(m.nextStep() == nil, "the head is a write still being ordered")
        #expect(m.awaitsWrite(xid: 1))
        #expect(!m.awaitsWrite(xid: 3), "only the head is matched")
        #expect(m.writeCommitted(xid: 3) == nil, "a commit that is not the head changes nothing")
        #expect(m.writeCommitted(xid: 1) == 1)
        #expect(m.nextStep() == .execute(xid: 2, request: .exists(path: "/a", watch: false), received: 2))
        #expect(m.nextStep() == nil, "the second write still waits")
        #expect(m.writeCommitted(xid: 3) == 3)
        #expect(m.pendingWrites == 0)
        #expect(m.queuedCount == 0)
    }

    @Test func syncAnswersInItsTurnWithItsPath() {
        var m = connected()
        m.syncReceived(xid: 5, path: "/s", id: 42, received: 5)
        #expect(m.readReceived(xid: 6, request: .ping, received: 6) == .queued)
        #expect(m.nextStep() == nil)
        let unknown = m.syncCompleted(id: 7), known = m.syncCompleted(id: 42)
        #expect(!unknown, "an unknown sync is refused")
        #expect(known)
        #expect(m.nextStep() == .reply(xid: 5, err: .ok, response: .path("/s"), zxid: nil, closeAfter: false, received: 5))
        #expect(m.nextStep() == .execute(xid: 6, request: .ping, received: 6))
    }

    @Test func closingForgetsEverything() {
        var m = connected()
        m.writeReceived(xid: 1, received: 1)
        _ = m.readReceived(xid: 2, request: .ping, received: 2)
        m.close()
        #expect(m.state == .closing)
        #expect(m.queuedCount == 0 && m.pendingWrites == 0)
        #expect(m.writeCommitted(xid: 1) == nil)
        #expect(m.nextStep() == nil)
        #expect(m.readReceived(xid: 3, request: .ping, received: 3) == .queued, "nothing runs once closing")
    }

    @Test func readyAnswerCarriesCloseAndZxid() {
        var m = connected()
        #expect(m.answerReceived(xid: 9, err: .unimplemented, closeAfter: true, zxid: -1, received: 1)
                == .reply(xid: 9, err: .unimplemented, response: .empty, zxid: -1, closeAfter: true, received: 1))
    }
}

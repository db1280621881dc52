import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import ZKQuorum
@testable import ZKServer

/// Three `QuorumNetwork`s on loopback: delivery, reconnects, hostile input.
@Suite(.serialized) struct QuorumNetworkTests {
    /// Collects what a network delivers; touched only on the loop.
    final class Inbox: @unchecked Sendable {
        var messages: [(Int64, QuorumMessage)] = []
        var lost: [Int64] = []
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func specs(_ n: Int) throws -> [QuorumServerSpec] {
        try (1...n).map { id in
            QuorumServerSpec(id: Int64(id), host: "127.0.0.1", quorumPort: try freePort(), electionPort: try freePort(),
                             role: .participant)
        }
    }

    static func waitFor(_ loop: any EventLoop, timeout: Double = 10, _ pred: @escaping @Sendable () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await loop.submit(pred).get() { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }

    func make(_ id: Int64, _ servers: [QuorumServerSpec], _ loop: any EventLoop) async throws -> (QuorumNetwork, Inbox) {
        var logger = Logger(label: "test.\(id)")
        logger.logLevel = .error
        let net = QuorumNetwork(myid: id, servers: servers, loop: loop, listenOnAllIPs: false, logger: logger)
        let inbox = Inbox()
        try await loop.submit {
            net.onMessage = { from, m in inbox.messages.append((from, m)) }
            net.onConnectionLost = { inbox.lost.append($0) }
        }.get()
        try await net.start()
        return (net, inbox)
    }

    @Test func deliversInOrderAcrossPortsAndReconnects() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let servers = try Self.specs(3)
        let (n1, _) = try await make(1, servers, loop)
        let (n2, in2) = try await make(2, servers, loop)
        // Sent before server 3 exists: queued and delivered once it is up.
        let vote = QuorumMessage.vote(Notification(vote: Vote(leader: 1, zxid: 5, peerEpoch: 1), electionEpoch: 1, state: .looking))
        try await loop.submit { n1.send(vote, to: 3) }.get()
        let (n3, in3) = try await make(3, servers, loop)
        let big = [UInt8]((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0) })
        try await loop.submit {
            for i in 1...100 {
                n1.send(.proposal(session: 7, entry: LogEntry(zxid: Int64(i), payload: [UInt8(i)])), to: 2)
            }
            n1.send(.snap(session: 7, snapshotZxid: 9, snapshot: big, entries: [], committedZxid: 9), to: 2)
        }.get()
        #expect(try await Self.waitFor(loop) { in3.messages.count == 1 && in2.messages.count == 101 })
        try await loop.submit {
            #expect(in3.messages[0].0 == 1 && in3.messages[0].1 == vote)
            for (i, m) in in2.messages.prefix(100).enumerated() {
                #expect(m.0 == 1)
                #expect(m.1 == .proposal(session: 7, entry: LogEntry(zxid: Int64(i + 1), payload: [UInt8(i + 1)])))
            }
            if case .snap(_, _, let data, _, _) = in2.messages[100].1 { #expect(data == big) } else { Issue.record("no snap") }
        }.get()
        // Server 1 goes away: 2 and 3 see their quorum connections to it drop.
        await n1.close()
        #expect(try await Self.waitFor(loop) { in2.lost.contains(1) && in3.lost.contains(1) })
        await n2.close()
        await n3.close()
        try await group.shutdownGracefully()
    }

    @Test func rejectsBadHandshakesAndGarbage() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let servers = try Self.specs(2)
        let (n1, in1) = try await make(1, servers, loop)
        let port = servers[0].quorumPort
        func raw(_ bytes: [UInt8]) async throws -> Bool {
            // Returns true when the server closed the connection.
            let ch = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await ch.writeAndFlush(ByteBuffer(bytes: bytes)).get()
            let closed = try await Self.waitFor(loop, timeout: 5) { !ch.isActive }
            try? await ch.close()
            return closed
        }
        func hello(_ id: Int64, kind: UInt8, magic: [UInt8] = Array("ZKQ1".utf8)) -> [UInt8] {
            var b: [UInt8] = [0, 0, 0, 13] + magic
            withUnsafeBytes(of: id.bigEndian) { b += $0 }
            return b + [kind]
        }
        #expect(try await raw(Array("GET / HTTP/1.1\r\n\r\n".utf8)))          // garbage
        #expect(try await raw([0x7f, 0xff, 0xff, 0xff]))                        // absurd length
        #expect(try await raw(hello(9, kind: 2)))                               // not a member
        #expect(try await raw(hello(1, kind: 2)))                               // claims to be me
        #expect(try await raw(hello(2, kind: 1)))                               // election handshake on quorum port
        #expect(try await raw(hello(2, kind: 2, magic: Array("XXXX".utf8))))    // wrong magic
        #expect(try await raw(hello(2, kind: 2) + [0, 0, 0, 1, 0xee]))          // unknown message type
        // A well-formed peer still gets through.
        let (n2, _) = try await make(2, servers, loop)
        try await loop.submit { n2.send(.ping(session: 1, zxid: 2), to: 1) }.get()
        #expect(try await Self.waitFor(loop) { in1.messages.contains { $0.0 == 2 && $0.1 == .ping(session: 1, zxid: 2) } })
        await n1.close()
        await n2.close()
        try await group.shutdownGracefully()
    }
}

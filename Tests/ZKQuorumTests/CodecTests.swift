import Testing
@testable import ZKQuorum

@Suite struct CodecTests {
    static let samples: [QuorumMessage] = [
        .vote(Notification(vote: Vote(leader: 3, zxid: 0x1_0000_0005, peerEpoch: 1), electionEpoch: 7, state: .looking)),
        .vote(Notification(vote: Vote(leader: -1, zxid: 0, peerEpoch: 0), electionEpoch: 0, state: .observing)),
        .followerInfo(acceptedEpoch: 4, lastZxid: 0x4_0000_0001),
        .leaderInfo(session: 0x5_0000_0001, epoch: 5),
        .ackEpoch(session: 1, currentEpoch: -1, history: [0, 0x1_0000_0003, 0x2_0000_0001]),
        .ackEpoch(session: 1, currentEpoch: 2, history: []),
        .diff(session: 2, entries: [LogEntry(zxid: 1, payload: [1, 2, 3]), LogEntry(zxid: 2, payload: [])], committedZxid: 1),
        .trunc(session: 2, afterZxid: 9, entries: [], committedZxid: 8),
        .snap(session: 2, snapshotZxid: 10, snapshot: Array(repeating: 0xAB, count: 300),
              entries: [LogEntry(zxid: 11, payload: [0])], committedZxid: 10),
        .newLeader(session: 3, zxid: 0x6_0000_0000),
        .ackNewLeader(session: 3, zxid: 0x6_0000_0000),
        .upToDate(session: 3, committedZxid: 77),
        .proposal(session: 3, entry: LogEntry(zxid: 0x6_0000_0001, payload: [9, 9])),
        .ack(session: 3, zxid: 0x6_0000_0001),
        .commit(session: 3, zxid: 0x6_0000_0001),
        .inform(session: 3, entry: LogEntry(zxid: 0x6_0000_0001, payload: [9])),
        .ping(session: 3, zxid: Int64.max),
        .request(session: 3, id: -5, payload: [1]),
        .response(session: 3, id: 6, payload: []),
        .syncRequest(session: 3, id: 8),
        .syncResponse(session: 3, id: 8, zxid: Int64.min),
    ]

    @Test(arguments: samples) func roundTrip(_ m: QuorumMessage) throws {
        #expect(try QuorumCodec.decode(QuorumCodec.encode(m)) == m)
        #expect(try QuorumCodec.decodeFrame(QuorumCodec.frame(m)) == m)
    }

    @Test(arguments: samples) func everyTruncationThrows(_ m: QuorumMessage) {
        let bytes = QuorumCodec.encode(m)
        for n in 0..<bytes.count {
            #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode(Array(bytes[0..<n])) }
        }
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode(bytes + [0]) }
    }

    @Test func malformedInputsThrow() {
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode([]) }
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode([0]) }
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode([200]) }
        // Vote with an unknown role byte.
        var vote = QuorumCodec.encode(Self.samples[0])
        vote[vote.count - 1] = 9
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode(vote) }
        // Negative and absurd lengths.
        let neg: [UInt8] = [16] + Array(repeating: 0, count: 16) + [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode(neg) }
        let huge: [UInt8] = [5] + Array(repeating: 0, count: 8) + [0x7F, 0xFF, 0xFF, 0xFF]
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decode(huge) }
        // Frames whose length disagrees with the body.
        var frame = QuorumCodec.frame(.ack(session: 1, zxid: 2))
        frame[3] &+= 1
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decodeFrame(frame) }
        #expect(throws: QuorumCodecError.self) { try QuorumCodec.decodeFrame([0x80, 0, 0, 0]) }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let n = rng.below(64)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if !b.isEmpty { b[0] = UInt8(1 + rng.below(20)) }  // mostly valid type bytes, to get deeper
            if let m = try? QuorumCodec.decode(b) {
                // Whatever decodes must re-encode to the same bytes.
                #expect(QuorumCodec.encode(m) == b)
            }
        }
    }
}

extension QuorumMessage: CustomTestStringConvertible {
    public var testDescription: String { String(describing: self).prefix(80).description }
}

@Suite struct HostileInputTests {
    /// Random (decodable) messages from random members, thrown at peers in every role: the core
    /// must never trap, whatever a buggy or hostile peer sends.
    @Test func randomMessagesNeverCrashPeers() {
        var rng = SplitMix64(seed: 7)
        func z() -> Int64 {
            switch rng.below(4) {
            case 0: Int64(bitPattern: rng.next())
            case 1: Zxid.make(epoch: Int64(rng.below(4)), counter: Int64(rng.below(6)))
            case 2: [Int64.max, Int64.min, -1, 0][rng.below(4)]
            default: Int64(rng.below(3))
            }
        }
        func es() -> [LogEntry] { (0..<rng.below(3)).map { _ in LogEntry(zxid: z(), payload: [1]) } }
        for round in 0..<40 {
            var c = TestCluster(participants: [1, 2, 3], observers: [4], retained: 2)
            c.run(Int(round % 20))
            _ = c.propose([1])
            for _ in 0..<300 {
                let s = z()
                let m: QuorumMessage = switch rng.below(19) {
                case 0: .vote(Notification(vote: Vote(leader: Int64(rng.below(5)), zxid: z(), peerEpoch: z()), electionEpoch: z(),
                                           state: [QuorumRole.looking, .leading, .following, .observing][rng.below(4)]))
                case 1: .followerInfo(acceptedEpoch: z(), lastZxid: z())
                case 2: .leaderInfo(session: s, epoch: rng.chance(0.5) ? Zxid.epoch(s) : z())
                case 3: .ackEpoch(session: s, currentEpoch: z(), history: (0..<rng.below(3)).map { _ in z() })
                case 4: .diff(session: s, entries: es(), committedZxid: z())
                case 5: .trunc(session: s, afterZxid: z(), entries: es(), committedZxid: z())
                case 6: .snap(session: s, snapshotZxid: z(), snapshot: [], entries: es(), committedZxid: z())
                case 7: .newLeader(session: s, zxid: z())
                case 8: .ackNewLeader(session: s, zxid: z())
                case 9: .upToDate(session: s, committedZxid: z())
                case 10: .proposal(session: s, entry: LogEntry(zxid: z(), payload: []))
                case 11: .ack(session: s, zxid: z())
                case 12: .commit(session: s, zxid: z())
                case 13: .inform(session: s, entry: LogEntry(zxid: z(), payload: []))
                case 14: .ping(session: s, zxid: z())
                case 15: .request(session: s, id: z(), payload: [])
                case 16: .response(session: s, id: z(), payload: [])
                case 17: .syncRequest(session: s, id: z())
                default: .syncResponse(session: s, id: z(), zxid: z())
                }
                let to = Int64(1 + rng.below(4)), from = Int64(rng.below(6))
                let r = c.peers[to]!.receive(m, from: from)
                c.handle(to, r)
                if rng.chance(0.1) { c.round() }
            }
        }
    }
}

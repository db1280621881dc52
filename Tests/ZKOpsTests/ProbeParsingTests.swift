import Foundation
import Testing
@testable import ZKOps
import ZKSSH

@Suite struct ProbeParsing {
    @Test func srvrFromApache() throws {
        let text = """
        Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2022-02-25 00:00 UTC
        Latency min/avg/max: 0/2.0033/22
        Received: 9620
        Sent: 9700
        Connections: 1
        Outstanding: 0
        Zxid: 0x100000002
        Mode: leader
        Node count: 8062
        Proposal sizes last/min/max: 48/48/48

        """
        let s = try #require(SrvrInfo.parse(text))
        #expect(s.version == "3.8.0-${mvngit.commit.id}")
        #expect(s.latencyAvg == 2.0033 && s.latencyMax == 22)
        #expect(s.connections == 1 && s.outstanding == 0)
        #expect(s.zxid == 0x1_0000_0002 && s.epoch == 1)
        #expect(s.mode == "leader" && s.nodeCount == 8062)
        #expect(SrvrInfo.parse("srvr is not executed because it is not in the whitelist.") == nil)
    }

    @Test func mntr() {
        let m = parseMntr("zk_version\t3.8.0\nzk_server_state\tleader\nzk_synced_followers\t2\n")
        #expect(m["zk_server_state"] == "leader")
        #expect(m["zk_synced_followers"] == "2")
    }

    @Test func sha256KnownVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Feeding in odd-sized pieces gives the same digest as one piece.
        let big = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        var s = SHA256()
        var i = 0
        while i < big.count { let n = min(977, big.count - i); s.update(data: big.subdata(in: i..<i + n)); i += n }
        #expect(s.finalizeHex() == SHA256.hex(big))
    }

    @Test func shellQuoting() {
        #expect(shellQuote("/opt/zookeeper/conf") == "/opt/zookeeper/conf")
        #expect(shellQuote("a b") == "'a b'")
        #expect(shellQuote("it's") == "'it'\\''s'")
    }
}

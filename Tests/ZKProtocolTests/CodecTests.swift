import NIOCore
import Testing
@testable import ZKProtocol

private func bytes(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
    var b = ByteBuffer()
    write(&b)
    return b.readBytes(length: b.readableBytes)!
}

private func hex(_ s: String) -> [UInt8] {
    let clean = s.filter { !$0.isWhitespace }
    var out: [UInt8] = []
    var i = clean.startIndex
    while i < clean.endIndex {
        let j = clean.index(i, offsetBy: 2)
        out.append(UInt8(clean[i..<j], radix: 16)!)
        i = j
    }
    return out
}

@Suite struct GoldenBytes {
    @Test func connectRequestWithReadOnlyByte() {
        let c = ConnectRequest(protocolVersion: 0, lastZxidSeen: 0x10, timeout: 30000, sessionId: 0,
                               password: [UInt8](repeating: 0, count: 16), readOnly: false)
        #expect(bytes { c.write(to: &$0) } == hex("""
            00000000 0000000000000010 00007530 0000000000000000
            00000010 00000000000000000000000000000000 00
            """))
    }

    @Test func connectRequestWithoutReadOnlyByteDecodesAsNil() throws {
        let raw = hex("00000000 0000000000000000 00001388 0000000000000000 00000010 00000000000000000000000000000000")
        var r = JuteReader(ByteBuffer(bytes: raw))
        let c = try ConnectRequest.read(&r)
        #expect(c.readOnly == nil)
        #expect(c.timeout == 5000)
        // Answered without the byte too.
        let resp = ConnectResponse(timeout: 5000, sessionId: 1, password: c.password, readOnly: c.readOnly)
        #expect(bytes { resp.write(to: &$0) }.count == 4 + 4 + 8 + 4 + 16)
    }

    @Test func createRequestLayout() {
        let req = ZKRequest.create(CreateRequest(path: "/a", data: [0x68, 0x69], acl: ACL.openUnsafe, flags: 3), .create)
        #expect(bytes { req.write(to: &$0) } == hex("""
            00000002 2f61  00000002 6869
            00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65
            00000003
            """))
    }

    @Test func replyHeaderAndStat() {
        var s = Stat()
        s.czxid = 1; s.mzxid = 2; s.ctime = 3; s.mtime = 4; s.version = 5; s.cversion = 6; s.aversion = 7
        s.ephemeralOwner = 8; s.dataLength = 9; s.numChildren = 10; s.pzxid = 11
        let b = bytes { ReplyHeader(xid: 7, zxid: 0x100000001, err: -101).write(to: &$0); s.write(to: &$0) }
        #expect(Array(b.prefix(16)) == hex("00000007 0000000100000001 ffffff9b"))
        #expect(b.count == 16 + 68)
        var r = JuteReader(ByteBuffer(bytes: Array(b.dropFirst(16))))
        #expect(try! Stat.read(&r) == s)
    }

    @Test func nullStringAndBuffer() {
        #expect(bytes { $0.writeJuteString(nil) } == hex("ffffffff"))
        #expect(bytes { $0.writeJuteBuffer(nil) } == hex("ffffffff"))
        var r = JuteReader(ByteBuffer(bytes: hex("ffffffff")))
        #expect(try! r.readString() == nil)
    }
}

@Suite struct RoundTrips {
    static let requests: [ZKRequest] = [
        .create(CreateRequest(path: "/x", data: [1, 2, 3], acl: ACL.openUnsafe, flags: 0), .create),
        .create(CreateRequest(path: "/x", data: [], acl: ACL.openUnsafe, flags: 0), .create2),
        .create(CreateRequest(path: "/c", data: [], acl: ACL.openUnsafe, flags: 4), .createContainer),
        .create(CreateRequest(path: "/t", data: [9], acl: ACL.openUnsafe, flags: 5, ttl: 1000), .createTTL),
        .delete(path: "/x", version: 3, .delete),
        .exists(path: "/x", watch: true),
        .getData(path: "/x", watch: false),
        .setData(path: "/x", data: [7], version: -1),
        .getACL(path: "/x"),
        .setACL(path: "/x", acl: [ACL(perms: .read, id: Id(scheme: "digest", id: "u:h"))], version: 0),
        .getChildren(path: "/", watch: true, withStat: false),
        .getChildren(path: "/", watch: false, withStat: true),
        .getAllChildrenNumber(path: "/"),
        .getEphemerals(prefix: "/"),
        .sync(path: "/"),
        .check(path: "/x", version: 1),
        .multi([.create(CreateRequest(path: "/m", data: [], acl: ACL.openUnsafe, flags: 0), .create),
                .setData(path: "/m", data: [1], version: 0), .check(path: "/m", version: 1), .delete(path: "/m", version: -1, .delete)]),
        .multiRead([.getData(path: "/a", watch: false), .getChildren(path: "/", watch: false, withStat: false)]),
        .auth(type: 0, scheme: "digest", auth: Array("u:p".utf8)),
        .setWatches(SetWatchesRequest(relativeZxid: 5, dataWatches: ["/a"], existWatches: ["/b"], childWatches: ["/c"]), v2: false),
        .setWatches(SetWatchesRequest(relativeZxid: 5, dataWatches: ["/a"], persistentWatches: ["/p"],
                                      persistentRecursiveWatches: ["/r"]), v2: true),
        .addWatch(path: "/p", mode: 1),
        .removeWatches(path: "/p", type: 3, checkOnly: false),
        .removeWatches(path: "/p", type: 1, checkOnly: true),
        .reconfig(ReconfigRequest(joiningServers: "server.4=h:1:2;3", leavingServers: nil, newMembers: nil, curConfigId: -1)),
    ]

    @Test(arguments: requests)
    func request(_ req: ZKRequest) throws {
        var b = ByteBuffer()
        req.write(to: &b)
        var r = JuteReader(b)
        let back = try ZKRequest.decode(type: req.opcode.rawValue, &r)
        #expect(back == req)
        #expect(r.readableBytes == 0)
    }

    @Test func responses() throws {
        var s = Stat(); s.version = 3
        let cases: [(OpCode, ZKResponse)] = [
            (.create, .path("/a")), (.create2, .pathStat("/a", s)), (.exists, .stat(s)), (.getData, .data([1], s)),
            (.getACL, .acl(ACL.openUnsafe, s)), (.getChildren, .children(["a", "b"])),
            (.getChildren2, .children2(["a"], s)), (.getAllChildrenNumber, .number(4)), (.getEphemerals, .strings(["/e"])),
            (.whoAmI, .whoAmI([Id(scheme: "ip", id: "127.0.0.1")])),
            (.multi, .multi([.create(path: "/a"), .create2(path: "/b", stat: s), .delete, .setData(s), .check, .error(.noNode)])),
            (.multiRead, .multi([.getData(data: [1], stat: s), .getChildren(["x"]), .error(.noAuth)])),
        ]
        for (op, resp) in cases {
            var b = ByteBuffer()
            resp.write(to: &b)
            var r = JuteReader(b)
            #expect(try ZKResponse.decode(for: op, &r) == resp)
        }
    }
}

@Suite struct MalformedInput {
    @Test func truncatedRecordsThrowNotTrap() {
        var full = ByteBuffer()
        ZKRequest.create(CreateRequest(path: "/abc", data: [1, 2, 3], acl: ACL.openUnsafe, flags: 0), .create).write(to: &full)
        let all = full.readBytes(length: full.readableBytes)!
        for cut in 0..<all.count {
            var r = JuteReader(ByteBuffer(bytes: Array(all.prefix(cut))))
            #expect(throws: JuteError.self) { try ZKRequest.decode(type: 1, &r) }
        }
    }

    @Test func hugeOrNegativeLengthsAreRejected() {
        var r = JuteReader(ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff]))
        #expect(throws: JuteError.self) { try r.readBuffer() }
        var r2 = JuteReader(ByteBuffer(bytes: [0xff, 0xff, 0xff, 0xfe]))
        #expect(throws: JuteError.self) { try r2.readString() }
    }

    @Test func unknownOpcodeAndForbiddenMultiOps() {
        var r = JuteReader(ByteBuffer())
        #expect(throws: JuteError.self) { try ZKRequest.decode(type: 999, &r) }
        var b = ByteBuffer()
        ZKRequest.multi([.exists(path: "/", watch: false)]).write(to: &b)
        var r2 = JuteReader(b)
        #expect(throws: JuteError.self) { try ZKRequest.decode(type: OpCode.multi.rawValue, &r2) }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let n = Int.random(in: 0..<64, using: &rng)
            let raw = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let type = Int32.random(in: -12...110, using: &rng)
            var r = JuteReader(ByteBuffer(bytes: raw))
            _ = try? ZKRequest.decode(type: type, &r)
        }
    }
}

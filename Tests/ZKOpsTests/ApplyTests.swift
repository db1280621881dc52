import Foundation
import Testing
@testable import ZKOps

@Suite struct UstarTests {
    @Test func roundTripsMembersIncludingLongNames() throws {
        let long = "opt/" + String(repeating: "d", count: 120) + "/bin/zkserver.zkops-new.0123456789ab"
        let members = [
            Ustar.Member(name: "opt/zookeeper/conf/zoo.cfg", mode: 0o644, data: Data("tickTime=2000\n".utf8), mtime: 1_700_000_000),
            Ustar.Member(name: long, mode: 0o755, data: Data((0..<1500).map { UInt8($0 % 251) }), mtime: 1_700_000_000),
            Ustar.Member(name: "var/lib/zookeeper/myid", mode: 0o644, data: Data(), mtime: 1_700_000_000),
        ]
        let archive = try Ustar.archive(members)
        #expect(archive.count % 512 == 0)
        #expect(try Ustar.members(archive) == members.map { var m = $0; m.mtime = nil; return m })
    }

    @Test func refusesPathsUstarCannotHold() {
        let tooLong = String(repeating: "x", count: 101)
        #expect(throws: Ustar.FormatError.self) { try Ustar.archive([Ustar.Member(name: "opt/" + tooLong, mode: 0o644, data: Data())]) }
    }

    @Test func rejectsADamagedHeader() throws {
        var a = try Ustar.archive([Ustar.Member(name: "a", mode: 0o644, data: Data("x".utf8))])
        a[0] = UInt8(ascii: "b")
        #expect(throws: Ustar.FormatError.self) { try Ustar.members(a) }
    }

    /// The archive GNU tar extracts: same names, modes and bytes.
    @Test func gnuTarExtractsIt() throws {
        let dir = NSTemporaryDirectory() + "ustar-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let data = Data((0..<70_000).map { UInt8($0 % 253) })
        let archive = try Ustar.archive([Ustar.Member(name: "bin/zkserver", mode: 0o755, data: data),
                                         Ustar.Member(name: "conf/zoo.cfg", mode: 0o600, data: Data("a=b\n".utf8))])
        let r = try LocalConnection().exec("tar -xf - -C \(dir)", stdin: archive, timeout: 30)
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(FileManager.default.contents(atPath: dir + "/bin/zkserver") == data)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/bin/zkserver")[.posixPermissions] as? Int
        #expect(mode == 0o755)
    }
}

@Suite struct ApplyScriptTests {
    func script(_ root: String, action: ApplyScript.Action = .none) -> ApplyScript {
        ApplyScript(nonce: "N0NCE", dirs: [root + "/bin", root + "/conf", root + "/run/hashes"],
                    files: [.init(path: root + "/bin/zkserver", mode: 0o755, sha256: String(repeating: "ab", count: 32)),
                            .init(path: root + "/conf/zoo.cfg", mode: 0o644, sha256: nil)],
                    hashCacheDir: root + "/run/hashes", staleDynamicDir: root + "/conf", action: action,
                    launcher: root + "/bin/launcher", restartMarker: root + "/run/restart-pending")
    }

    func archive(_ s: ApplyScript, _ data: [Data]) throws -> Data {
        var out = Data()
        for (f, d) in zip(s.files, data) { out.append(try Ustar.bytes(s.member(f, d, mtime: nil))) }
        out.append(Ustar.end)
        return out
    }

    /// Run by the real shell: files installed with their modes, stale dynamic files gone, the
    /// hash cached, the restart marked, no staged file left.
    @Test func installsEverythingInOneCommand() throws {
        let root = NSTemporaryDirectory() + "apply-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/conf", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/conf/zoo.cfg.dynamic.100000000", contents: Data("old".utf8))
        let s = script(root, action: .markRestart)
        #expect(ApplyScript.decode(command: s.command) == s)
        let r = try LocalConnection().exec(s.command, stdin: try archive(s, [Data("binary".utf8), Data("tickTime=2000\n".utf8)]), timeout: 30)
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(FileManager.default.contents(atPath: root + "/bin/zkserver") == Data("binary".utf8))
        #expect(FileManager.default.contents(atPath: root + "/conf/zoo.cfg") == Data("tickTime=2000\n".utf8))
        #expect(try FileManager.default.attributesOfItem(atPath: root + "/bin/zkserver")[.posixPermissions] as? Int == 0o755)
        #expect(!FileManager.default.fileExists(atPath: root + "/conf/zoo.cfg.dynamic.100000000"))
        #expect(FileManager.default.fileExists(atPath: root + "/run/restart-pending"))
        let key = root + "/run/hashes/" + (root + "/bin/zkserver").replacingOccurrences(of: "/", with: "%")
        let cached = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n")
        #expect(cached.count == 2 && cached[1] == Substring(String(repeating: "ab", count: 32)))
        let left = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.contains(".zkops-new.") }
        #expect(left.isEmpty)
    }

    /// A stream cut short (a dropped connection, a full disk) installs nothing and leaves no
    /// staged file; the old files stay.
    @Test func aTruncatedStreamChangesNothing() throws {
        let root = NSTemporaryDirectory() + "apply-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/bin/zkserver", contents: Data("old".utf8))
        let s = script(root)
        let full = try archive(s, [Data(count: 100_000), Data("tickTime=2000\n".utf8)])
        let r = try LocalConnection().exec(s.command, stdin: full.prefix(50_000), timeout: 30)
        #expect(r.status != 0)
        #expect(r.stderrString.contains("zkops: "))
        #expect(FileManager.default.contents(atPath: root + "/bin/zkserver") == Data("old".utf8))
        #expect(!FileManager.default.fileExists(atPath: root + "/conf/zoo.cfg"))
        let left = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.contains(".zkops-new.") }
        #expect(left.isEmpty)
    }
}

@Suite struct LocalHashCacheTests {
    @Test func reusesAHashOnlyWhileTheFileIsUnchanged() throws {
        let dir = NSTemporaryDirectory() + "hc-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cache = LocalHashCache(environment: ["XDG_CACHE_HOME": dir + "/cache"])
        let file = dir + "/zkserver"
        FileManager.default.createFile(atPath: file, contents: Data("v1".utf8))
        #expect(cache.lookup(file) == nil)
        cache.store(file, hash: String(repeating: "1", count: 64), stamp: LocalHashCache.stamp(file))
        #expect(cache.lookup(file) == String(repeating: "1", count: 64))
        // Rewritten (even to the same size): ctime and mtime move, the entry no longer applies.
        usleep(20_000)
        try Data("v2".utf8).write(to: URL(fileURLWithPath: file))
        #expect(cache.lookup(file) == nil)
        // A stamp taken before a change that happened while hashing is not stored.
        let before = LocalHashCache.stamp(file)
        usleep(20_000)
        try Data("v3".utf8).write(to: URL(fileURLWithPath: file))
        cache.store(file, hash: String(repeating: "2", count: 64), stamp: before)
        #expect(cache.lookup(file) == nil)
    }
}

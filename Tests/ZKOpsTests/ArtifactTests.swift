import Foundation
import Testing
@testable import ZKOps
import ZKSSH

@Suite struct Artifacts {
    /// A fake Apache binary distribution: top folder, lib/ with two jars, bin/ ignored.
    func makeDist() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zkops-dist-\(UUID().uuidString)")
        let top = root.appendingPathComponent("apache-zookeeper-3.8.0-bin")
        try FileManager.default.createDirectory(at: top.appendingPathComponent("lib"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: top.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data("zk".utf8).write(to: top.appendingPathComponent("lib/zookeeper-3.8.0.jar"))
        try Data("jute".utf8).write(to: top.appendingPathComponent("lib/zookeeper-jute-3.8.0.jar"))
        try Data("#!/bin/sh".utf8).write(to: top.appendingPathComponent("bin/zkServer.sh"))
        return root
    }

    func apacheHost(_ dist: String) throws -> HostSpec {
        try inventory("ensemble: {flavor: apache, distribution: \(dist)}\nhosts:\n  - {name: a, address: h, id: 1}").hosts[0]
    }

    @Test func directoryAndTarballGiveTheSameJars() throws {
        let root = try makeDist()
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("apache-zookeeper-3.8.0-bin").path
        let tgz = root.appendingPathComponent("zk.tar.gz").path
        let tar = try LocalConnection().exec("tar -czf \(tgz) -C \(root.path) apache-zookeeper-3.8.0-bin", timeout: 30)
        #expect(tar.status == 0)
        let fromDir = try ArtifactBuilder().artifacts(for: try apacheHost(dir), binary: nil)
        let fromTar = try ArtifactBuilder().artifacts(for: try apacheHost(tgz), binary: nil)
        #expect(fromDir.map(\.remotePath) == ["/opt/zookeeper/lib/zookeeper-3.8.0.jar", "/opt/zookeeper/lib/zookeeper-jute-3.8.0.jar"])
        #expect(fromTar.map(\.remotePath) == fromDir.map(\.remotePath))
        #expect(fromTar.map(\.sha256) == fromDir.map(\.sha256))
        #expect(fromDir[0].sha256 == SHA256.hex(Data("zk".utf8)))
    }

    @Test func notADistributionIsAClearError() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zkops-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: OpsError.self) { try ArtifactBuilder().artifacts(for: try apacheHost(root.path), binary: nil) }
    }

    @Test func swiftFlavorUploadsTheBinaryExecutable() throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("zkserver-\(UUID().uuidString)")
        try Data("bin".utf8).write(to: bin)
        defer { try? FileManager.default.removeItem(at: bin) }
        let host = try inventory(threeHosts).hosts[0]
        let a = try ArtifactBuilder().artifacts(for: host, binary: bin.path)
        #expect(a.count == 1)
        #expect(a[0].remotePath == "/opt/zookeeper/bin/zkserver")
        #expect(a[0].mode == 0o755)
        #expect(a[0].sha256 == SHA256.hex(Data("bin".utf8)))
    }

    @Test func localConnectionRunsAndWritesAtomically() throws {
        let c = LocalConnection()
        let r = try c.exec("echo out; echo err >&2; exit 3", timeout: 10)
        #expect(r.status == 3 && r.stdoutString == "out\n" && r.stderrString == "err\n")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zkops-w-\(UUID().uuidString)").path
        defer { unlink(path) }
        try c.write(Data("x".utf8), to: path, mode: 0o640)
        #expect(FileManager.default.contents(atPath: path) == Data("x".utf8))
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? Int) == 0o640)
    }
}

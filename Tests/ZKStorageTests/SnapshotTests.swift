import Foundation
import Testing
@testable import ZKStorage

@Suite struct SnapshotTests {
    @Test func writeAndReadBack() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let path = try SnapshotStore.write(directory: tmp.path, zxid: 0x2_0000_0005, payload: payload)
        #expect(path == tmp.path + "/snapshot.200000005")
        #expect(listDir(tmp.path) == ["snapshot.200000005"])
        #expect(try SnapshotStore.latestValid(in: tmp.path) == StoredSnapshot(zxid: 0x2_0000_0005, payload: payload))
        #expect(try Dump.snapshotFile(path) == "snapshot \(path): zxid=0x200000005 payload=10000 bytes crc=ok\n")
        #expect(try SnapshotStore.latestValid(in: tmp.sub("none")) == nil)
    }

    @Test func corruptNewestSnapshotFallsBack() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let snaps = tmp.sub("data"), logs = tmp.sub("log")
        try writeLog(logs, zxids: Array(1...30))
        try SnapshotStore.write(directory: snaps, zxid: 10, payload: [10])
        try SnapshotStore.write(directory: snaps, zxid: 20, payload: [20, 20])
        let newest = try SnapshotStore.write(directory: snaps, zxid: 25, payload: [25, 25, 25])
        var b = fileBytes(newest)
        b[25] ^= 0xFF
        setFileBytes(newest, b)
        #expect(try Dump.snapshotFile(newest).contains("INVALID: checksum mismatch"))
        let w = Warnings()
        let state = try Recovery.recover(snapshotDir: snaps, logDir: logs, warn: w.add)
        #expect(state.snapshot == StoredSnapshot(zxid: 20, payload: [20, 20]))
        #expect(state.records.map(\.zxid) == Array(21...30))
        #expect(state.lastZxid == 30)
        #expect(w.all.count == 2)
        #expect(w.all[0].contains(newest))
        #expect(FileManager.default.fileExists(atPath: newest))  // kept for the operator
    }

    @Test func corruptOnlySnapshotIsFatal() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let path = try SnapshotStore.write(directory: tmp.path, zxid: 7, payload: [1, 2, 3, 4])
        var b = fileBytes(path)
        b[b.count - 1] ^= 1  // the checksum itself
        setFileBytes(path, b)
        #expect {
            _ = try Recovery.recover(snapshotDir: tmp.path, logDir: tmp.path)
        } throws: { e in
            let e = e as! StorageError
            return e.kind == .corruptSnapshot && e.file == path && e.offset == Int64(24 + 4)
        }
        // A truncated snapshot is invalid too.
        setFileBytes(path, Array(b.prefix(20)))
        #expect(throws: StorageError.self) { _ = try SnapshotStore.latestValid(in: tmp.path) }
    }

    @Test func leftoverTemporaryFilesAreIgnoredAndRemoved() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try SnapshotStore.write(directory: tmp.path, zxid: 3, payload: [3])
        setFileBytes(tmp.path + "/snapshot.9.tmp", [1, 2, 3])
        let w = Warnings()
        let state = try Recovery.recover(snapshotDir: tmp.path, logDir: tmp.path, warn: w.add)
        #expect(state.snapshot?.zxid == 3)
        #expect(listDir(tmp.path) == ["snapshot.3"])
        #expect(w.all.count == 1)
    }

    @Test func backgroundSnapshotter() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let results = Results()
        let snapper = BackgroundSnapshotter(directory: tmp.path) { results.add($0) }
        let gate = DispatchSemaphore(value: 0)
        #expect(snapper.start(zxid: 1) { gate.wait(); return [1, 1] })
        #expect(!snapper.start(zxid: 2) { [2] })  // busy: skipped
        #expect(snapper.isBusy)
        gate.signal()
        snapper.waitUntilIdle()
        #expect(snapper.start(zxid: 3) { [3, 3, 3] })
        snapper.waitUntilIdle()
        #expect(results.count == 2)
        #expect(try SnapshotStore.snapshotFiles(in: tmp.path).map(\.zxid) == [1, 3])
        #expect(try SnapshotStore.latestValid(in: tmp.path)?.payload == [3, 3, 3])
    }

    @Test func purgeKeepsNewestSnapshotsAndTheLogsTheyNeed() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let snaps = tmp.sub("data"), logs = tmp.sub("log")
        // Log files start at 1, 15, 25, 35, 45.
        var last: Int64 = .min
        for range in [1...14, 15...24, 25...34, 35...44, 45...50] as [ClosedRange<Int64>] {
            try writeLog(logs, zxids: Array(range), preallocate: 0, lastZxid: last)
            last = range.upperBound
        }
        for z in [10, 20, 30, 40, 50] as [Int64] { try SnapshotStore.write(directory: snaps, zxid: z, payload: [UInt8(z)]) }
        #expect(throws: StorageError.self) { _ = try Purge.purge(snapshotDir: snaps, logDir: logs, retain: 2) }
        let deleted = try Purge.purge(snapshotDir: snaps, logDir: logs, retain: 3)
        #expect(Set(deleted) == [snaps + "/snapshot.a", snaps + "/snapshot.14", logs + "/log.1", logs + "/log.f"])
        #expect(listDir(snaps) == ["snapshot.1e", "snapshot.28", "snapshot.32"])
        #expect(listDir(logs) == ["log.19", "log.23", "log.2d"])
        // The oldest kept snapshot can still be replayed to the end.
        let oldest = try SnapshotStore.read(path: snaps + "/snapshot.1e")
        #expect(try TxnLogReader.records(in: logs, after: oldest.zxid).map(\.zxid) == Array(31...50))
        #expect(try Purge.purge(snapshotDir: snaps, logDir: logs, retain: 3).isEmpty)
        #expect(try Purge.purge(snapshotDir: tmp.sub("x"), logDir: tmp.sub("y"), retain: 3).isEmpty)
    }
}

final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<SnapshotStore.SnapshotFile, StorageError>] = []
    func add(_ r: Result<SnapshotStore.SnapshotFile, StorageError>) { lock.lock(); items.append(r); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return items.count }
}

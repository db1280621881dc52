import Foundation
import Testing
@testable import ZKStorage

@Suite struct LogTests {
    @Test func crc32cKnownVector() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        let a = Array("hello, ".utf8), b = Array("world and some longer text".utf8)
        #expect(CRC32C.checksum(b, continuing: CRC32C.checksum(a)) == CRC32C.checksum(a + b))
        // An all-zero record header can never carry a valid checksum.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 12)) != 0)
    }

    @Test func fileNames() {
        #expect(StorageLayout.logFileName(0x1_0000_0001) == "log.100000001")
        #expect(StorageLayout.snapshotFileName(0xab) == "snapshot.ab")
        #expect(StorageLayout.zxid(fromFileName: "log.100000001", prefix: "log.") == 0x1_0000_0001)
        #expect(StorageLayout.zxid(fromFileName: "log.1.tmp", prefix: "log.") == nil)
        #expect(StorageLayout.zxid(fromFileName: "snapshot.ab.tmp", prefix: "snapshot.") == nil)
        #expect(StorageLayout.versionDirectory("/data/") == "/data/version-2")
    }

    @Test func roundTrip() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.sub("version-2")
        let zxids = (1...100).map { Int64(1) << 32 | Int64($0) }
        try writeLog(dir, zxids: zxids, flushEach: false)
        #expect(listDir(dir) == ["log.100000001"])
        let recs = try TxnLogReader.records(in: dir)
        #expect(recs.map(\.zxid) == zxids)
        #expect(recs.allSatisfy { $0.payload == payloadFor($0.zxid) })
        #expect(try TxnLogReader.records(in: dir, after: zxids[49]).map(\.zxid) == Array(zxids[50...]))
        #expect(try TxnLog.lastZxid(in: dir) == zxids.last)
        // Empty payloads are fine.
        let dir2 = tmp.sub("empty")
        try writeLog(dir2, zxids: [1, 2, 3], size: 0)
        #expect(try TxnLogReader.records(in: dir2).map(\.payload) == [[], [], []])
        // A missing directory is an empty log.
        #expect(try TxnLogReader.records(in: tmp.sub("missing")).isEmpty)
    }

    @Test func rolloverToNewFiles() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.path
        // Each record is 56 bytes; flushing after each makes one batch per record.
        try writeLog(dir, zxids: Array(1...200), preallocate: 4096, roll: 1024, flushEach: true)
        let files = try TxnLogReader.logFiles(in: dir)
        #expect(files.count > 5)
        #expect(files.first?.firstZxid == 1)
        for f in files {
            let recs = try TxnLogReader.records(in: dir, after: f.firstZxid - 1)
            #expect(recs.first?.zxid == f.firstZxid)
            // Files roll once they pass rollBytes: none exceeds it by more than one batch.
            let scan = try LogScanner.scan(path: f.path, nameZxid: f.firstZxid, after: .max, collect: false)
            #expect(scan.validEnd <= 1024 + 56)
        }
        #expect(try TxnLogReader.records(in: dir).map(\.zxid) == Array(1...200))
        #expect(try TxnLogReader.records(in: dir, after: 150).map(\.zxid) == Array(151...200))
        // A restart continues in a new file named for its first zxid.
        try writeLog(dir, zxids: [201, 202], lastZxid: 200)
        #expect(FileManager.default.fileExists(atPath: dir + "/log.c9"))
        #expect(try TxnLogReader.records(in: dir, after: 190).map(\.zxid) == Array(191...202))
    }

    @Test func preallocatedZeroTailIsEndOfLog() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try writeLog(tmp.path, zxids: Array(1...10), preallocate: 1 << 20)
        let path = tmp.path + "/log.1"
        #expect(try FS.fileSize(path) >= 1 << 20)
        let w = Warnings()
        let state = try Recovery.recover(snapshotDir: tmp.path, logDir: tmp.path, warn: w.add)
        #expect(state.records.map(\.zxid) == Array(1...10))
        #expect(w.all.isEmpty)
        #expect(try FS.fileSize(path) >= 1 << 20)  // a clean zero tail is not touched
        let dump = try Dump.logFile(path)
        #expect(dump.contains("zxid=0xa offset=\(recordOffset(9)) len=40 crc=ok"))
        #expect(dump.contains("zero tail (preallocated)"))
        #expect(dump.contains("records: 10 ok, 0 damaged"))
    }

    /// Damage to the last record of the last file, followed only by zeros or EOF, is a torn
    /// write: recovery cuts it off and keeps the valid prefix.
    @Test(arguments: ["cutInHeader", "cutInPayload", "cutAfterLength", "flippedPayloadByte",
                      "zeroedPayloadTail", "garbageHeaderInTail", "truncatedNoPrealloc"])
    func tornTailIsTruncated(_ kind: String) throws {
        let tmp = TempDir(kind); defer { tmp.cleanup() }
        let dir = tmp.path
        let prealloc = kind == "truncatedNoPrealloc" ? 0 : 8192
        try writeLog(dir, zxids: Array(1...20), preallocate: prealloc)
        let path = dir + "/log.1"
        var b = fileBytes(path)
        let last = recordOffset(19), end = recordOffset(20)
        switch kind {
        case "cutInHeader": b = Array(b[..<(last + 5)])
        case "cutInPayload": b = Array(b[..<(last + 30)])
        case "cutAfterLength": for i in (last + 8)..<b.count { b[i] = 0 }
        case "flippedPayloadByte": b[last + 30] ^= 0x40
        case "zeroedPayloadTail": for i in (last + 40)..<end { b[i] = 0 }
        case "garbageHeaderInTail": b[end + 3] = 0x7F  // a partial header after the last good record
        case "truncatedNoPrealloc": b = Array(b[..<(end - 1)])
        default: Issue.record("unknown case")
        }
        setFileBytes(path, b)
        let cut = kind == "garbageHeaderInTail" ? end : last
        let keep: [Int64] = kind == "garbageHeaderInTail" ? Array(1...20) : Array(1...19)

        // A read-only scan stops at the damage and changes nothing.
        let w0 = Warnings()
        #expect(try TxnLogReader.records(in: dir, warn: w0.add).map(\.zxid) == keep)
        #expect(w0.all.count == 1)
        #expect(fileBytes(path) == b)

        let w = Warnings()
        let state = try Recovery.recover(snapshotDir: dir, logDir: dir, warn: w.add)
        #expect(state.records.map(\.zxid) == keep)
        #expect(w.all.count == 1)
        #expect(w.all.first?.contains("torn tail at offset \(cut)") == true)
        #expect(try FS.fileSize(path) == Int64(cut))

        // The writer continues after the recovered tail in a new file.
        let next = keep.last! + 1
        try writeLog(dir, zxids: [next, next + 1], lastZxid: keep.last!)
        let again = try Recovery.recover(snapshotDir: dir, logDir: dir, warn: { Issue.record("unexpected warning: \($0)") })
        #expect(again.records.map(\.zxid) == keep + [next, next + 1])
    }

    @Test func flippedByteInTheMiddleIsFatalAndDeletesNothing() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.path
        try writeLog(dir, zxids: Array(1...50))
        let path = dir + "/log.1"
        var b = fileBytes(path)
        b[recordOffset(9) + 20] ^= 0x01  // payload of zxid 10
        setFileBytes(path, b)
        for damage in ["payload", "length"] {
            if damage == "length" {
                b = fileBytes(path)
                b[recordOffset(9) + 20] ^= 0x01
                b[recordOffset(9) + 6] ^= 0x10  // length field of zxid 10
                setFileBytes(path, b)
            }
            do {
                _ = try Recovery.recover(snapshotDir: dir, logDir: dir)
                Issue.record("expected a fatal error for damaged \(damage)")
            } catch let e as StorageError {
                #expect(e.kind == .corruptLog)
                #expect(e.file == path)
                #expect(e.offset == Int64(recordOffset(9)))
                #expect(e.description.contains(path))
            }
            #expect(fileBytes(path) == b)
            #expect(listDir(dir) == ["log.1"])
        }
    }

    @Test func validRecordAfterAZeroedRegionMakesDamageFatal() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.path
        try writeLog(dir, zxids: Array(0...19), preallocate: 1 << 20)
        let path = dir + "/log.0"
        var b = fileBytes(path)
        b[recordOffset(10)] ^= 0x80  // checksum of zxid 10
        for i in recordOffset(11)..<recordOffset(15) { b[i] = 0 }  // 11...14 lost, 15...19 intact
        setFileBytes(path, b)
        #expect {
            _ = try Recovery.recover(snapshotDir: dir, logDir: dir)
        } throws: { e in
            let e = e as! StorageError
            return e.kind == .corruptLog && e.offset == Int64(recordOffset(10))
                && e.message.contains("valid record follows at offset \(recordOffset(15))")
        }
        #expect(fileBytes(path) == b)
        // Without the intact records it is a torn tail, even with a zxid-0 file and a long zero tail.
        for i in recordOffset(15)..<recordOffset(20) { b[i] = 0 }
        setFileBytes(path, b)
        let state = try Recovery.recover(snapshotDir: dir, logDir: dir)
        #expect(state.records.map(\.zxid) == Array(0...9))
    }

    @Test func damagedTailOfAnEarlierFileIsFatal() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.path
        try writeLog(dir, zxids: Array(1...10), preallocate: 0)
        try writeLog(dir, zxids: Array(11...20), preallocate: 0, lastZxid: 10)
        let path = dir + "/log.1"
        var b = fileBytes(path)
        b[recordOffset(9) + 20] ^= 0xFF  // last record of the first file
        setFileBytes(path, b)
        #expect {
            _ = try Recovery.recover(snapshotDir: dir, logDir: dir)
        } throws: { e in
            let e = e as! StorageError
            return e.kind == .corruptLog && e.file == path && e.offset == Int64(recordOffset(9))
        }
        #expect(fileBytes(path) == b)
        #expect(listDir(dir) == ["log.1", "log.b"])
    }

    @Test func truncateAfterZxid() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.path
        try writeLog(dir, zxids: Array(1...100), preallocate: 2048, roll: 1024, flushEach: true)
        let before = try TxnLogReader.logFiles(in: dir)
        let deleted = try TxnLog.truncate(logDir: dir, after: 42)
        #expect(!deleted.isEmpty)
        #expect(deleted.allSatisfy { path in before.contains { $0.path == path && $0.firstZxid > 42 } })
        #expect(try TxnLogReader.records(in: dir).map(\.zxid) == Array(1...42))
        #expect(try TxnLog.lastZxid(in: dir) == 42)
        try writeLog(dir, zxids: Array(43...60), lastZxid: 42)
        #expect(try TxnLogReader.records(in: dir).map(\.zxid) == Array(1...60))
        try TxnLog.truncate(logDir: dir, after: 0)
        #expect(try TxnLogReader.records(in: dir).isEmpty)
    }

    @Test func writerReusesARecordlessFileAndRefusesOneWithRecords() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let dir = tmp.path
        try writeLog(dir, zxids: Array(1...5))
        // A header-only file left by a crash right after a roll.
        setFileBytes(dir + "/log.6", LogFormat.fileHeader + [UInt8](repeating: 0, count: 100))
        let state = try Recovery.recover(snapshotDir: dir, logDir: dir)
        #expect(state.records.count == 5)
        #expect(listDir(dir) == ["log.1"])  // recovery removed the empty trailing file
        setFileBytes(dir + "/log.6", LogFormat.fileHeader)
        try writeLog(dir, zxids: [6, 7], lastZxid: 5)
        #expect(try TxnLogReader.records(in: dir).map(\.zxid) == Array(1...7))

        let failed = Warnings()
        let w = try TxnLogWriter(directory: dir, forceSync: false, preallocateBytes: 0, lastZxid: .min,
                                 onDurable: { _ in }, onFailure: { failed.add($0.description) })
        w.append(zxid: 1, payload: [1])  // log.1 exists and holds records
        #expect(throws: StorageError.self) { try w.flushAndWait() }
        #expect(w.failureError?.kind == .invalidArgument)
        w.close()
        #expect(failed.all.count == 1)
        #expect(try TxnLogReader.records(in: dir).map(\.zxid) == Array(1...7))
    }

    @Test func dumpShowsDamage() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try writeLog(tmp.path, zxids: [1, 2, 3])
        let path = tmp.path + "/log.1"
        var b = fileBytes(path)
        b[recordOffset(1) + 17] ^= 1
        setFileBytes(path, b)
        let text = try Dump.logFile(path) { "payload of \($0.zxid)" }
        #expect(text.contains("zxid=0x1 offset=16 len=40 crc=ok payload of 1"))
        #expect(text.contains("zxid=0x2 offset=\(recordOffset(1)) len=40 crc=BAD <damaged>"))
        #expect(text.contains("zxid=0x3 offset=\(recordOffset(2)) len=40 crc=ok payload of 3"))
        #expect(text.contains("records: 2 ok, 1 damaged"))
    }

    /// Group commit: 4 threads append 20,000 records; durability callbacks arrive in order,
    /// cover everything, and fsyncs are far fewer than records.
    @Test func groupCommitFromFourThreads() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let durable = DurableLog()
        let writer = try TxnLogWriter(directory: tmp.path, forceSync: true, preallocateBytes: 4 << 20,
                                      rollBytes: 64 << 20, onDurable: durable.add)
        let total = 20_000, threads = 4
        let lock = NSLock()
        nonisolated(unsafe) var next: Int64 = 0
        let payloads = (0...total).map { payloadFor(Int64($0), size: 64) }
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<(total / threads) {
                // The server serializes a txn, then assigns its zxid and appends in one pipeline;
                // the lock models that pipeline.
                lock.lock()
                next += 1
                writer.append(zxid: next, payload: payloads[Int(next)])
                lock.unlock()
            }
        }
        try writer.flushAndWait()
        let stats = writer.stats
        writer.close()
        let calls = durable.values
        #expect(calls.last == Int64(total))
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $0 < $1 })
        #expect(stats.records == total)
        #expect(stats.fsyncs == stats.batches)
        #expect(stats.fsyncs < total / 4, "fsyncs \(stats.fsyncs), batches \(stats.batches)")
        print("group commit test: \(stats.fsyncs) fsyncs for \(total) records, max batch \(stats.maxBatchRecords)")
        #expect(calls.count == stats.batches)
        let recs = try TxnLogReader.records(in: tmp.path)
        #expect(recs.map(\.zxid) == (1...Int64(total)).map { $0 })
        #expect(recs.allSatisfy { $0.payload == payloadFor($0.zxid, size: 64) })
    }

    @Test func writerFindsTheLastZxidAndCanBeClosedFromItsCallback() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        try writeLog(tmp.path, zxids: Array(1...5))
        let holder = WriterHolder()
        let w = try TxnLogWriter(directory: tmp.path, forceSync: false, onDurable: { _ in holder.writer?.close() })
        holder.writer = w
        #expect(w.lastAppendedZxid == 5)
        #expect(w.durableZxid == 5)
        w.append(zxid: 6, payload: [6])
        w.close()  // the callback's close did not deadlock the writer thread
        #expect(try TxnLogReader.records(in: tmp.path).map(\.zxid) == Array(1...6))
        // Missing directories recover to an empty state.
        let state = try Recovery.recover(snapshotDir: tmp.sub("a"), logDir: tmp.sub("b"))
        #expect(state.snapshot == nil && state.records.isEmpty && state.lastZxid == nil)
    }

    @Test func benchmarkSmoke() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let report = StorageBenchmark.run(directory: tmp.path, records: 200, threads: 4, payloadBytes: 32)
        #expect(report.contains("durable appends/s"))
        #expect(!report.contains("error"))
        #expect(listDir(tmp.path).isEmpty)
    }

    @Test func waitsReportClosedWriter() throws {
        let tmp = TempDir(); defer { tmp.cleanup() }
        let w = try TxnLogWriter(directory: tmp.path, forceSync: false, onDurable: { _ in })
        w.append(zxid: 5, payload: [1, 2])
        w.close()
        #expect(w.durableZxid == 5)  // close drains the queue
        w.append(zxid: 6, payload: [3])  // dropped
        #expect(throws: StorageError.self) { try w.waitUntilDurable(7) }
        #expect(try TxnLogReader.records(in: tmp.path).map(\.zxid) == [5])
    }
}

final class WriterHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var value: TxnLogWriter?
    var writer: TxnLogWriter? {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }
}

final class DurableLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int64] = []
    func add(_ z: Int64) { lock.lock(); items.append(z); lock.unlock() }
    var values: [Int64] { lock.lock(); defer { lock.unlock() }; return items }
}

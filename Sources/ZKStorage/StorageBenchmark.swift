import Foundation

/// Measures durable appends per second, for a CLI command and for sizing.
public enum StorageBenchmark {
    /// Runs three scenarios with `fdatasync` on, each in a fresh subdirectory of `directory`
    /// (removed afterwards), and returns a text report:
    ///
    /// 1. one fsync per record: one thread appends and waits for durability each time;
    ///    capped at 2,000 records because it is slow by design;
    /// 2. group commit with `threads` synchronous clients: each thread appends and waits for its own
    ///    record to be durable before the next (how ZooKeeper clients behave);
    /// 3. group commit, pipelined: `threads` threads append without waiting, then one flush.
    public static func run(directory: String, records: Int = 20_000, threads: Int = 8, payloadBytes: Int = 128) -> String {
        let records = max(records, 1), threads = max(threads, 1)
        var out = "ZKStorage benchmark: payload \(payloadBytes) B, fdatasync on, directory \(directory)\n"
        let payload = [UInt8](repeating: 0xAB, count: payloadBytes)
        let single = min(records, 2_000)
        let scenarios: [(String, Int, Int, Bool)] = [
            ("one fsync per record, 1 thread waiting each time", single, 1, true),
            ("group commit, \(threads) threads each waiting for its record", records, threads, true),
            ("group commit, \(threads) threads pipelined (no waits)", records, threads, false),
        ]
        for (i, (name, count, nThreads, waitEach)) in scenarios.enumerated() {
            let dir = directory + "/zkstorage-bench-\(getpid())-\(i)"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            do {
                let r = try measure(dir: dir, records: count, threads: nThreads, waitEach: waitEach, payload: payload)
                let rate = Double(count) / r.seconds
                let s = r.stats
                let avgSync = s.fsyncs > 0 ? Double(s.fsyncNanos) / Double(s.fsyncs) / 1e6 : 0
                out += String(format: "%@:\n  %d records in %.3f s = %.0f durable appends/s; %d fsyncs (avg %.2f ms, max %.2f ms), avg batch %.1f records, max batch %d\n",
                              name, count, r.seconds, rate, s.fsyncs, avgSync, Double(s.maxFsyncNanos) / 1e6,
                              Double(s.records) / Double(max(s.batches, 1)), s.maxBatchRecords)
            } catch {
                out += "\(name): error: \(error)\n"
            }
        }
        return out
    }

    private final class Sequencer: @unchecked Sendable {
        let lock = NSLock()
        var next: Int64 = 0
        let writer: TxnLogWriter
        let payload: [UInt8]
        init(writer: TxnLogWriter, payload: [UInt8]) {
            self.writer = writer
            self.payload = payload
        }
        /// Assigns the next zxid and appends under one lock, as the server's single pipeline does.
        func appendNext() -> Int64 {
            lock.lock()
            defer { lock.unlock() }
            next += 1
            writer.append(zxid: next, payload: payload)
            return next
        }
    }

    private static func measure(dir: String, records: Int, threads: Int, waitEach: Bool,
                                payload: [UInt8]) throws -> (seconds: Double, stats: TxnLogWriter.Stats) {
        let writer = try TxnLogWriter(directory: dir, forceSync: true, onDurable: { _ in })
        defer { writer.close() }
        let seq = Sequencer(writer: writer, payload: payload)
        let group = DispatchGroup()
        let t0 = DispatchTime.now().uptimeNanoseconds
        for t in 0..<threads {
            let share = records / threads + (t < records % threads ? 1 : 0)
            group.enter()
            let thread = Thread {
                for _ in 0..<share {
                    let z = seq.appendNext()
                    if waitEach { try? seq.writer.waitUntilDurable(z) }
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        try writer.flushAndWait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return (seconds, writer.stats)
    }
}

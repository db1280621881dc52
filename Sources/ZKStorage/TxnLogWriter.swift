#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A mutex with two condition variables (Foundation's `NSCondition` has only one, and waking
/// every durability waiter on each append would cost a syscall per record).
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let writerWake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let durableChanged = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(writerWake, nil)
        pthread_cond_init(durableChanged, nil)
    }
    deinit {
        pthread_cond_destroy(writerWake); pthread_cond_destroy(durableChanged); pthread_mutex_destroy(mutex)
        writerWake.deallocate(); durableChanged.deallocate(); mutex.deallocate()
    }
    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }
    func wait(_ c: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_wait(c, mutex) }
    func signal(_ c: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_signal(c) }
    func broadcast(_ c: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_broadcast(c) }
}

/// The transaction log writer: group commit on a dedicated thread.
///
/// `append` encodes the record into a shared buffer under a short lock and returns. The writer
/// thread takes everything queued, writes it with one `pwrite` into the current log file, issues
/// ONE `fdatasync` for the whole batch, and then calls `onDurable` with the highest zxid of the
/// batch. While it waits for the disk, new appends queue up for the next batch, so under
/// concurrent load the number of fsyncs grows with time, not with records.
///
/// Files are named `log.<hex first zxid>`, preallocated in `preallocateBytes` chunks (so the
/// per-batch `fdatasync` does not have to journal a size change), and a new file is started
/// when the current one has reached `rollBytes`. The first append after opening always starts a
/// new file, like Apache does on restart; run `Recovery` (which cuts a torn tail) first.
///
/// A write or sync failure is fatal for the writer: it stops, reports through `onFailure`,
/// drops later appends, and durability waits throw. (Retrying an fsync after an error is not
/// safe: the kernel may have dropped the dirty pages.)
///
/// Call `close()` before dropping the writer; the thread keeps the object alive until then.
public final class TxnLogWriter: @unchecked Sendable {
    /// Counters for metrics and benchmarks.
    public struct Stats: Sendable, Equatable {
        /// Batches written (one `pwrite` of everything queued, plus one fsync when `forceSync`).
        public var batches = 0
        /// Records written.
        public var records = 0
        /// Bytes written, including record and file headers.
        public var bytes = 0
        /// `fdatasync` calls made for batches.
        public var fsyncs = 0
        /// Total time spent in those `fdatasync` calls, in nanoseconds.
        public var fsyncNanos: UInt64 = 0
        /// The slowest single `fdatasync`, in nanoseconds.
        public var maxFsyncNanos: UInt64 = 0
        /// The largest batch, in records.
        public var maxBatchRecords = 0
        /// Log files created.
        public var filesCreated = 0

        public init() {}
    }

    /// The log directory (the `version-2` directory).
    public let directory: String
    /// Whether batches are `fdatasync`ed (Apache's `forceSync`).
    public let forceSync: Bool
    private let preallocateBytes: Int64
    private let rollBytes: Int64
    private let onDurable: @Sendable (Int64) -> Void
    private let onFailure: (@Sendable (StorageError) -> Void)?

    private let monitor = Monitor()
    // Guarded by `monitor`.
    private var pending: [UInt8] = []
    private var pendingCount = 0
    private var pendingFirstZxid: Int64 = 0
    private var lastAppended: Int64
    private var durable: Int64
    private var closing = false
    private var exited = false
    private var writerIdle = false
    private var failure: StorageError?
    private var statsValue = Stats()
    private var writerThread: pthread_t?
    // Owned by the writer thread.
    private var writing: [UInt8] = []
    private var fd: Int32 = -1
    private var filePath = ""
    private var fileEnd: Int64 = 0
    private var allocated: Int64 = 0

    /// Opens a writer on `directory` (created if missing) and starts its thread.
    ///
    /// - Parameters:
    ///   - forceSync: `fdatasync` each batch; `false` is Apache's `forceSync=no` (unsafe on power loss).
    ///   - preallocateBytes: grow log files in chunks of this size (0 disables preallocation).
    ///   - rollBytes: start a new file once the current one holds this many bytes.
    ///   - lastZxid: the last zxid already in the log (from recovery); appends must exceed it.
    ///     nil reads it from the newest log files in `directory`.
    ///   - onDurable: called on the writer thread, in order, with the highest zxid of each durable
    ///     batch. Keep it short: the next batch waits for it.
    ///   - onFailure: called once on the writer thread if a write or sync fails.
    public init(directory: String, forceSync: Bool = true, preallocateBytes: Int = 64 << 20,
                rollBytes: Int = 64 << 20, lastZxid: Int64? = nil,
                onDurable: @escaping @Sendable (Int64) -> Void,
                onFailure: (@Sendable (StorageError) -> Void)? = nil) throws {
        guard preallocateBytes >= 0, rollBytes > 0 else {
            throw StorageError(.invalidArgument, "preallocateBytes must be >= 0 and rollBytes > 0")
        }
        self.directory = directory
        self.forceSync = forceSync
        self.preallocateBytes = Int64(preallocateBytes)
        self.rollBytes = Int64(rollBytes)
        self.onDurable = onDurable
        self.onFailure = onFailure
        try FS.makeDirectories(directory)
        let last = try lastZxid ?? TxnLog.lastZxid(in: directory) ?? .min
        self.lastAppended = last
        self.durable = last
        pending.reserveCapacity(64 << 10)
        writing.reserveCapacity(64 << 10)
        let thread = Thread { [self] in self.run() }
        thread.name = "zk-txnlog-writer"
        thread.start()
    }

    /// Queues a record. Thread-safe and cheap: the CRC is computed outside the lock, the bytes are
    /// copied into the shared batch buffer, and the writer is woken only if it sleeps.
    ///
    /// zxids must be strictly increasing across all callers (a violation is a programming error
    /// and traps). After `close()` or a failure the record is dropped; waits report why.
    public func append(zxid: Int64, payload: [UInt8]) {
        precondition(payload.count <= Int(UInt32.max), "log record too large")
        let crc = payload.withUnsafeBytes { LogFormat.recordChecksum(zxid: zxid, payload: $0) }
        let z = UInt64(bitPattern: zxid)
        // The record header as four contiguous big-endian UInt32s: crc, length, zxid.
        let header: (UInt32, UInt32, UInt32, UInt32) = (crc.bigEndian, UInt32(payload.count).bigEndian,
                                                        UInt32(truncatingIfNeeded: z >> 32).bigEndian,
                                                        UInt32(truncatingIfNeeded: z).bigEndian)
        monitor.lock()
        defer { monitor.unlock() }
        guard !closing, failure == nil else { return }
        precondition(zxid > lastAppended,
                     "txn log zxids must increase: 0x\(StorageLayout.hex(zxid)) after 0x\(StorageLayout.hex(lastAppended))")
        if pendingCount == 0 { pendingFirstZxid = zxid }
        withUnsafeBytes(of: header) { pending.append(contentsOf: $0) }
        pending.append(contentsOf: payload)
        pendingCount += 1
        lastAppended = zxid
        if writerIdle {
            writerIdle = false
            monitor.signal(monitor.writerWake)
        }
    }

    /// Blocks until every record appended so far is durable (written, and synced if `forceSync`).
    /// Throws the writer's failure, or `.closed` if the writer stopped first.
    public func flushAndWait() throws {
        monitor.lock()
        let target = lastAppended
        monitor.unlock()
        try waitUntilDurable(target)
    }

    /// Blocks until the record with `zxid` (already appended) is durable.
    public func waitUntilDurable(_ zxid: Int64) throws {
        monitor.lock()
        defer { monitor.unlock() }
        while durable < zxid {
            if let failure { throw failure }
            if closing && zxid > lastAppended || exited {
                throw StorageError(.closed, "log writer closed before zxid 0x\(StorageLayout.hex(zxid)) was durable")
            }
            guard zxid <= lastAppended else {
                throw StorageError(.invalidArgument, "zxid 0x\(StorageLayout.hex(zxid)) was never appended")
            }
            monitor.wait(monitor.durableChanged)
        }
    }

    /// The highest zxid known durable.
    public var durableZxid: Int64 {
        monitor.lock(); defer { monitor.unlock() }
        return durable
    }

    /// The highest zxid appended (durable or not).
    public var lastAppendedZxid: Int64 {
        monitor.lock(); defer { monitor.unlock() }
        return lastAppended
    }

    /// The writer's failure, if it has failed.
    public var failureError: StorageError? {
        monitor.lock(); defer { monitor.unlock() }
        return failure
    }

    /// A copy of the counters.
    public var stats: Stats {
        monitor.lock(); defer { monitor.unlock() }
        return statsValue
    }

    /// Writes out everything queued, stops the thread and closes the file. Idempotent.
    /// Called from `onDurable` (on the writer thread) it only requests the stop and returns.
    public func close() {
        monitor.lock()
        closing = true
        if writerIdle {
            writerIdle = false
            monitor.signal(monitor.writerWake)
        }
        if let writerThread, pthread_equal(writerThread, pthread_self()) != 0 {
            monitor.unlock()
            return
        }
        while !exited { monitor.wait(monitor.durableChanged) }
        monitor.unlock()
    }

    // MARK: - Writer thread

    private func run() {
        monitor.lock()
        writerThread = pthread_self()
        monitor.unlock()
        while true {
            monitor.lock()
            while pendingCount == 0 && !closing {
                writerIdle = true
                monitor.wait(monitor.writerWake)
            }
            writerIdle = false
            if pendingCount == 0 {  // closing and drained
                monitor.unlock()
                break
            }
            swap(&pending, &writing)
            let first = pendingFirstZxid
            let last = lastAppended
            let count = pendingCount
            pendingCount = 0
            monitor.unlock()

            do {
                let syncNanos = try writeBatch(firstZxid: first)
                monitor.lock()
                durable = last
                statsValue.batches += 1
                statsValue.records += count
                statsValue.bytes += writing.count
                statsValue.maxBatchRecords = max(statsValue.maxBatchRecords, count)
                if let syncNanos {
                    statsValue.fsyncs += 1
                    statsValue.fsyncNanos += syncNanos
                    statsValue.maxFsyncNanos = max(statsValue.maxFsyncNanos, syncNanos)
                }
                monitor.broadcast(monitor.durableChanged)
                monitor.unlock()
                // Keep the buffer's capacity for the next batch, unless a burst made it huge.
                writing.removeAll(keepingCapacity: writing.capacity <= 16 << 20)
                onDurable(last)
            } catch {
                let e = error as? StorageError ?? StorageError(.io, "\(error)", file: filePath)
                monitor.lock()
                failure = e
                pending.removeAll()
                pendingCount = 0
                monitor.broadcast(monitor.durableChanged)
                monitor.unlock()
                onFailure?(e)
                break
            }
        }
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
        monitor.lock()
        exited = true
        monitor.broadcast(monitor.durableChanged)
        monitor.unlock()
    }

    /// Writes `writing` to the log; returns the fdatasync duration if one was done.
    private func writeBatch(firstZxid: Int64) throws -> UInt64? {
        if fd < 0 || fileEnd >= rollBytes { try openFile(firstZxid: firstZxid) }
        let end = fileEnd + Int64(writing.count)
        if preallocateBytes > 0 && end > allocated {
            // Grow by whole chunks past the end of this batch. Failure only loses the optimisation.
            let target = (end / preallocateBytes + 1) * preallocateBytes
            if posix_fallocate(fd, off_t(allocated), off_t(target - allocated)) == 0 { allocated = target }
        }
        try writing.withUnsafeBytes { try FS.pwriteAll(fd, $0, at: fileEnd, path: filePath) }
        fileEnd = end
        guard forceSync else { return nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        try FS.fsyncFile(fd, path: filePath, dataOnly: true)
        return DispatchTime.now().uptimeNanoseconds - t0
    }

    private func openFile(firstZxid: Int64) throws {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
        let path = directory + "/" + StorageLayout.logFileName(firstZxid)
        filePath = path
        var newFd: Int32
        do {
            newFd = try FS.open(path, O_WRONLY | O_CREAT | O_EXCL)
        } catch let e as StorageError where e.errno == EEXIST {
            // A file left by a crash before its first record reached the disk may be reused.
            let scan = try LogScanner.scan(path: path, nameZxid: firstZxid, after: .max, collect: false)
            guard scan.recordCount == 0 else {
                throw StorageError(.invalidArgument, "log file already exists and holds records", file: path)
            }
            newFd = try FS.open(path, O_WRONLY | O_TRUNC)
        }
        fd = newFd
        fileEnd = 0
        allocated = 0
        if preallocateBytes > 0, posix_fallocate(fd, 0, off_t(preallocateBytes)) == 0 {
            allocated = preallocateBytes
        }
        try LogFormat.fileHeader.withUnsafeBytes { try FS.pwriteAll(fd, $0, at: 0, path: path) }
        fileEnd = Int64(LogFormat.fileHeaderSize)
        if forceSync { try FS.fsyncDirectory(directory) }  // make the new name durable
        monitor.lock()
        statsValue.filesCreated += 1
        monitor.unlock()
    }
}

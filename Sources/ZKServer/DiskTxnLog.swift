import NIOConcurrencyHelpers
import ZKStorage

/// The standalone `TxnLogSink`: the group-commit transaction log on disk.
public final class DiskTxnLog: TxnLogSink, Sendable {
    private let box: HandlerBox
    public let writer: TxnLogWriter

    public init(directory: String, forceSync: Bool, lastZxid: Int64?,
                onFailure: @escaping @Sendable (StorageError) -> Void) throws {
        let box = HandlerBox()
        self.box = box
        writer = try TxnLogWriter(directory: directory, forceSync: forceSync, lastZxid: lastZxid,
                                  onDurable: { zxid in box.call(zxid) }, onFailure: onFailure)
    }

    public func setDurableHandler(_ h: @escaping @Sendable (Int64) -> Void) { box.set(h) }
    public func append(zxid: Int64, payload: [UInt8]) { writer.append(zxid: zxid, payload: payload) }
    public func close() { writer.close() }

    /// Holds the durability callback. A plain stored property under a lock: keeping the closure
    /// in a generic `Mutex` and reading it through `inout` re-wrapped it in a reabstraction thunk
    /// on every call, so each callback got slower (and deeper) than the last.
    private final class HandlerBox: @unchecked Sendable {
        private let lock = NIOLock()
        private var handler: (@Sendable (Int64) -> Void)?
        func set(_ h: @escaping @Sendable (Int64) -> Void) { lock.withLock { handler = h } }
        func call(_ zxid: Int64) {
            lock.lock()
            let h = handler
            lock.unlock()
            h?(zxid)
        }
    }
}

import Synchronization
import ZKStorage

/// The standalone `TxnLogSink`: the group-commit transaction log on disk.
public final class DiskTxnLog: TxnLogSink, Sendable {
    private let handler = Mutex<(@Sendable (Int64) -> Void)?>(nil)
    public let writer: TxnLogWriter

    public init(directory: String, forceSync: Bool, lastZxid: Int64?,
                onFailure: @escaping @Sendable (StorageError) -> Void) throws {
        let box = HandlerBox()
        writer = try TxnLogWriter(directory: directory, forceSync: forceSync, lastZxid: lastZxid,
                                  onDurable: { zxid in box.call(zxid) }, onFailure: onFailure)
        box.owner = self
    }

    public func setDurableHandler(_ h: @escaping @Sendable (Int64) -> Void) { handler.withLock { $0 = h } }
    public func append(zxid: Int64, payload: [UInt8]) { writer.append(zxid: zxid, payload: payload) }
    public func close() { writer.close() }

    fileprivate func durable(_ zxid: Int64) { handler.withLock { $0 }?(zxid) }

    /// Breaks the init-order cycle: the writer needs the callback before `self` exists.
    private final class HandlerBox: @unchecked Sendable {
        weak var owner: DiskTxnLog?
        func call(_ zxid: Int64) { owner?.durable(zxid) }
    }
}

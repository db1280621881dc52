/// Where proposed transactions go to become durable: the seam between the request path and the
/// disk (standalone) or the quorum (ensemble). `append` must be cheap; `onDurable` is called, on any
/// thread, with the highest zxid made durable, in increasing order.
public protocol TxnLogSink: AnyObject, Sendable {
    func append(zxid: Int64, payload: [UInt8])
    func setDurableHandler(_ handler: @escaping @Sendable (Int64) -> Void)
    func close()
}

/// A log that keeps nothing: every append is "durable" at once. For tests of the request path only.
public final class VolatileTxnLog: TxnLogSink, @unchecked Sendable {
    private var handler: (@Sendable (Int64) -> Void)?
    public init() {}
    public func setDurableHandler(_ handler: @escaping @Sendable (Int64) -> Void) { self.handler = handler }
    public func append(zxid: Int64, payload: [UInt8]) { handler?(zxid) }
    public func close() {}
}

import DequeModule
import NIOCore
import ZKCore

/// The one seam through which every write is ordered: the core hands a transaction over (its zxid
/// still 0) and learns the outcome when it comes back committed through
/// `ServerCore.applyCommitted`, in zxid order, on the core's loop. Standalone, the orderer is the
/// zxid counter plus the durable log (`StandaloneOrderer`); in an ensemble it is the quorum
/// (`QuorumShell`). Called on the core's loop only.
protocol WriteOrderer: AnyObject {
    /// Orders `txn`. False when it cannot be ordered now (no established leader): the caller
    /// fails the request.
    func submit(_ txn: Txn) -> Bool
    /// Starts a client `sync`: `ServerCore.syncCompleted(id:)` follows once everything ordered
    /// before it is applied here. False when not possible now.
    func sync(id: Int64) -> Bool
    /// Whether this server owns session expiry and container clean-up (standalone always; in an
    /// ensemble only the serving leader).
    var ownsSessions: Bool { get }
    /// Whether this orderer runs an ensemble (reconfig is then possible).
    var isEnsemble: Bool { get }
    /// A client of this server showed `session` is alive (learners report these to the leader).
    func touched(session: Int64)
    /// Adds the ordering fields (mode, peer state, quorum, membership) to a four-letter snapshot.
    func fill(_ s: inout FourLetterSnapshot)
}

/// Where standalone transactions become durable. `append` must be cheap; the handler is called,
/// on any thread, with the highest zxid made durable, in increasing order.
public protocol TxnLogSink: AnyObject, Sendable {
    func append(zxid: Int64, payload: [UInt8])
    func setDurableHandler(_ handler: @escaping @Sendable (Int64) -> Void)
    func close()
}

/// A log that keeps nothing: every append is "durable" at once. For tests of the request path.
public final class VolatileTxnLog: TxnLogSink, @unchecked Sendable {
    private var handler: (@Sendable (Int64) -> Void)?
    public init() {}
    public func setDurableHandler(_ handler: @escaping @Sendable (Int64) -> Void) { self.handler = handler }
    public func append(zxid: Int64, payload: [UInt8]) { handler?(zxid) }
    public func close() {}
}

/// The standalone orderer: the next zxid, then the group-commit log; a txn is committed once the
/// log says it is durable (a write is acknowledged only after its fsync).
final class StandaloneOrderer: WriteOrderer, @unchecked Sendable {
    private unowned let core: ServerCore
    private let log: any TxnLogSink
    private var lastZxid: Int64
    private var inFlight = Deque<Txn>()
    private var nextSync: [(after: Int64, id: Int64)] = []

    init(core: ServerCore, log: any TxnLogSink) {
        self.core = core
        self.log = log
        self.lastZxid = core.tree.lastZxid
        let loop = core.loop
        log.setDurableHandler { [unowned self] zxid in
            loop.execute { self.durable(upTo: zxid) }
        }
    }

    func submit(_ txn: Txn) -> Bool {
        var txn = txn
        lastZxid += 1
        txn.zxid = lastZxid
        inFlight.append(txn)
        log.append(zxid: txn.zxid, payload: txn.bytes)
        return true
    }

    func sync(id: Int64) -> Bool {
        // Everything ordered so far is applied when the log catches up with it.
        if inFlight.isEmpty {
            core.loop.execute { [unowned self] in core.syncCompleted(id: id) }
        } else {
            nextSync.append((lastZxid, id))
        }
        return true
    }

    var ownsSessions: Bool { true }
    var isEnsemble: Bool { false }
    func touched(session: Int64) {}
    func fill(_ s: inout FourLetterSnapshot) { s.mode = .standalone }

    /// The log made everything up to `zxid` durable: those txns are committed.
    private func durable(upTo zxid: Int64) {
        var batch: [Txn] = []
        while let head = inFlight.first, head.zxid <= zxid {
            batch.append(inFlight.removeFirst())
        }
        if !batch.isEmpty { core.applyCommitted(batch) }
        while let s = nextSync.first, s.after <= zxid {
            nextSync.removeFirst()
            core.syncCompleted(id: s.id)
        }
    }
}

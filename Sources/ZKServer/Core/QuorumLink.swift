import ZKCore

/// How the request path reaches the ensemble. Nil in standalone mode, where writes go straight
/// to the `TxnLogSink`. Implemented by the ensemble shell; called on the core's loop only.
protocol QuorumLink: AnyObject {
    /// Orders a transaction (its zxid is 0; the leader assigns one). The core learns the outcome
    /// when the commit comes back through `ServerCore.applyCommitted`. False when this server
    /// cannot reach an established leader: the caller fails the request.
    func submit(_ txn: Txn) -> Bool
    /// Starts a client `sync`; `ServerCore.syncCompleted(id:)` follows. False when not possible.
    func sync(id: Int64) -> Bool
    /// Whether this server leads: only the leader expires sessions and removes empty containers.
    var isLeader: Bool { get }
    /// A client of this server showed the session is alive (learners report these to the leader).
    func touched(session: Int64)
    /// Adds the ensemble fields (mode, peer state, quorum size, leader stats, membership).
    func fill(_ s: inout FourLetterSnapshot)
}

import DequeModule
import NIOCore
import ZKCore
import ZKProtocol

/// One client TCP connection as the server core sees it. Confined to the core's event loop.
final class ClientConnection {
    enum State { case awaitingConnect, connecting, connected, closing }

    /// A request in the per-connection FIFO: replies leave in request order.
    enum Pending {
        /// Runs when it reaches the head (a read, ping, sync, setWatches…).
        case local(xid: Int32, request: ZKRequest, received: UInt64)
        /// A write waiting for its transaction to be applied.
        case write(xid: Int32, zxid: Int64, received: UInt64)
        /// A `sync` waiting for the quorum (ensemble mode).
        case sync(xid: Int32, path: String, id: Int64, received: UInt64)
        /// A reply already computed (auth), sent when it reaches the head.
        case ready(xid: Int32, err: ErrorCode, response: ZKResponse, closeAfter: Bool, zxid: Int64?)
    }

    let id: WatcherID
    let channel: any Channel
    let remoteAddress: String
    let remotePort: Int
    var state: State = .awaitingConnect
    var sessionId: Int64 = 0
    var timeout: Int32 = 0
    var readOnlyFlag: Bool? = nil
    /// A read-only session of a server cut off from the quorum: not global, writes refused.
    var readOnlySession = false
    var auth: [Id]
    var queue = Deque<Pending>()
    var pendingWrites = 0
    var out: ByteBuffer
    var dirty = false

    // Stats for cons/stat.
    let established: Int64
    var packetsReceived: Int64 = 0
    var packetsSent: Int64 = 0
    var lastOp = "NA"
    var lastCxid: Int32 = -1
    var lastZxid: Int64 = -1
    var lastResponseTime: Int64 = 0
    var lastLatency: Int64 = 0
    var minLatency: Int64 = Int64.max
    var maxLatency: Int64 = 0
    var totalLatency: Int64 = 0
    var latencyCount: Int64 = 0

    init(id: WatcherID, channel: any Channel, remoteAddress: String, remotePort: Int, now: Int64) {
        self.id = id
        self.channel = channel
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.auth = [Id(scheme: "ip", id: remoteAddress)]
        self.out = channel.allocator.buffer(capacity: 1024)
        self.established = now
    }

    func resetStats() {
        packetsReceived = 0; packetsSent = 0; lastLatency = 0; minLatency = Int64.max; maxLatency = 0
        totalLatency = 0; latencyCount = 0; lastOp = "NA"; lastCxid = -1; lastZxid = -1; lastResponseTime = 0
    }
}

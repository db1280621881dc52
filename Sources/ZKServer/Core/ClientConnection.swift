import NIOCore
import ZKCore
import ZKProtocol

/// Request latencies in ms: min / max / total / count (four-letter words, per connection and per
/// server).
struct LatencyStats: Sendable, Equatable {
    private(set) var min: Int64 = Int64.max
    private(set) var max: Int64 = 0
    private(set) var total: Int64 = 0
    private(set) var count: Int64 = 0

    mutating func record(_ ms: Int64) {
        min = Swift.min(min, ms)
        max = Swift.max(max, ms)
        total += ms
        count += 1
    }

    /// Apache prints 0 for min and avg before the first request.
    var minOrZero: Int64 { count == 0 ? 0 : min }
    var average: Double { count == 0 ? 0 : Double(total) / Double(count) }
}

/// Packets and latencies of a server or a connection (srvr, stat, cons; reset by srst/crst).
struct TrafficStats: Sendable, Equatable {
    var packetsReceived: Int64 = 0
    var packetsSent: Int64 = 0
    var latency = LatencyStats()
    mutating func reset() { self = TrafficStats() }
}

/// One client TCP connection as the server core sees it: its state machine, its output buffer
/// and its statistics. Confined to the core's event loop.
final class ClientConnection {
    let id: WatcherID
    let channel: any Channel
    let remoteAddress: String
    let remotePort: Int
    var machine = ConnectionStateMachine()
    var state: ConnectionStateMachine.State { machine.state }
    var sessionId: Int64 = 0
    var timeout: Int32 = 0
    var readOnlyFlag: Bool? = nil
    /// A read-only session of a server cut off from the quorum: not global, writes refused.
    var readOnlySession = false
    var auth: [Id]
    /// Replies and notifications waiting for the end of this loop pass (one write per client).
    var out: ByteBuffer
    var dirty = false

    // For cons/stat.
    let established: Int64
    var traffic = TrafficStats()
    var lastOp = "NA"
    var lastCxid: Int32 = -1
    var lastZxid: Int64 = -1
    var lastResponseTime: Int64 = 0
    var lastLatency: Int64 = 0

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
        traffic.reset()
        lastLatency = 0; lastOp = "NA"; lastCxid = -1; lastZxid = -1; lastResponseTime = 0
    }
}

import NIOCore
import ZKClient
import ZKProtocol

/// Tells a connected bench channel to start: keep `outstanding` requests in flight until `end`,
/// recording replies that arrive in [measureFrom, end].
struct StartLoad: Sendable {
    var measureFrom: NIODeadline
    var end: NIODeadline
}

/// What one bench connection measured.
struct ClientStats: Sendable {
    /// Replies received inside the measuring window.
    var ops = 0
    /// Of those, replies with a non-zero error code.
    var errors = 0
    /// Error codes seen anywhere in the run (warmup included), with counts.
    var errorCodes: [Int32: Int] = [:]
    /// Latency of each reply in the window, µs.
    var latenciesUs: [UInt32] = []
    /// Set when the connection ended before the run did.
    var lostConnection: String?
}

/// Drives one session with raw, pre-encoded frames: the handshake, then `outstanding` requests in
/// flight at all times (a new one written as each reply arrives), then closeSession.
///
/// Replies are only parsed as far as the `ReplyHeader`: the body is not decoded, so the client
/// spends as little as possible of the CPU it shares with the server.
final class BenchHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase { case handshake, ready, running, draining, closing, done }

    private let timeoutMs: Int32
    /// Whole request frames with xid 0; the xid (bytes 4..<8) is patched in per send.
    private let templates: [ByteBuffer]
    private var cursor: Int
    private let outstanding: Int
    private let ready: EventLoopPromise<Void>
    private let finished: EventLoopPromise<ClientStats>

    private var phase = Phase.handshake
    private var nextXid: Int32 = 1
    private var oldestXid: Int32 = 1
    /// Send times (uptime ns) of the requests in flight, oldest first.
    private var sentAt = CircularBuffer<UInt64>(initialCapacity: 64)
    private var measureFrom: UInt64 = .max
    private var end: UInt64 = .max
    private var stats = ClientStats()
    private var wroteSinceFlush = false

    init(timeoutMs: Int32, templates: [ByteBuffer], startAt: Int, outstanding: Int,
         ready: EventLoopPromise<Void>, finished: EventLoopPromise<ClientStats>) {
        precondition(!templates.isEmpty)
        self.timeoutMs = timeoutMs
        self.templates = templates
        self.cursor = startAt % templates.count
        self.outstanding = outstanding
        self.ready = ready
        self.finished = finished
        stats.latenciesUs.reserveCapacity(1 << 16)
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = ConnectRequest(protocolVersion: 0, lastZxidSeen: 0, timeout: timeoutMs, sessionId: 0,
                                     password: Array(repeating: 0, count: 16), readOnly: false)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeFrame { request.write(to: &$0) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let start = event as? StartLoad, phase == .ready else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        measureFrom = start.measureFrom.uptimeNanoseconds
        end = start.end.uptimeNanoseconds
        phase = .running
        for _ in 0..<outstanding { sendNext(context: context) }
        context.flush()
        wroteSinceFlush = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        switch phase {
        case .handshake:
            var reader = JuteReader(frame)
            guard let response = try? ConnectResponse.read(&reader), response.timeout > 0 else {
                ready.fail(ZooKeeperError(.sessionExpired, "server refused the session"))
                phase = .done
                context.close(promise: nil)
                return
            }
            phase = .ready
            ready.succeed(())
        case .running, .draining, .closing:
            guard let xid = frame.readInteger(endianness: .big, as: Int32.self),
                  frame.readInteger(endianness: .big, as: Int64.self) != nil,
                  let err = frame.readInteger(endianness: .big, as: Int32.self)
            else { return lose(context: context, "truncated reply header") }
            if xid < 0 { return }  // a ping reply or a notification: not ours
            if phase == .closing { return finish(context: context) }  // the closeSession reply
            guard xid == oldestXid, let sent = sentAt.popFirst() else {
                return lose(context: context, "reply xid \(xid), expected \(oldestXid)")
            }
            oldestXid = oldestXid == Int32.max ? 1 : oldestXid + 1
            let now = NIODeadline.now().uptimeNanoseconds
            if err != 0 { stats.errorCodes[err, default: 0] += 1 }
            if now >= measureFrom && now <= end {
                stats.ops += 1
                if err != 0 { stats.errors += 1 }
                stats.latenciesUs.append(UInt32(clamping: (now &- sent) / 1000))
            }
            if now < end {
                sendNext(context: context)
            } else {
                phase = .draining
                if sentAt.isEmpty { sendCloseSession(context: context) }
            }
        case .ready, .done:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // One flush per batch of reads: replies arrive in bursts, so this coalesces writes.
        if wroteSinceFlush {
            wroteSinceFlush = false
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if phase != .done && phase != .closing {
            stats.lostConnection = stats.lostConnection ?? "server closed the connection"
        }
        ready.fail(ZooKeeperError(.connectionLoss, "connection closed during handshake"))
        phase = .done
        finished.succeed(stats)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        lose(context: context, "\(error)")
    }

    private func sendNext(context: ChannelHandlerContext) {
        let template = templates[cursor]
        cursor += 1
        if cursor == templates.count { cursor = 0 }
        var buffer = context.channel.allocator.buffer(capacity: template.readableBytes)
        buffer.writeImmutableBuffer(template)
        buffer.setInteger(nextXid, at: buffer.readerIndex + 4, endianness: .big)
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        sentAt.append(NIODeadline.now().uptimeNanoseconds)
        context.write(wrapOutboundOut(buffer), promise: nil)
        wroteSinceFlush = true
    }

    private func sendCloseSession(context: ChannelHandlerContext) {
        phase = .closing
        var buffer = context.channel.allocator.buffer(capacity: 12)
        buffer.writeFrame { RequestHeader(xid: nextXid, type: OpCode.closeSession.rawValue).write(to: &$0) }
        context.write(wrapOutboundOut(buffer), promise: nil)
        wroteSinceFlush = true
    }

    private func finish(context: ChannelHandlerContext) {
        phase = .done
        finished.succeed(stats)
        context.close(promise: nil)
    }

    private func lose(context: ChannelHandlerContext, _ why: String) {
        if phase != .done && phase != .closing { stats.lostConnection = why }
        phase = .done
        ready.fail(ZooKeeperError(.connectionLoss, why))
        finished.succeed(stats)
        context.close(promise: nil)
    }
}

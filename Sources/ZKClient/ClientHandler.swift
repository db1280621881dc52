import NIOCore
import ZKProtocol

/// One request travelling down the pipeline to `ClientHandler`, with the promise its reply completes.
struct ClientRequest: Sendable {
    var request: ZKRequest
    var promise: EventLoopPromise<ZKResponse>
}

/// The session's channel handler: performs the connect handshake, numbers and encodes requests,
/// matches replies FIFO, routes notifications to the event stream, swallows ping replies and sends
/// pings at a third of the negotiated session timeout.
///
/// Inbound it takes whole frames (from `ClientFrameDecoder`); outbound it takes `ClientRequest`s
/// and writes framed bytes.
final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ClientRequest
    typealias OutboundOut = ByteBuffer

    private enum State {
        case connecting(EventLoopPromise<ConnectResponse>)
        case connected
        case closed
    }

    private var state: State
    private let connectRequest: ConnectRequest
    private let events: AsyncStream<WatcherEvent>.Continuation
    private var matcher = ReplyMatcher<EventLoopPromise<ZKResponse>>()
    /// addAuth replies carry xid -4 and may overtake queued requests (the server answers auth at once),
    /// so they are matched among themselves.
    private var authWaiters = CircularBuffer<EventLoopPromise<ZKResponse>>()
    private var pingTask: RepeatedTask?
    /// Set once closeSession is written: the disconnect that follows is then `.closed`, not `.disconnected`.
    private var closing = false

    init(connect: ConnectRequest, promise: EventLoopPromise<ConnectResponse>,
         events: AsyncStream<WatcherEvent>.Continuation) {
        self.connectRequest = connect
        self.state = .connecting(promise)
        self.events = events
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeFrame { connectRequest.write(to: &$0) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .connecting(let promise):
            var reader = JuteReader(frame)
            let response: ConnectResponse
            do {
                response = try ConnectResponse.read(&reader)
            } catch {
                promise.fail(ZooKeeperError(.marshallingError, "bad connect response", cause: error))
                state = .closed
                context.close(promise: nil)
                return
            }
            // A zero timeout is how the server says the session is expired or unknown.
            guard response.timeout > 0 else {
                promise.fail(ZooKeeperError(.sessionExpired, "server refused the session"))
                state = .closed
                context.close(promise: nil)
                return
            }
            state = .connected
            startPings(context: context, timeoutMs: response.timeout)
            promise.succeed(response)
        case .connected:
            handleReply(context: context, frame: frame)
        case .closed:
            break
        }
    }

    private func handleReply(context: ChannelHandlerContext, frame: ByteBuffer) {
        var reader = JuteReader(frame)
        let header: ReplyHeader
        do {
            header = try ReplyHeader.read(&reader)
        } catch {
            fail(context: context, ZooKeeperError(.marshallingError, "truncated reply header", cause: error))
            return
        }
        switch matcher.match(xid: header.xid) {
        case .ping:
            break
        case .notification:
            do {
                events.yield(try WatcherEvent.read(&reader))
            } catch {
                // One unreadable notification should not end the session; the framing is intact.
                break
            }
        case .auth:
            guard let waiter = authWaiters.popFirst() else { break }
            if header.err == 0 {
                waiter.succeed(.empty)
            } else {
                waiter.fail(ZooKeeperError(ErrorCode(rawValue: header.err), "addAuth"))
            }
        case .reply(let opcode, let promise):
            guard header.err == 0 else {
                promise.fail(ZooKeeperError(ErrorCode(rawValue: header.err), "\(opcode)"))
                return
            }
            do {
                promise.succeed(try ZKResponse.decode(for: opcode, &reader))
            } catch {
                promise.fail(ZooKeeperError(.marshallingError, "bad \(opcode) reply", cause: error))
            }
        case .unexpected(let xid, let expected):
            fail(context: context, ZooKeeperError(
                .marshallingError, "reply xid \(xid) does not match the oldest request (\(expected.map(String.init) ?? "none"))"))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard case .connected = state else {
            let error = ZooKeeperError(.connectionLoss, "\(request.request.opcode): not connected")
            request.promise.fail(error)
            promise?.fail(error)
            return
        }
        let xid: Int32
        if case .auth = request.request {
            xid = SpecialXid.auth
            authWaiters.append(request.promise)
        } else {
            xid = matcher.enqueue(request.request.opcode, request.promise)
        }
        if case .closeSession = request.request { closing = true }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeFrame { b in
            RequestHeader(xid: xid, type: request.request.opcode.rawValue).write(to: &b)
            request.request.write(to: &b)
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = ZooKeeperError(.connectionLoss, "connection closed")
        if case .connecting(let promise) = state { promise.fail(error) }
        state = .closed
        pingTask?.cancel()
        pingTask = nil
        for promise in matcher.drain() { promise.fail(error) }
        while let waiter = authWaiters.popFirst() { waiter.fail(error) }
        events.yield(WatcherEvent(type: .none, state: closing ? .closed : .disconnected, path: ""))
        events.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, ZooKeeperError(.connectionLoss, "connection error", cause: error))
    }

    /// Fails everything outstanding with `error` and closes; channelInactive then finishes the stream.
    private func fail(context: ChannelHandlerContext, _ error: ZooKeeperError) {
        if case .connecting(let promise) = state { promise.fail(error) }
        for promise in matcher.drain() { promise.fail(error) }
        while let waiter = authWaiters.popFirst() { waiter.fail(error) }
        if case .closed = state { return }
        state = .closed
        context.close(promise: nil)
    }

    private func startPings(context: ChannelHandlerContext, timeoutMs: Int32) {
        let interval = TimeAmount.milliseconds(Int64(max(timeoutMs / 3, 1)))
        let loop = context.eventLoop
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        pingTask = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            boundSelf.value.sendPing(context: boundContext.value)
        }
    }

    private func sendPing(context: ChannelHandlerContext) {
        guard case .connected = state else { return }
        var buffer = context.channel.allocator.buffer(capacity: 12)
        buffer.writeFrame { RequestHeader(xid: SpecialXid.ping, type: OpCode.ping.rawValue).write(to: &$0) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}

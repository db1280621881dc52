import Logging
import NIOCore
import ZKCore

/// The thin shell around `ServerCore` for one client channel: frames in, core calls, output flushed
/// at the end of each read burst.
final class ClientChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ClientFrame
    typealias OutboundOut = ByteBuffer

    let core: ServerCore
    let fourLetter: (String, ClientConnection?) -> String
    private var connection: ClientConnection?

    init(core: ServerCore, fourLetter: @escaping (String, ClientConnection?) -> String) {
        self.core = core
        self.fourLetter = fourLetter
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let c = core.connectionOpened(context.channel) else {
            context.close(promise: nil)
            return
        }
        connection = c
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let c = connection else { return }
        switch unwrapInboundIn(data) {
        case .fourLetter(let word):
            // Answer and close, as Apache does; the connection never becomes a session.
            c.traffic.packetsReceived = 1  // Apache counts the command itself (cons shows recved=1)
            let text = fourLetter(word, c)
            var buf = context.channel.allocator.buffer(capacity: text.utf8.count)
            buf.writeString(text)
            core.connectionClosed(c)
            connection = nil
            context.writeAndFlush(wrapOutboundOut(buf)).whenComplete { _ in context.close(promise: nil) }
        case .packet(let packet):
            do {
                try core.received(c, packet)
            } catch {
                core.logger.debug("closing connection from \(c.remoteAddress):\(c.remotePort): \(error)")
                core.connectionClosed(c)
                connection = nil
                context.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.flushDirty()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let c = connection { core.connectionClosed(c) }
        connection = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let c = connection {
            core.logger.debug("closing connection from \(c.remoteAddress):\(c.remotePort): \(error)")
            core.connectionClosed(c)
        }
        connection = nil
        context.close(promise: nil)
    }
}

package dev.dronesr.tsguard;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/** The whole pipeline (after the codec) of a connection over the port's cap: a 429 to its request. */
final class TooManyConnections extends ChannelInboundHandlerAdapter {
    private final GuardSettings settings;

    TooManyConnections(GuardSettings settings) {
        this.settings = settings;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.executor().schedule(() -> ctx.close(), settings.requestTimeoutSeconds, TimeUnit.SECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof HttpRequest) {
                Replies.error(
                        ctx,
                        HttpResponseStatus.TOO_MANY_REQUESTS,
                        "too_many_connections",
                        "TooManyConnections",
                        "this port already has its limit of "
                                + settings.maxConnections
                                + " open connections; retry when one has closed");
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }
}

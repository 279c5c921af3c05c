package dev.dronesr.tsguard;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;

/**
 * A check of each request's head, between the codec and the aggregator (before the body is read):
 * a refused request gets a JSON error and the rest of it is dropped until the connection closes.
 * (TorchServe answers a request the codec failed to decode: 400.)
 */
abstract class RequestChecks extends ChannelInboundHandlerAdapter {
    /** Why a request is refused: the reply's status, TorchServe-style type and the guard's own words. */
    record Refusal(HttpResponseStatus status, String code, String type, String message) {}

    private boolean refused;

    /** Null to pass the request on (the check may have rewritten it), else why it is refused. */
    abstract Refusal check(ChannelHandlerContext ctx, HttpRequest request);

    @Override
    public final void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest && ((HttpRequest) msg).decoderResult().isSuccess()) {
            Refusal refusal = check(ctx, (HttpRequest) msg);
            if (refusal != null) {
                refused = true;
                ReferenceCountUtil.release(msg);
                Replies.error(ctx, refusal.status(), refusal.code(), refusal.type(), refusal.message());
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }
}

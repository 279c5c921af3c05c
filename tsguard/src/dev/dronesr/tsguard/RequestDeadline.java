package dev.dronesr.tsguard;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Read timeouts for one connection, which TorchServe lacks (a client that declared more bytes than it
 * sent kept its socket for ever). Three states:
 *
 * <ul>
 *   <li>idle (open, or a reply sent): closed after {@code idle_timeout_s} without a byte;
 *   <li>receiving (a first byte came): the whole request must arrive within {@code
 *       request_timeout_s}, else a 408 JSON reply and the connection closes;
 *   <li>processing (the request is complete): no clock; TorchServe's own response timeout applies.
 * </ul>
 *
 * Sits between the codec and the aggregator, where a request's end ({@link LastHttpContent}) and a
 * reply's end pass (and the aggregator's bodiless 413, which gets a JSON body here); {@link
 * #receivedBytes()} sits before the codec, where the first byte passes. All of it runs on the
 * channel's event loop.
 */
final class RequestDeadline extends ChannelDuplexHandler {
    private enum State { IDLE, RECEIVING, PROCESSING }

    private final GuardSettings settings;
    private ChannelHandlerContext context;
    private State state = State.IDLE;
    private int requestsInFlight;
    private ScheduledFuture<?> clock;

    RequestDeadline(GuardSettings settings) {
        this.settings = settings;
    }

    /** The handler before the codec that starts the request clock at a request's first byte. */
    ChannelHandler receivedBytes() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (state == State.IDLE) {
                    state = State.RECEIVING;
                    restartClock(settings.requestTimeoutSeconds);
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        context = ctx;
        restartClock(settings.idleTimeoutSeconds);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stopClock();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof LastHttpContent) { // the request is complete (a decoding failure too)
            requestsInFlight++;
            state = State.PROCESSING;
            stopClock();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (Replies.isBareTooLarge(msg)) { // the aggregator's own 413 has no body: give it the JSON one
            msg = Replies.tooLarge((FullHttpResponse) msg);
        }
        if (msg instanceof LastHttpContent && !isInterim(msg)) {
            promise = promise.unvoid();
            promise.addListener(written -> replySent());
        }
        ctx.write(msg, promise);
    }

    private static boolean isInterim(Object msg) { // "100 Continue" before the body, not the reply
        return msg instanceof HttpResponse
                && ((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL;
    }

    private void replySent() {
        if (state == State.PROCESSING && --requestsInFlight <= 0) {
            requestsInFlight = 0;
            state = State.IDLE;
            restartClock(settings.idleTimeoutSeconds);
        }
    }

    private void restartClock(int seconds) {
        stopClock();
        clock = context.executor().schedule(this::timeUp, seconds, TimeUnit.SECONDS);
    }

    private void stopClock() {
        if (clock != null) {
            clock.cancel(false);
            clock = null;
        }
    }

    private void timeUp() {
        clock = null;
        if (!context.channel().isActive()) {
            return;
        }
        if (state == State.RECEIVING) {
            Replies.error(
                    context,
                    HttpResponseStatus.REQUEST_TIMEOUT,
                    "timeout",
                    "RequestTimeout",
                    "the request did not arrive in full within "
                            + settings.requestTimeoutSeconds
                            + " s of its first byte");
        } else if (state == State.IDLE) {
            context.close();
        }
    }
}

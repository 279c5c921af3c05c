package dev.dronesr.tsguard;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.CharsetUtil;
import java.util.LinkedHashMap;
import java.util.Map;
import org.pytorch.serve.util.ConfigManager;
import org.pytorch.serve.util.JsonUtils;
import org.pytorch.serve.util.NettyUtils;

/**
 * The guard's error replies: the project's JSON error body (dronesr/errors.py: a stable {@code code},
 * the {@code status}, a {@code type} and a message), sent by TorchServe (CORS, metrics, close).
 */
final class Replies {
    private Replies() {}

    /** The 413 HttpObjectAggregator writes for a body over max_request_size: no body at all. */
    static boolean isBareTooLarge(Object msg) {
        return msg instanceof FullHttpResponse
                && ((FullHttpResponse) msg).status().equals(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE)
                && !((FullHttpResponse) msg).content().isReadable();
    }

    /** That 413 with TorchServe's JSON error body, its headers (Connection) kept. */
    static FullHttpResponse tooLarge(FullHttpResponse bare) {
        String message =
                "the request is larger than this server's limit of "
                        + ConfigManager.getInstance().getMaxRequestSize()
                        + " bytes (max_request_size). For whole photos and maps of any size:"
                        + " `dronesr upscale PHOTO -o OUT --server URL` sends them to this server in windows.";
        FullHttpResponse reply = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, bare.status());
        reply.headers().set(bare.headers());
        bare.release();
        writeJson(reply, "too_large", "RequestTooLarge", message);
        return reply;
    }

    /** A JSON error, then the connection closes. {@code message} is the guard's own text, never the client's. */
    static void error(ChannelHandlerContext ctx, HttpResponseStatus status, String code, String type, String message) {
        FullHttpResponse reply = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status);
        writeJson(reply, code, type, message);
        NettyUtils.sendHttpResponse(ctx, reply, false);
    }

    private static void writeJson(FullHttpResponse reply, String code, String type, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("code", code);
        body.put("status", reply.status().code());
        body.put("type", type);
        body.put("message", message);
        String json = JsonUtils.GSON_PRETTY.toJson(body);
        reply.content().writeCharSequence(json + "\n", CharsetUtil.UTF_8);
        reply.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        reply.headers().set(HttpHeaderNames.CONTENT_LENGTH, reply.content().readableBytes());
    }
}

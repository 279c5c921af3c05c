package dev.dronesr.tsguard;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;

/**
 * Request headers refused before the body is read (between the codec and the aggregator):
 *
 * <ul>
 *   <li>a Content-Length that is not one non-negative integer: TorchServe 0.12's Netty waited for
 *       the body of {@code Content-Length: -5} for ever;
 *   <li>over a loopback connection, a Host that is not a loopback name: how a web page whose domain
 *       is re-bound to 127.0.0.1 (DNS rebinding) would reach the management API as its own origin,
 *       past CORS. A browser always sends the page's own host name.
 * </ul>
 *
 */
final class HeaderChecks extends RequestChecks {
    @Override
    Refusal check(ChannelHandlerContext ctx, HttpRequest request) {
        if (!hasValidLength(request)) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, "bad_request", "BadContentLength", "Content-Length must be one non-negative integer");
        }
        if (isLoopback(ctx) && !namesLoopback(request.headers().get(HttpHeaderNames.HOST))) {
            return new Refusal(HttpResponseStatus.FORBIDDEN, "forbidden_host", "HostNotLoopback",
                    "this server listens on loopback: the Host header must be 127.0.0.1, localhost"
                            + " or [::1] (another name is how a re-bound web page would get in)");
        }
        return null;
    }

    static boolean hasValidLength(HttpRequest request) {
        List<String> lengths = request.headers().getAll(HttpHeaderNames.CONTENT_LENGTH);
        return lengths.isEmpty() || (lengths.size() == 1 && lengths.get(0).trim().matches("[0-9]{1,18}"));
    }

    private static boolean isLoopback(ChannelHandlerContext ctx) {
        return ctx.channel().localAddress() instanceof InetSocketAddress
                && ((InetSocketAddress) ctx.channel().localAddress()).getAddress().isLoopbackAddress();
    }

    /** 127.x.x.x, localhost or [::1], with or without a port; no Host at all (HTTP/1.0) passes. */
    static boolean namesLoopback(String host) {
        if (host == null) {
            return true;
        }
        String name = host.trim().toLowerCase(Locale.ROOT);
        if (name.startsWith("[")) {
            return name.startsWith("[::1]");
        }
        int colon = name.indexOf(':');
        if (colon >= 0) {
            name = name.substring(0, colon);
        }
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        return name.equals("localhost") || name.matches("127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}");
    }
}

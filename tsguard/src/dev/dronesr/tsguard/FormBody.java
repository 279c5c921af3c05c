package dev.dronesr.tsguard;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.multipart.DefaultHttpDataFactory;
import io.netty.handler.codec.http.multipart.HttpPostRequestDecoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Bodies labelled {@code application/x-www-form-urlencoded}, which TorchServe decodes as a form and
 * answers 500 when that fails. {@code curl --data-binary @photo.jpg} labels a raw image so: a form
 * is text, so a body that is not text (an image's first bytes never are) is passed on as the raw
 * body it is ({@code application/octet-stream}); a text body that is not a valid form gets a 400.
 */
final class FormBody extends ChannelInboundHandlerAdapter {
    /** Bytes of the body looked at: an image's signature is in its first few. */
    private static final int TEXT_PROBE_BYTES = 65536;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FullHttpRequest && isFormLabelled((FullHttpRequest) msg)) {
            FullHttpRequest request = (FullHttpRequest) msg;
            if (!isText(request.content())) {
                request.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
            } else if (!isValidForm(request)) {
                ReferenceCountUtil.release(request);
                Replies.error(
                        ctx,
                        HttpResponseStatus.BAD_REQUEST,
                        "bad_request",
                        "BadFormBody",
                        "the body is labelled application/x-www-form-urlencoded but is not a valid form"
                                + " (a '%' must start two hex digits); send an image as multipart/form-data"
                                + " (curl -F data=@photo.jpg) or as the raw body (curl -T photo.jpg)");
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private static boolean isFormLabelled(FullHttpRequest request) {
        CharSequence mime = HttpUtil.getMimeType(request);
        return mime != null && HttpHeaderValues.APPLICATION_X_WWW_FORM_URLENCODED.contentEqualsIgnoreCase(mime);
    }

    /** UTF-8 without control characters (tab, CR and LF aside) in the first bytes. */
    static boolean isText(ByteBuf body) {
        ByteBuffer probe = body.nioBuffer(body.readerIndex(), Math.min(body.readableBytes(), TEXT_PROBE_BYTES));
        CharsetDecoder utf8 =
                StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer text = CharBuffer.allocate(probe.remaining());
        CoderResult result = utf8.decode(probe, text, false); // a sequence cut at the probe's end is fine
        if (result.isError()) {
            return false;
        }
        text.flip();
        while (text.hasRemaining()) {
            char c = text.get();
            if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F) {
                return false;
            }
        }
        return true;
    }

    /** Decodes the form the way TorchServe will, to see whether it can. */
    private static boolean isValidForm(FullHttpRequest request) {
        HttpPostRequestDecoder form;
        try {
            form = new HttpPostRequestDecoder(new DefaultHttpDataFactory(false), request);
        } catch (RuntimeException e) {
            return false;
        }
        try {
            while (form.hasNext()) {
                form.next();
            }
            return true;
        } catch (HttpPostRequestDecoder.EndOfDataDecoderException end) {
            return true;
        } catch (RuntimeException e) {
            return false;
        } finally {
            form.destroy();
        }
    }
}

package dev.dronesr.tsguard;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Query-string parameters of inference requests, which TorchServe 0.12 drops before the handler:
 * {@code POST /predictions/srresnet?format=webp} answered 200 with a PNG, and {@code ?bogus=1} was
 * not refused. Here each one becomes the {@code X-Dronesr-<Name>} header the handlers read
 * (the same path a form field or a header takes, so the handler accepts or refuses it by name
 * and value), and the query is removed from the URI. Only {@code /predictions/...} and
 * {@code /v1/models/...:predict} are touched; the management API keeps its own query parameters.
 *
 * <p>Refused with a 400 JSON (the guard's own words; a name is quoted only once it is known to be
 * a valid parameter name): a malformed query, a name that is not lower-case letters, digits and
 * {@code _}, a value with control characters or over {@value #MAX_VALUE_CHARS} characters, more
 * than {@value #MAX_PARAMETERS} parameters, a name given twice or also as a header.
 */
final class QueryParameters extends RequestChecks {
    static final String HEADER_PREFIX = "X-Dronesr-";
    static final int MAX_PARAMETERS = 16;
    static final int MAX_VALUE_CHARS = 256;
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,31}");
    private static final Pattern CONTROL = Pattern.compile("[\\p{Cntrl}]");
    private static final String HOW =
            " Parameters may also be sent as multipart form fields (curl -F data=@photo.jpg -F name=value)"
                    + " or as X-Dronesr-<Name> headers beside a raw body.";

    @Override
    Refusal check(ChannelHandlerContext ctx, HttpRequest request) {
        int query = request.uri().indexOf('?');
        if (query < 0 || !isInference(request.uri().substring(0, query))) {
            return null;
        }
        String problem = moveToHeaders(request);
        return problem == null ? null : new Refusal(HttpResponseStatus.BAD_REQUEST, "bad_request", "BadQueryParameter", problem + HOW);
    }

    static boolean isInference(String path) {
        return path.startsWith("/predictions/") || (path.startsWith("/v1/models/") && path.endsWith(":predict"));
    }

    /** Null when every parameter became a header (and the URI lost its query); else why not. */
    static String moveToHeaders(HttpRequest request) {
        Map<String, List<String>> parameters;
        String path;
        try {
            QueryStringDecoder decoder = new QueryStringDecoder(request.uri());
            parameters = decoder.parameters();
            path = decoder.rawPath();
        } catch (IllegalArgumentException e) {
            return "The query string is malformed (a bad %-escape).";
        }
        if (parameters.size() > MAX_PARAMETERS) {
            return "The query string has " + parameters.size() + " parameters, over the limit of " + MAX_PARAMETERS + ".";
        }
        HttpHeaders headers = request.headers();
        for (Map.Entry<String, List<String>> parameter : parameters.entrySet()) {
            String name = parameter.getKey();
            if (!NAME.matcher(name).matches()) {
                return "A query string parameter name is not valid: names are lower-case letters, digits and _ (at most 32).";
            }
            String header = HEADER_PREFIX + name.replace('_', '-');
            if (parameter.getValue().size() != 1 || headers.contains(header)) {
                return "The parameter '" + name + "' is given more than once (in the query string twice, or also as a header).";
            }
            String value = parameter.getValue().get(0);
            if (value.length() > MAX_VALUE_CHARS || CONTROL.matcher(value).find()) {
                return "The value of '" + name + "' in the query string is over " + MAX_VALUE_CHARS
                        + " characters or holds control characters.";
            }
        }
        for (Map.Entry<String, List<String>> parameter : parameters.entrySet()) {
            headers.set(HEADER_PREFIX + parameter.getKey().replace('_', '-'), parameter.getValue().get(0));
        }
        request.setUri(path);
        return null;
    }
}

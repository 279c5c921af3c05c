package dev.dronesr.tsguard;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.pytorch.serve.ServerInitializer;
import org.pytorch.serve.util.ConnectorType;

/**
 * What TorchServe's ModelServer constructs, through the agent, for each listening port: TorchServe's
 * own {@link ServerInitializer} builds the pipeline (ssl?, "http" codec, "aggregator", "handler"),
 * then five handlers join it:
 *
 * <pre>
 *   [ssl] -> received-bytes -> http -> request-deadline -> header-checks -> query-parameters
 *         -> aggregator -> form-body -> handler
 * </pre>
 *
 * and a connection over the port's cap gets only the codec and a 429.
 */
public class GuardedServerInitializer extends ChannelInitializer<Channel> {
    private final ServerInitializer torchserve;
    private final GuardSettings settings = GuardSettings.fromSystemProperties();
    private final AtomicInteger openConnections = new AtomicInteger();

    /** Handlers of TorchServe's pipeline the guard places its own beside (initChannel below). */
    static final List<String> TORCHSERVE_HANDLERS = List.of("http", "aggregator", "handler");

    /** The constructor ModelServer calls (the original's signature), at start, once per port. */
    public GuardedServerInitializer(SslContext sslCtx, ConnectorType type) {
        this.torchserve = new ServerInitializer(sslCtx, type);
        checkPipeline(torchserve);
    }

    /**
     * Builds one pipeline on a channel that never connects and stops TorchServe now if a handler
     * the guard relies on is not there: a TorchServe other than 0.12 would otherwise start and fail
     * at its first connection.
     */
    static void checkPipeline(ChannelInitializer<Channel> initializer) {
        EmbeddedChannel probe = new EmbeddedChannel();
        try {
            probe.pipeline().addLast(initializer);
            List<String> missing = TORCHSERVE_HANDLERS.stream().filter(name -> probe.pipeline().get(name) == null).toList();
            if (!missing.isEmpty()) {
                System.err.println("dronesr tsguard: cannot install the connection guard: TorchServe's connection pipeline has no "
                        + missing + " handler (it has " + probe.pipeline().names() + "); this guard is for TorchServe 0.12");
                Runtime.getRuntime().halt(1);
            }
        } finally {
            probe.finishAndReleaseAll();
        }
    }

    @Override
    public void initChannel(Channel ch) {
        int open = openConnections.incrementAndGet();
        ch.closeFuture().addListener(closed -> openConnections.decrementAndGet());
        torchserve.initChannel(ch);
        ChannelPipeline pipeline = ch.pipeline();
        if (open > settings.maxConnections) {
            pipeline.addAfter("http", "dronesr-too-many", new TooManyConnections(settings));
            pipeline.remove("aggregator");
            pipeline.remove("handler");
            return;
        }
        RequestDeadline deadline = new RequestDeadline(settings);
        pipeline.addBefore("http", "dronesr-received-bytes", deadline.receivedBytes());
        pipeline.addAfter("http", "dronesr-request-deadline", deadline);
        pipeline.addBefore("aggregator", "dronesr-header-checks", new HeaderChecks());
        pipeline.addBefore("aggregator", "dronesr-query-parameters", new QueryParameters());
        pipeline.addBefore("handler", "dronesr-form-body", new FormBody());
    }
}

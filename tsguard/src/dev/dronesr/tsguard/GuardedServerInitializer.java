package dev.dronesr.tsguard;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslContext;
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

    /** The constructor ModelServer calls (the original's signature). */
    public GuardedServerInitializer(SslContext sslCtx, ConnectorType type) {
        this.torchserve = new ServerInitializer(sslCtx, type);
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

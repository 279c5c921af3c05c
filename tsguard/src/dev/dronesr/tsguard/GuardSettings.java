package dev.dronesr.tsguard;

/**
 * The guard's limits, from JVM system properties that config.properties' {@code vmargs} line sets
 * (the one place they are written): a missing or malformed one stops TorchServe at start.
 */
final class GuardSettings {
    static final String PREFIX = "dronesr.tsguard.";

    /** Seconds a client has to send one whole request (headers and body) from its first byte. */
    final int requestTimeoutSeconds;
    /** Seconds an open connection may wait, between requests, before it is closed. */
    final int idleTimeoutSeconds;
    /** Open connections per listening port; one more is answered 429 and closed. */
    final int maxConnections;

    private GuardSettings(int requestTimeoutSeconds, int idleTimeoutSeconds, int maxConnections) {
        this.requestTimeoutSeconds = requestTimeoutSeconds;
        this.idleTimeoutSeconds = idleTimeoutSeconds;
        this.maxConnections = maxConnections;
    }

    static GuardSettings fromSystemProperties() {
        return new GuardSettings(
                positive("request_timeout_s"), positive("idle_timeout_s"), positive("max_connections"));
    }

    private static int positive(String name) {
        String value = System.getProperty(PREFIX + name);
        try {
            int number = Integer.parseInt(value == null ? "" : value.trim());
            if (number > 0) {
                return number;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(
                "-D" + PREFIX + name + " must be a positive integer (config.properties vmargs), got " + value);
    }
}

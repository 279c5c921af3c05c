package dev.dronesr.tsguard;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;

/**
 * A Java agent ({@code vmargs=-javaagent:build/tsguard.jar} in config.properties) that puts
 * {@link GuardedServerInitializer} where TorchServe's frontend builds each connection's pipeline.
 *
 * <p>TorchServe 0.12 has no setting for a read timeout, a connection cap, or the 500 it answers to a
 * binary body labelled {@code application/x-www-form-urlencoded} (curl's default for
 * {@code --data-binary}). Its {@code ModelServer} names the per-connection initialiser once, as a
 * class constant; the agent points that one constant at the guarded initialiser, which runs
 * TorchServe's own initialiser unchanged and adds its handlers around it. Nothing else is touched.
 */
public final class Agent {
    static final String MODEL_SERVER = "org/pytorch/serve/ModelServer";
    static final String ORIGINAL = "org/pytorch/serve/ServerInitializer";
    static final String GUARDED = "dev/dronesr/tsguard/GuardedServerInitializer"; // not loaded here: it needs TorchServe

    private Agent() {}

    public static void premain(String args, Instrumentation instrumentation) {
        GuardSettings.fromSystemProperties(); // fail at start, not at the first connection
        instrumentation.addTransformer(new InitializerSwap());
    }

    /** Rewrites the one class constant in ModelServer; refuses to start if it is not there. */
    static final class InitializerSwap implements ClassFileTransformer {
        @Override
        public byte[] transform(
                ClassLoader loader,
                String className,
                Class<?> redefined,
                ProtectionDomain domain,
                byte[] classFile) {
            if (!MODEL_SERVER.equals(className)) {
                return null;
            }
            try {
                return ConstantPool.renameClass(classFile, ORIGINAL, GUARDED);
            } catch (RuntimeException e) {
                // A TorchServe whose ModelServer differs from 0.12's: serving unguarded would
                // silently lose the limits, so stop here with the reason.
                System.err.println("dronesr tsguard: cannot install the connection guard: " + e.getMessage());
                Runtime.getRuntime().halt(1);
                return null;
            }
        }
    }
}

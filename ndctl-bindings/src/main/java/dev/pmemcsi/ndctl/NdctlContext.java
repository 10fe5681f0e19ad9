package dev.pmemcsi.ndctl;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import jnr.constants.platform.Errno;
import jnr.ffi.Pointer;
import jnr.ffi.byref.PointerByReference;

/**
 * A libndctl context ({@code ndctl_new} … {@code ndctl_unref}) and the gate to every object it
 * hands out.
 *
 * <h2>Threads and freshness</h2>
 * libndctl is not thread safe and its contexts do not coordinate. A context and every object
 * obtained from it belong to the thread that opened it; calls from any other thread, or after
 * {@link #close()}, throw {@link IllegalStateException}. A context caches what it enumerated and
 * does not see namespaces that other contexts or processes create or delete later, so open a fresh
 * one for every operation or listing and close it right after.
 *
 * <h2>Serialisation of namespace changes</h2>
 * Creating and destroying namespaces must be serialised: every region has exactly one namespace
 * seed (and one pfn, dax and btt seed), shared by all creators, and the seed only advances once a
 * create has finished; the kernel also takes the bus lock for every such change. Two creators in
 * the same region would configure the same seed. This is hardware state shared by the whole host,
 * so the JVM has exactly one lock for it, and namespace changes are only possible inside
 * {@link #configure(Configuration)}, which holds that lock and opens a fresh context for the
 * action. Listings and reads need neither: they use their own context. Nothing else (mkfs, mount,
 * erasing a volume's data) may run under the lock.
 *
 * <p>Other processes that change namespaces (the {@code ndctl} CLI, a second driver) are outside
 * this lock: only one driver instance may manage a host's namespaces.
 */
public final class NdctlContext implements AutoCloseable {

    /** The one lock for namespace create and destroy; see the class comment for why it is global. */
    private static final ReentrantLock NAMESPACE_CONFIG_LOCK = new ReentrantLock(true);

    final LibNdctl lib;
    private final Thread owner;
    private final boolean configuring;
    private Pointer ctx;

    private NdctlContext(LibNdctl lib, Pointer ctx, boolean configuring) {
        this.lib = lib;
        this.ctx = ctx;
        this.owner = Thread.currentThread();
        this.configuring = configuring;
    }

    /** A fresh context for reading; it cannot create or destroy namespaces. */
    public static NdctlContext open() throws NdctlException {
        return open(false);
    }

    private static NdctlContext open(boolean configuring) throws NdctlException {
        LibNdctl lib = NativeLibraries.ndctl();
        PointerByReference ref = new PointerByReference();
        int rc = lib.ndctl_new(ref);
        if (rc < 0 || ref.getValue() == null) {
            throw new NdctlException("ndctl_new", "", rc < 0 ? -rc : Errno.ENOMEM.intValue(),
                    "cannot initialise libndctl (is /sys mounted and readable?)");
        }
        return new NdctlContext(lib, ref.getValue(), configuring);
    }

    /** An action that changes namespaces, run with a fresh context under the namespace lock. */
    @FunctionalInterface
    public interface Configuration<T> {
        T run(NdctlContext context) throws NdctlException;
    }

    /**
     * Runs {@code action} under the JVM-wide namespace lock with a context opened after the lock
     * was taken, so that it sees every change made before. Waits for the lock as long as needed.
     */
    public static <T> T configure(Configuration<T> action) throws NdctlException {
        NAMESPACE_CONFIG_LOCK.lock();
        try (NdctlContext context = open(true)) {
            return action.run(context);
        } finally {
            NAMESPACE_CONFIG_LOCK.unlock();
        }
    }

    /** Whether the calling thread holds the namespace lock (for assertions in callers). */
    public static boolean holdsNamespaceLock() {
        return NAMESPACE_CONFIG_LOCK.isHeldByCurrentThread();
    }

    public List<NdctlBus> buses() {
        Pointer c = check();
        List<NdctlBus> result = new ArrayList<>();
        for (Pointer b = lib.ndctl_bus_get_first(c); b != null; b = lib.ndctl_bus_get_next(b)) {
            result.add(new NdctlBus(this, b));
        }
        return result;
    }

    /** Every region of every bus, sorted by bus then region ID (libndctl's order is not stable). */
    public List<NdctlRegion> regions() {
        List<NdctlRegion> result = new ArrayList<>();
        for (NdctlBus bus : buses()) {
            result.addAll(bus.regions());
        }
        return result;
    }

    public Optional<NdctlRegion> region(String devname) {
        return regions().stream().filter(r -> r.devname().equals(devname)).findFirst();
    }

    public List<NdctlDimm> dimms() {
        List<NdctlDimm> result = new ArrayList<>();
        for (NdctlBus bus : buses()) {
            result.addAll(bus.dimms());
        }
        return result;
    }

    /** Checks that the context is open and used by its owner thread; returns the raw context. */
    Pointer check() {
        if (ctx == null) {
            throw new IllegalStateException("the libndctl context is closed");
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a libndctl context belongs to the thread that opened it ("
                    + owner.getName() + "), not " + Thread.currentThread().getName());
        }
        return ctx;
    }

    void checkConfiguring() {
        check();
        if (!configuring || !NAMESPACE_CONFIG_LOCK.isHeldByCurrentThread()) {
            throw new IllegalStateException("namespaces can only be created or destroyed inside NdctlContext.configure(...)");
        }
    }

    @Override
    public void close() {
        if (ctx != null) {
            check();
            lib.ndctl_unref(ctx);
            ctx = null;
        }
    }
}

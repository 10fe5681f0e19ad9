package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.CreateObserver;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.NdctlBus;
import dev.pmemcsi.ndctl.NdctlContext;
import dev.pmemcsi.ndctl.NdctlDimm;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.NdctlNamespace;
import dev.pmemcsi.ndctl.NdctlRegion;
import dev.pmemcsi.ndctl.RawContentCheck;
import dev.pmemcsi.ndctl.RawEraser;
import dev.pmemcsi.ndctl.RegionInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;
import jnr.constants.platform.Errno;

/** {@link NamespaceBackend} and {@link PoolNamespaceBackend} on libndctl. */
public final class LibNdctlBackend implements PoolNamespaceBackend {

    private final CreateObserver observer;

    public LibNdctlBackend() {
        this(CreateObserver.NONE);
    }

    /** @param observer sees every create step; tests use it to interrupt a create */
    public LibNdctlBackend(CreateObserver observer) {
        this.observer = observer;
    }

    @Override
    public void load() throws NdctlException {
        NdctlContext.open().close();
    }

    @Override
    public List<String> buses() throws NdctlException {
        try (NdctlContext ctx = NdctlContext.open()) {
            return ctx.buses().stream().map(NdctlBus::devname).toList();
        }
    }

    @Override
    public List<RegionInfo> regions() throws NdctlException {
        try (NdctlContext ctx = NdctlContext.open()) {
            List<RegionInfo> result = new ArrayList<>();
            for (NdctlRegion r : ctx.regions()) {
                result.add(r.info());
            }
            return result;
        }
    }

    @Override
    public List<DimmInfo> dimms() throws NdctlException {
        try (NdctlContext ctx = NdctlContext.open()) {
            return ctx.dimms().stream().map(NdctlDimm::info).toList();
        }
    }

    @Override
    public NamespaceInfo create(String region, NamespaceSpec spec, Predicate<NamespaceInfo> leftover) throws NdctlException {
        return NdctlContext.configure(ctx -> {
            destroyMatching(ctx, info -> !info.active() && leftover.test(info), RawEraser.NONE);
            NdctlRegion r = ctx.region(region).orElseThrow(() ->
                    new NdctlException("ndctl_region_get_first", region, Errno.ENODEV, "no such region"));
            return r.createNamespace(spec, observer).info();
        });
    }

    @Override
    public List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which) throws NdctlException {
        return NdctlContext.configure(ctx -> destroyMatching(ctx, which, RawEraser.NONE));
    }

    @Override
    public List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which, RawEraser eraser) throws NdctlException {
        return NdctlContext.configure(ctx -> destroyMatching(ctx, which, eraser));
    }

    @Override
    public void enable(String region, String devname, Predicate<NamespaceInfo> which) throws NdctlException {
        NdctlContext.configure(ctx -> {
            namespace(ctx, region, devname, which).enable();
            return null;
        });
    }

    @Override
    public Optional<String> reconfigureToFsdax(String region, String devname, Predicate<NamespaceInfo> which,
            UUID deviceUuid, long align, RawContentCheck check) throws NdctlException {
        return NdctlContext.configure(ctx ->
                namespace(ctx, region, devname, which).reconfigureToFsdax(deviceUuid, align, check, observer));
    }

    /** The namespace, if it is still as the caller read it. */
    private static NdctlNamespace namespace(NdctlContext ctx, String region, String devname,
            Predicate<NamespaceInfo> which) throws NdctlException {
        NdctlRegion r = ctx.region(region).orElseThrow(() ->
                new NdctlException("ndctl_region_get_first", region, Errno.ENODEV, "no such region"));
        for (NdctlNamespace ns : r.namespaces()) {
            if (ns.devname().equals(devname)) {
                if (!which.test(ns.info())) {
                    throw new NdctlException("ndctl_namespace_get_first", devname, Errno.EAGAIN,
                            "the namespace changed since it was read; nothing was done");
                }
                return ns;
            }
        }
        throw new NdctlException("ndctl_namespace_get_first", devname, Errno.ENODEV, "no such namespace in " + region);
    }

    private static List<NamespaceInfo> destroyMatching(NdctlContext ctx, Predicate<NamespaceInfo> which, RawEraser eraser)
            throws NdctlException {
        List<NamespaceInfo> destroyed = new ArrayList<>();
        for (NdctlRegion r : ctx.regions()) {
            for (NdctlNamespace ns : r.namespaces()) {
                if (ns.size() == 0) {
                    continue; // seeds: nothing to destroy, and reading them fully costs time
                }
                NamespaceInfo info = ns.info();
                if (which.test(info)) {
                    ns.destroy(eraser);
                    destroyed.add(info);
                }
            }
        }
        return destroyed;
    }
}

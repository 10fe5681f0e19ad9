package dev.pmemcsi.ndctl;

/**
 * Called after each step of a namespace create. An {@link Error} thrown here stops the create
 * without rollback, exactly as a crash of the process would; a {@link RuntimeException} is
 * treated like a failed step and rolled back.
 */
@FunctionalInterface
public interface CreateObserver {

    CreateObserver NONE = (step, namespace) -> { };

    void completed(CreateStep step, String namespace);
}

package dev.pmemcsi.ndctl;

/**
 * The steps of a namespace create, in order. A {@link CreateObserver} sees each one complete; the
 * driver's crash tests use that to stop a create between two steps.
 */
public enum CreateStep {
    SET_UUID,
    SET_NAME,
    /** Label space is allocated from here on: an interrupted create leaves a half-made namespace. */
    SET_SIZE,
    SET_ENFORCE_MODE,
    /** The pfn/dax/btt seed now claims the namespace. */
    CLAIMED,
    ENABLED
}

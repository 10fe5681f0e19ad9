package dev.pmemcsi.device;

/**
 * Space inside a managed region that the driver does not own.
 *
 * @param region      the region
 * @param name        what the backend knows of it, e.g. a foreign namespace's device name
 * @param offsetBytes where it starts in the region, or -1 when unknown
 * @param sizeBytes   its size
 * @param reason      why it is reported, e.g. "foreign namespace" or "extent not in the table"
 */
public record UnmanagedExtent(String region, String name, long offsetBytes, long sizeBytes, String reason) {}

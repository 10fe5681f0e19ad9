package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.VolumeCapabilities;

/** The checks of request fields that every node RPC shares; paths are {@link NodePaths}' to check. */
final class RequestFields {

    private RequestFields() {}

    static String nonEmpty(String field, String value) throws InvalidRequestException {
        if (value == null || value.isEmpty()) {
            throw new InvalidRequestException(field + " must not be empty");
        }
        return value;
    }

    /** The request's volume capability, which must be set and valid. */
    static VolumeCapability capability(boolean present, VolumeCapability cap) throws InvalidRequestException {
        if (!present) {
            throw new InvalidRequestException("volume_capability must be set");
        }
        VolumeCapabilities.validate(cap);
        return cap;
    }
}

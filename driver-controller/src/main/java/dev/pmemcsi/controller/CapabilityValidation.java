package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesResponse;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeParameters;
import java.util.Map;

/**
 * ValidateVolumeCapabilities: whether an existing volume serves the given capabilities, context
 * and parameters. A mismatch is an answer (unconfirmed, with the reason), not a failure.
 */
final class CapabilityValidation {

    private final VolumeListing volumes;

    CapabilityValidation(VolumeListing volumes) {
        this.volumes = volumes;
    }

    ValidateVolumeCapabilitiesResponse validate(ValidateVolumeCapabilitiesRequest req)
            throws InvalidRequestException, DeviceException {
        String id = req.getVolumeId();
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        if (req.getVolumeCapabilitiesCount() == 0) {
            throw new InvalidRequestException("volume_capabilities must not be empty");
        }
        String problem = problem(volumes.find(id), req);
        if (problem != null) {
            return ValidateVolumeCapabilitiesResponse.newBuilder().setMessage(problem).build();
        }
        return ValidateVolumeCapabilitiesResponse.newBuilder()
                .setConfirmed(ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
                        .putAllVolumeContext(req.getVolumeContextMap())
                        .addAllVolumeCapabilities(req.getVolumeCapabilitiesList())
                        .putAllParameters(req.getParametersMap()))
                .build();
    }

    /** Why the volume does not serve the request, or null when it does. */
    private static String problem(PmemVolume volume, ValidateVolumeCapabilitiesRequest req) {
        for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
            String problem = VolumeCapabilities.problem(cap);
            if (problem != null) {
                return problem;
            }
        }
        try {
            VolumeAccess wanted = VolumeCapabilities.access(req.getVolumeCapabilitiesList());
            if (!volume.access().serves(wanted)) {
                return "the volume was created for " + volume.access().describe() + ", not for " + wanted.describe();
            }
        } catch (InvalidRequestException e) {
            return e.getMessage();
        }
        if (req.getVolumeContextCount() > 0 && !req.getVolumeContextMap().equals(VolumeParameters.contextOf(volume))) {
            return "volume_context " + req.getVolumeContextMap() + " does not match the volume's "
                    + VolumeParameters.contextOf(volume);
        }
        if (req.getParametersCount() > 0) {
            String problem = parametersProblem(volume, req.getParametersMap());
            if (problem != null) {
                return problem;
            }
        }
        if (req.getMutableParametersCount() > 0) {
            return "mutable_parameters are not supported";
        }
        return null;
    }

    private static String parametersProblem(PmemVolume volume, Map<String, String> parameters) {
        VolumeParameters params;
        try {
            params = VolumeParameters.parse(parameters, VolumeParameters.Origin.STORAGE_CLASS);
        } catch (InvalidRequestException e) {
            return e.getMessage();
        }
        if (volume.mode() != params.mode()) {
            return "the volume has usage " + usage(volume.mode()) + ", not " + usage(params.mode());
        }
        if (volume.eraseAfter() != params.eraseAfter()) {
            return "the volume has " + VolumeParameters.ERASE_AFTER + "=" + volume.eraseAfter();
        }
        return null;
    }

    private static String usage(VolumeMode mode) {
        return mode == VolumeMode.SECTOR ? "FileIO" : "AppDirect";
    }
}

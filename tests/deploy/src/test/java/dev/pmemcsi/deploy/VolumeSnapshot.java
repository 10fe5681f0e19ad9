package dev.pmemcsi.deploy;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * The snapshot API's VolumeSnapshot, typed for the fields the examples use (see
 * {@link VolumeSnapshotClass} for why it is declared here). Unknown fields are rejected.
 */
@Group("snapshot.storage.k8s.io")
@Version("v1")
@Kind("VolumeSnapshot")
public class VolumeSnapshot extends CustomResource<VolumeSnapshot.Spec, Void> implements Namespaced {

    public static class Spec extends Strict {
        public String volumeSnapshotClassName;
        public Source source;
    }

    /** Exactly one of the two: a claim to snapshot, or an existing content to import. */
    public static class Source extends Strict {
        public String persistentVolumeClaimName;
        public String volumeSnapshotContentName;
    }

    abstract static class Strict {
        @JsonAnySetter
        void unknown(String field, Object value) {
            throw new IllegalArgumentException("VolumeSnapshot: unknown or unsupported field '" + field + "'");
        }
    }
}

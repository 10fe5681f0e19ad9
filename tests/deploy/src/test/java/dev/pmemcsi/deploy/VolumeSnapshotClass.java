package dev.pmemcsi.deploy;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.Map;

/**
 * The snapshot API's VolumeSnapshotClass. fabric8's volumesnapshot model is not among this build's
 * dependencies, so it is declared here; its fields are top-level (no spec), and any field not
 * modelled is rejected, so a typo in the component fails instead of being carried along untyped.
 */
@Group("snapshot.storage.k8s.io")
@Version("v1")
@Kind("VolumeSnapshotClass")
public class VolumeSnapshotClass implements HasMetadata {
    private String apiVersion = "snapshot.storage.k8s.io/v1";
    private String kind = "VolumeSnapshotClass";
    private ObjectMeta metadata;
    public String driver;
    public String deletionPolicy;
    public Map<String, String> parameters;

    @Override
    public ObjectMeta getMetadata() {
        return metadata;
    }

    @Override
    public void setMetadata(ObjectMeta metadata) {
        this.metadata = metadata;
    }

    @Override
    public String getApiVersion() {
        return apiVersion;
    }

    @Override
    public void setApiVersion(String version) {
        this.apiVersion = version;
    }

    @Override
    public String getKind() {
        return kind;
    }

    public void setKind(String kind) {
        this.kind = kind;
    }

    @JsonAnySetter
    void unknown(String field, Object value) {
        throw new IllegalArgumentException("VolumeSnapshotClass: unknown or unsupported field '" + field + "'");
    }
}

package dev.pmemcsi.deploy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A set of Kubernetes objects, each parsed into its fabric8 model class. Parsing fails for any
 * document whose kind has no typed model: a misspelt kind or apiVersion must not pass silently.
 */
final class Manifests {
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    static {
        SERIALIZATION.registerKubernetesResource(ServiceMonitor.class);
        SERIALIZATION.registerKubernetesResource(VolumeSnapshotClass.class);
        SERIALIZATION.registerKubernetesResource(VolumeSnapshot.class);
    }
    private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---[ \t]*$");

    private final List<HasMetadata> objects;

    private Manifests(List<HasMetadata> objects) {
        this.objects = List.copyOf(objects);
    }

    static Manifests render(Path kustomization) {
        return parse(Kustomize.render(kustomization), kustomization.toString());
    }

    static Manifests read(Path yamlFile) {
        try {
            return parse(Files.readString(yamlFile), yamlFile.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Manifests parse(String yaml, String source) {
        List<HasMetadata> parsed = new ArrayList<>();
        for (String document : DOCUMENT_SEPARATOR.split(yaml)) {
            if (document.lines().allMatch(line -> line.isBlank() || line.stripLeading().startsWith("#"))) {
                continue;
            }
            Object object = SERIALIZATION.unmarshal(document);
            if (object instanceof GenericKubernetesResource generic) {
                throw new AssertionError(source + ": " + generic.getApiVersion() + " " + generic.getKind() + " "
                        + generic.getMetadata().getName() + " has no typed model; wrong apiVersion or kind?");
            }
            if (!(object instanceof HasMetadata resource)) {
                throw new AssertionError(source + ": not a Kubernetes object: " + object);
            }
            parsed.add(resource);
        }
        if (parsed.isEmpty()) {
            throw new AssertionError(source + ": no objects");
        }
        return new Manifests(parsed);
    }

    /** Plain YAML or JSON data (not a Kubernetes object) with the same parser. */
    static <T> T data(String yamlOrJson, Class<T> type) {
        return SERIALIZATION.unmarshal(yamlOrJson, type);
    }

    List<HasMetadata> all() {
        return objects;
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).collect(Collectors.toList());
    }

    <T extends HasMetadata> T one(Class<T> type) {
        List<T> found = all(type);
        if (found.size() != 1) {
            throw new AssertionError("expected exactly one " + type.getSimpleName() + ", found " + found.size());
        }
        return found.get(0);
    }

    <T extends HasMetadata> T named(Class<T> type, String name) {
        return all(type).stream()
                .filter(o -> Objects.equals(o.getMetadata().getName(), name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " named " + name));
    }
}

package dev.pmemcsi.deploy;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.List;

/**
 * The Prometheus Operator's ServiceMonitor, typed for the fields the optional component uses.
 * fabric8 publishes no 8.x model for it, so it is declared here; any field not modelled is
 * rejected, so a typo in the component fails instead of being carried along untyped.
 */
@Group("monitoring.coreos.com")
@Version("v1")
@Kind("ServiceMonitor")
public class ServiceMonitor extends CustomResource<ServiceMonitor.Spec, Void> implements Namespaced {

    public static class Spec extends Strict {
        public LabelSelector selector;
        public NamespaceSelector namespaceSelector;
        public List<Endpoint> endpoints;
    }

    public static class NamespaceSelector extends Strict {
        public Boolean any;
        public List<String> matchNames;
    }

    public static class Endpoint extends Strict {
        public String port;
        public String path;
        public String interval;
        public String scheme;
    }

    abstract static class Strict {
        @JsonAnySetter
        void unknown(String field, Object value) {
            throw new IllegalArgumentException("ServiceMonitor: unknown or unsupported field '" + field + "'");
        }
    }
}

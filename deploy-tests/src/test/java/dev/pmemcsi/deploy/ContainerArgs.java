package dev.pmemcsi.deploy;

import io.fabric8.kubernetes.api.model.Container;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A container's command-line flags, as `--name=value` or bare `--name`. */
record ContainerArgs(String container, Map<String, Optional<String>> flags, List<String> duplicates,
                     List<String> positional) {

    static ContainerArgs of(Container container) {
        Map<String, Optional<String>> flags = new LinkedHashMap<>();
        List<String> duplicates = new ArrayList<>();
        List<String> positional = new ArrayList<>();
        List<String> args = container.getArgs() == null ? List.of() : container.getArgs();
        for (String arg : args) {
            if (!arg.startsWith("--")) {
                positional.add(arg);
                continue;
            }
            int eq = arg.indexOf('=');
            String name = eq < 0 ? arg : arg.substring(0, eq);
            Optional<String> value = eq < 0 ? Optional.empty() : Optional.of(arg.substring(eq + 1));
            if (flags.put(name, value) != null) {
                duplicates.add(name);
            }
        }
        return new ContainerArgs(container.getName(), flags, duplicates, positional);
    }

    boolean has(String flag) {
        return flags.containsKey(flag);
    }

    Optional<String> value(String flag) {
        return flags.getOrDefault(flag, Optional.empty());
    }

    /** Bare `--flag` and `--flag=true` both mean true for the Go sidecars' boolean flags. */
    boolean isTrue(String flag) {
        return has(flag) && value(flag).map("true"::equals).orElse(true);
    }
}

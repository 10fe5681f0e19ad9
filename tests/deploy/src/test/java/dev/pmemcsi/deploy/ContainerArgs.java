package dev.pmemcsi.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A container's command-line flags, as `--name=value` or bare `--name`. */
record ContainerArgs(String container, Map<String, Optional<String>> flags, List<String> duplicates,
                     List<String> positional) {

    private static final Pattern ENV_REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    /** The flags as the container gets them: $(VAR) of a literal env value expanded, as kubelet does. */
    static ContainerArgs of(Container container) {
        Map<String, Optional<String>> flags = new LinkedHashMap<>();
        List<String> duplicates = new ArrayList<>();
        List<String> positional = new ArrayList<>();
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar var : container.getEnv() == null ? List.<EnvVar>of() : container.getEnv()) {
            if (var.getValue() != null) {
                env.put(var.getName(), var.getValue());
            }
        }
        List<String> args = container.getArgs() == null ? List.of() : container.getArgs();
        for (String raw : args) {
            Matcher m = ENV_REFERENCE.matcher(raw);
            StringBuilder expanded = new StringBuilder();
            while (m.find()) {
                m.appendReplacement(expanded, Matcher.quoteReplacement(env.getOrDefault(m.group(1), m.group())));
            }
            String arg = m.appendTail(expanded).toString();
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

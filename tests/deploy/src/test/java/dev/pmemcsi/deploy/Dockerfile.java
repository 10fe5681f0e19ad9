package dev.pmemcsi.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/** The instructions of a Dockerfile, with continuation lines joined and comments dropped, per build stage. */
final class Dockerfile {
    record Instruction(String keyword, String arguments) {}

    record Stage(String from, String name, List<Instruction> instructions) {
        List<Instruction> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).collect(Collectors.toList());
        }

        Optional<Instruction> last(String keyword) {
            List<Instruction> found = all(keyword);
            return found.isEmpty() ? Optional.empty() : Optional.of(found.get(found.size() - 1));
        }
    }

    private final List<Instruction> global;
    private final List<Stage> stages;

    private Dockerfile(List<Instruction> global, List<Stage> stages) {
        this.global = global;
        this.stages = stages;
    }

    static Dockerfile read(Path path) {
        List<String> lines;
        try {
            lines = Files.readAllLines(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Instruction> global = new ArrayList<>();
        List<Stage> stages = new ArrayList<>();
        StringBuilder pending = new StringBuilder();
        for (String line : lines) {
            String stripped = line.strip();
            if (pending.length() == 0 && (stripped.isEmpty() || stripped.startsWith("#"))) {
                continue;
            }
            if (stripped.startsWith("#")) {
                continue;
            }
            if (stripped.endsWith("\\")) {
                pending.append(stripped, 0, stripped.length() - 1).append(' ');
                continue;
            }
            pending.append(stripped);
            String text = pending.toString().strip();
            pending.setLength(0);
            int space = text.indexOf(' ');
            Instruction instruction = new Instruction(text.substring(0, space).toUpperCase(), text.substring(space + 1).strip());
            if (instruction.keyword().equals("FROM")) {
                String[] words = instruction.arguments().split("\\s+");
                String name = words.length >= 3 && words[1].equalsIgnoreCase("AS") ? words[2] : null;
                stages.add(new Stage(words[0], name, new ArrayList<>()));
            } else if (stages.isEmpty()) {
                global.add(instruction);
            } else {
                stages.get(stages.size() - 1).instructions().add(instruction);
            }
        }
        return new Dockerfile(global, stages);
    }

    List<Instruction> global() {
        return global;
    }

    Stage stage(String name) {
        return stages.stream().filter(s -> name.equals(s.name())).findFirst()
                .orElseThrow(() -> new AssertionError("no build stage named " + name));
    }

    Stage last() {
        return stages.get(stages.size() - 1);
    }

    /** The JSON (exec) form of ENTRYPOINT or CMD; the shell form would need a shell in the image. */
    static List<String> execForm(Instruction instruction) {
        String json = instruction.arguments();
        List<?> parsed = json.startsWith("[") ? Manifests.data(json, List.class) : null;
        if (parsed == null || !parsed.stream().allMatch(String.class::isInstance)) {
            throw new AssertionError(instruction.keyword() + " is not in exec (JSON array) form: " + json);
        }
        return parsed.stream().map(String.class::cast).collect(Collectors.toList());
    }
}

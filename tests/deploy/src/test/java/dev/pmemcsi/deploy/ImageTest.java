package dev.pmemcsi.deploy;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The image's Dockerfile against what the Maven build produces and what the driver accepts. */
class ImageTest {
    private static final Pattern COPY = Pattern.compile("--from=(\\S+)\\s+(\\S+)\\s+(\\S+)");

    private static Dockerfile dockerfile;
    private static String finalName;
    private static String libDirectory;
    private static String classpathPrefix;

    @BeforeAll
    static void read() throws Exception {
        dockerfile = Dockerfile.read(Repo.root().resolve("deploy/image/Dockerfile"));
        Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(Repo.root().resolve("driver-app/pom.xml").toFile());
        finalName = only(pom, "finalName");
        classpathPrefix = only(pom, "classpathPrefix");
        String output = null;
        NodeList executions = pom.getElementsByTagName("execution");
        for (int i = 0; i < executions.getLength(); i++) {
            Element execution = (Element) executions.item(i);
            if (execution.getElementsByTagName("goal").item(0).getTextContent().equals("copy-dependencies")) {
                output = execution.getElementsByTagName("outputDirectory").item(0).getTextContent();
            }
        }
        assertTrue(output != null && output.startsWith("${project.build.directory}/"),
                "driver-app must copy its runtime dependencies below target/: " + output);
        libDirectory = output.substring("${project.build.directory}/".length());
    }

    private static String only(Document pom, String tag) {
        NodeList nodes = pom.getElementsByTagName(tag);
        assertEquals(1, nodes.getLength(), "driver-app/pom.xml: expected one <" + tag + ">");
        return nodes.item(0).getTextContent().strip();
    }

    @Test
    void buildStageBuildsTheDriverWithMaven() {
        Dockerfile.Stage build = dockerfile.stage("build");
        assertEquals("maven:3-eclipse-temurin-17", build.from());
        String maven = build.all("RUN").stream().map(Dockerfile.Instruction::arguments)
                .filter(r -> r.contains("mvn ")).findFirst().orElseThrow(() -> new AssertionError("no mvn RUN"));
        for (String part : List.of("-B", "-DskipTests", "package", "-pl driver-app", "-am")) {
            assertTrue(maven.contains(part), "mvn command lacks " + part + ": " + maven);
        }
    }

    @Test
    void runtimeCopiesExactlyWhatTheBuildProduces() {
        String workdir = dockerfile.stage("build").last("WORKDIR").orElseThrow().arguments();
        String target = workdir + "/driver-app/target/";
        List<String[]> copies = new ArrayList<>();
        for (Dockerfile.Instruction copy : dockerfile.last().all("COPY")) {
            Matcher matcher = COPY.matcher(copy.arguments());
            if (matcher.find() && matcher.group(1).equals("build")) {
                copies.add(new String[] {matcher.group(2), matcher.group(3)});
            }
        }
        String jar = entrypointJar();
        String jarDir = Path.of(jar).getParent().toString();
        assertTrue(copies.stream().anyMatch(c -> c[0].equals(target + finalName + ".jar") && c[1].equals(jar)),
                "the image must copy " + target + finalName + ".jar to " + jar);
        // The jar's manifest Class-Path points at <classpathPrefix><artifact>.jar, relative to the jar.
        String libInImage = jarDir + "/" + classpathPrefix;
        assertTrue(copies.stream().anyMatch(c -> c[0].equals(target + libDirectory + "/") && c[1].equals(libInImage)),
                "the image must copy " + target + libDirectory + "/ to " + libInImage);
    }

    @Test
    void runtimeHasTheJreAndTheHostToolsTheDriverCalls() {
        assertTrue(dockerfile.last().from().startsWith("debian:bookworm"), dockerfile.last().from());
        String installs = dockerfile.last().all("RUN").stream().map(Dockerfile.Instruction::arguments)
                .collect(Collectors.joining(" "));
        for (String pkg : List.of("openjdk-17-jre-headless", "libndctl6", "ndctl", "e2fsprogs", "xfsprogs", "util-linux",
                "lvm2")) {
            assertTrue(List.of(installs.split("\\s+")).contains(pkg), "runtime image does not install " + pkg);
        }
    }

    @Test
    void entrypointAndCmdUseOnlyFlagsTheDriverAccepts() {
        Set<String> options = DriverHelp.longOptions();
        List<String> entrypoint = Dockerfile.execForm(dockerfile.last().last("ENTRYPOINT").orElseThrow());
        List<String> cmd = Dockerfile.execForm(dockerfile.last().last("CMD").orElseThrow());
        List<String> driverArgs = new ArrayList<>(entrypoint.subList(entrypoint.indexOf(entrypointJar()) + 1, entrypoint.size()));
        driverArgs.addAll(cmd);
        assertTrue(!driverArgs.isEmpty(), "CMD should give the driver working defaults");
        for (String arg : driverArgs) {
            String flag = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            assertTrue(options.contains(flag), arg + " is not an option of the driver; it accepts " + options);
        }
    }

    @Test
    void classDataSharingArchiveIsTheOneTheJvmIsToldToUse() {
        String runs = dockerfile.last().all("RUN").stream().map(Dockerfile.Instruction::arguments)
                .collect(Collectors.joining(" "));
        // Either a direct dump, or bin/build-cds's training run followed by a check of its output.
        Matcher dumped = Pattern.compile("-XX:ArchiveClassesAtExit=(\\S+)").matcher(runs);
        if (!dumped.find()) {
            dumped = Pattern.compile("build-cds\\b.*?test -s (\\S+\\.jsa)").matcher(runs);
            assertTrue(dumped.find(), "the image should build a CDS archive and check that it exists");
        }
        String javaOpts = dockerfile.last().all("ARG").stream().map(Dockerfile.Instruction::arguments)
                .filter(a -> a.startsWith("JAVA_OPTS=")).findFirst().orElseThrow(() -> new AssertionError("no ARG JAVA_OPTS"));
        assertTrue(javaOpts.contains("-XX:SharedArchiveFile=" + dumped.group(1)),
                "JAVA_OPTS must use the archive built at " + dumped.group(1) + ": " + javaOpts);
        // JDK_JAVA_OPTIONS and JAVA_TOOL_OPTIONS make the JVM print a plain-text notice before the
        // first JSON log line; the flags travel in an argument file on the command line instead.
        assertTrue(dockerfile.last().all("ENV").stream().noneMatch(e -> e.arguments().matches("(?s).*\\b(JDK_JAVA_OPTIONS|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS)\\b.*")),
                "no JVM option variable in the image's environment");
        List<String> entrypoint = Dockerfile.execForm(dockerfile.last().last("ENTRYPOINT").orElseThrow());
        String argFile = entrypoint.stream().filter(a -> a.startsWith("@")).findFirst()
                .orElseThrow(() -> new AssertionError("ENTRYPOINT should name the JVM's argument file: " + entrypoint)).substring(1);
        assertTrue(entrypoint.indexOf("@" + argFile) < entrypoint.indexOf("-jar"), entrypoint.toString());
        assertTrue(runs.contains("${JAVA_OPTS} > " + argFile), "JAVA_OPTS must be written to " + argFile + ": " + runs);
    }

    @Test
    void versionLabelFollowsTheProjectVersion() {
        assertTrue(dockerfile.global().stream()
                        .anyMatch(i -> i.keyword().equals("ARG") && i.arguments().equals("VERSION=" + Repo.projectVersion())),
                "ARG VERSION must default to the project version " + Repo.projectVersion());
        assertTrue(dockerfile.last().all("ARG").stream().anyMatch(i -> i.arguments().equals("VERSION")),
                "the runtime stage must re-declare ARG VERSION to use it");
        assertTrue(dockerfile.last().all("LABEL").stream()
                .anyMatch(l -> l.arguments().contains("org.opencontainers.image.version=\"${VERSION}\"")));
    }

    private static String entrypointJar() {
        List<String> entrypoint = Dockerfile.execForm(dockerfile.last().last("ENTRYPOINT").orElseThrow());
        int jarFlag = entrypoint.indexOf("-jar");
        assertTrue(entrypoint.get(0).equals("java") && jarFlag > 0, "ENTRYPOINT must run java -jar: " + entrypoint);
        return entrypoint.get(jarFlag + 1);
    }
}

package dev.pmemcsi.device.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.mount.FilesystemProbe;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The content check on image files, with blkid's answers recorded. */
class RawNamespaceContentTest {

    @TempDir
    Path dir;

    private final List<List<String>> ran = new ArrayList<>();

    private RawNamespaceContent withBlkid(int exitCode, String stdout) {
        return new RawNamespaceContent(new FilesystemProbe(new CommandRunner() {
            @Override
            public Result runAllowingFailure(List<String> argv, Duration timeout) throws CommandFailedException {
                ran.add(argv);
                return new Result(exitCode, stdout, "");
            }
        }));
    }

    private Path image(String name, long offset, String bytes) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(4 << 20);
            if (bytes != null) {
                f.seek(offset);
                f.write(bytes.getBytes(StandardCharsets.US_ASCII));
            }
        }
        return p;
    }

    @Test
    void anAllZeroDeviceHoldsNothingAndNeedsNoBlkid() throws IOException {
        assertEquals(Optional.empty(), withBlkid(0, "TYPE=ext4\n").refusal(image("zero", 0, null)));
        assertEquals(List.of(), ran);
    }

    @Test
    void aSignatureBlkidKnowsIsARefusalNamingIt() throws IOException {
        Path dev = image("fs", 1024, "not zero");
        Optional<String> r = withBlkid(0, "TYPE=LVM2_member\nUUID=abc\n").refusal(dev);
        assertTrue(r.isPresent() && r.get().contains("LVM2_member"), r.toString());
        r = withBlkid(0, "PTTYPE=gpt\n").refusal(dev);
        assertTrue(r.isPresent() && r.get().contains("gpt partition table"), r.toString());
    }

    @Test
    void bytesBlkidDoesNotRecogniseAreNoRefusal() throws IOException {
        assertEquals(Optional.empty(), withBlkid(2, "").refusal(image("noise", 1024, "not zero")));
    }

    @Test
    void ambiguousOrFailingProbesAreRefusals() throws IOException {
        Optional<String> r = withBlkid(8, "").refusal(image("two", 1024, "not zero"));
        assertTrue(r.isPresent() && r.get().startsWith("cannot tell what"), r.toString());
    }

    @Test
    void anInfoBlockAtFourKibIsARefusalWhateverBlkidSays() throws IOException {
        for (String[] sig : new String[][] {{"NVDIMM_PFN_INFO\0", "fsdax"}, {"NVDIMM_DAX_INFO\0", "devdax"},
                {"BTT_ARENA_INFO\0\0", "sector"}}) {
            Optional<String> r = withBlkid(2, "").refusal(image(sig[1], 4096, sig[0]));
            assertTrue(r.isPresent() && r.get().contains("an info block (" + sig[1] + ")"), r.toString());
        }
    }
}

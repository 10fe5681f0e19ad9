package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.RawContentCheck;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.mount.FilesystemProbe;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;

/**
 * Whether a raw namespace holds data, before LVM mode's preparation turns it into its pool device
 * (which overwrites its start with an info block and a page map). It holds data when:
 * <ul>
 *   <li>blkid finds a signature: a filesystem, an LVM physical volume, swap, RAID, crypto or a
 *       partition table ({@link FilesystemProbe}: the first and last MiB, then {@code blkid -p});</li>
 *   <li>an fsdax, devdax or sector info block sits at 4 KiB: the namespace was configured before
 *       and its data lies behind that block, where blkid does not look;</li>
 *   <li>or what it holds cannot be told (blkid fails, or finds two signatures).</li>
 * </ul>
 * Bytes that carry no signature blkid knows (a database on the raw device, say) are not seen.
 */
final class RawNamespaceContent implements RawContentCheck {

    /** Info blocks of the pfn, dax and btt drivers, at 4 KiB into the namespace. */
    private static final long INFO_BLOCK_OFFSET = 4096;
    private static final List<String> INFO_SIGNATURES = List.of("NVDIMM_PFN_INFO", "NVDIMM_DAX_INFO", "BTT_ARENA_INFO");

    private final FilesystemProbe probe;

    RawNamespaceContent() {
        this(FilesystemProbe.inProcess(new CommandRunner()));
    }

    RawNamespaceContent(FilesystemProbe probe) {
        this.probe = probe;
    }

    @Override
    public Optional<String> refusal(Path rawDevice) {
        try {
            Optional<String> info = infoBlock(rawDevice);
            if (info.isPresent()) {
                return Optional.of(rawDevice + " holds an info block (" + info.get() + ") at 4 KiB: it was set up "
                        + "before and may hold data");
            }
            FilesystemProbe.Content content = probe.probe(rawDevice);
            if (!content.isEmpty()) {
                return Optional.of(rawDevice + " holds " + content.describe() + " (" + content.fields() + ")");
            }
            return Optional.empty();
        } catch (IOException | CommandFailedException e) {
            return Optional.of("cannot tell what " + rawDevice + " holds: " + e.getMessage());
        }
    }

    static Optional<String> infoBlock(Path device) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(16);
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            int n;
            do {
                n = ch.read(buf, INFO_BLOCK_OFFSET + buf.position());
            } while (n > 0 && buf.hasRemaining());
        }
        String head = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
        for (String sig : INFO_SIGNATURES) {
            if (head.startsWith(sig)) {
                return Optional.of(sig.startsWith("NVDIMM_PFN") ? "fsdax" : sig.startsWith("NVDIMM_DAX") ? "devdax" : "sector");
            }
        }
        return Optional.empty();
    }
}

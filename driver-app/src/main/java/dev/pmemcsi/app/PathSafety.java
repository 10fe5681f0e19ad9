package dev.pmemcsi.app;

import dev.pmemcsi.pmemnative.TrustedPaths;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The driver keeps its state and socket only in directories that no one else can change: a state
 * dir writable by others would let them forge volume records, a socket dir writable by others
 * would let them replace the socket. The emulated backend applies the same check to its directory.
 */
final class PathSafety {

    private PathSafety() {}

    /** Creates {@code dir} (mode 0750) if missing; refuses one owned or writable by others. */
    static void requirePrivateDir(Path dir, String what) throws StartupException {
        try {
            TrustedPaths.requirePrivateDir(dir, what);
        } catch (TrustedPaths.UntrustedPathException e) {
            throw new StartupException(e.getMessage(), e);
        } catch (IOException e) {
            throw new StartupException("cannot prepare " + what + " " + dir + ": " + e.getMessage(), e);
        }
    }
}

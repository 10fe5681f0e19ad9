package dev.pmemcsi.device;

import java.util.List;
import java.util.Optional;

/**
 * The storage backend of the driver: it carves PMEM into volumes and hands out block devices.
 *
 * <p>Every method is idempotent in the reconcile sense: repeating a call whose effect is already in
 * place succeeds without changing anything. Calls for different volume IDs may run in parallel;
 * calls for one volume ID are serialised by the implementation. Failures are typed subclasses of
 * {@link DeviceException}; translating them into gRPC codes is the CSI layer's business.
 */
public interface DeviceManager extends AutoCloseable {

    /** Short backend name for logs and metrics, e.g. {@code emulated} or {@code ndctl}. */
    String backendName();

    /**
     * Discovers the regions, recovers every volume the backend created before (after a driver
     * restart or a host reboot), reattaches devices, and cleans up half-finished operations that
     * a crash left behind. Safe to call more than once.
     */
    void start() throws DeviceException;

    /** True once {@link #start()} finished and the backend still answers. */
    boolean isReady();

    /** The volumes this driver owns, sorted by ID. Foreign objects are not included. */
    List<PmemVolume> listVolumes() throws DeviceException;

    Optional<PmemVolume> getVolume(String volumeId) throws DeviceException;

    /**
     * Creates the volume, or returns it when one with this ID and a compatible size and mode
     * already exists.
     *
     * @throws VolumeExistsException  the ID exists with another mode or a size outside the request
     * @throws OutOfRangeException    the limit is below the smallest size that satisfies the request
     * @throws NoSpaceException       no region can hold the volume
     */
    PmemVolume createVolume(VolumeRequest request) throws DeviceException;

    /**
     * Deletes the volume; an unknown ID is a no-op. With {@code erase}, the volume's bytes are
     * zeroed before its space can be handed to anyone else.
     *
     * @throws VolumeInUseException the device is still open or mounted
     */
    void deleteVolume(String volumeId, boolean erase) throws DeviceException;

    /**
     * How this backend grows volumes; the CSI services offer expansion only when it can. The
     * default: it cannot.
     */
    default Expansion expansion() {
        return Expansion.NONE;
    }

    /** What {@link #expandVolume} can do. */
    enum Expansion {
        /** Volumes never grow. */
        NONE,
        /**
         * Volumes grow in place, also while mounted, when the space after them is free; when it is
         * not, a volume that is not in use is moved, and one in use is refused.
         */
        ONLINE,
        /**
         * Volumes grow only while they are neither staged nor published: the data moves to a new,
         * larger device (direct mode: a namespace cannot grow in place, see docs/ndctl.md). A volume
         * in use is refused with {@link VolumeInUseException}; it grows once its pods are stopped,
         * and its filesystem grows when it is staged again. CSI calls this {@code OFFLINE}.
         */
        OFFLINE
    }

    /**
     * Grows the volume so that its capacity is at least {@code requiredBytes} and at most
     * {@code limitBytes} (0: no limit), rounded up as a create would be. A volume that already has
     * the capacity is returned as it is (a smaller request is no shrink). The volume keeps its ID,
     * its data and, when it grows in place, its device.
     *
     * @param inUse whether the volume is staged or published: its data may then not move
     * @throws VolumeNotFoundException the volume does not exist
     * @throws OutOfRangeException     the limit is below what the request needs, or the size is
     *                                 more than a region of this node can hold
     * @throws NoSpaceException        no region has room for the larger volume now
     * @throws VolumeInUseException    the volume can only grow by moving, and it is in use
     * @throws UnsupportedOperationException the backend's {@link #expansion()} is NONE
     */
    default PmemVolume expandVolume(String volumeId, long requiredBytes, long limitBytes, boolean inUse)
            throws DeviceException {
        throw new UnsupportedOperationException(backendName() + " volumes cannot grow");
    }

    /** Raw capacity of every region managed by this backend. */
    Capacity capacity() throws DeviceException;

    /** Health of one volume: bad blocks, a vanished device. */
    VolumeHealth volumeHealth(String volumeId) throws DeviceException;

    /** Health of the modules and regions behind the volumes, for metrics and alerts. */
    DeviceHealth deviceHealth() throws DeviceException;

    /**
     * Space or objects in the managed regions that the backend does not own: foreign namespaces,
     * or extents it cannot account for. They are reported, never deleted.
     */
    List<UnmanagedExtent> unmanagedExtents() throws DeviceException;

    @Override
    void close();
}

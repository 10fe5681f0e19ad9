package dev.pmemcsi.device.emulated;

/** Where a volume is in its life; the table records it before each step that touches devices. */
enum VolumeState {
    /** The extent is reserved and a loop device may be attaching; not yet handed out. */
    CREATING,
    /** Handed out: its loop device exists or is reattached on start. */
    READY,
    /** Its loop device is going away and its extent being zeroed; the space is not yet free. */
    DELETING
}

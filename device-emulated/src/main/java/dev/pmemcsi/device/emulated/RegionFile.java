package dev.pmemcsi.device.emulated;

import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.nio.file.Path;

/** A region file and how to recognise it behind a loop device: by inode, or by the path the kernel shows. */
record RegionFile(String name, Path path, long size, long device, long inode, String realPath) {

    boolean backs(LoopDevice loop) {
        return (loop.backingInode() == inode && loop.backingDevice() == device) || loop.backingFile().equals(realPath);
    }
}

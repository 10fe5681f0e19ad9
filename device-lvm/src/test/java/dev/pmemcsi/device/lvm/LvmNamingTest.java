package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class LvmNamingTest {

    /** What lvm accepts in volume group and logical volume names, and in tags. */
    private static final Pattern LVM_NAME = Pattern.compile("[A-Za-z0-9+_.][A-Za-z0-9+_.-]*");
    private static final Pattern LVM_TAG = Pattern.compile("[A-Za-z0-9_+./=!:&#][A-Za-z0-9_+./=!:&#-]*");

    private final LvmNaming naming = new LvmNaming("pmem-csi.dev");

    @Test
    void volumeGroupNamesComeFromBusAndRegion() {
        assertEquals("pmemcsi.ndbus0.region0", LvmNaming.volumeGroupName(new PoolDevice("region0", "ndbus0", 0, "/dev/pmem0", 1, "nvdimm")));
        assertEquals("pmemcsi.static.loop7", LvmNaming.volumeGroupName(new PoolDevice("loop7", "static", -1, "/dev/loop7", 1, "loop")));
        String odd = LvmNaming.volumeGroupName(new PoolDevice("a very/long:region name with ümlauts", "bus", -1, "/dev/x", 1, "static"));
        assertTrue(LVM_NAME.matcher(odd).matches(), odd);
        assertTrue(odd.length() <= 8 + 3 + 1 + 24, odd);
        assertEquals(odd, LvmNaming.volumeGroupName(new PoolDevice("a very/long:region name with ümlauts", "bus", -1, "/dev/y", 1, "static")),
                "stable: the device path does not enter");
    }

    @Test
    void logicalVolumeNamesAreUniqueValidAndFitDeviceMapper() {
        String id = VolumeIds.fromName("pvmove-claim");
        String lv = LvmNaming.logicalVolumeName(id);
        assertEquals("pmem." + id.replace('-', '.'), lv);
        assertTrue(LVM_NAME.matcher(lv).matches() && !lv.startsWith("pvmove") && !lv.startsWith("snapshot"), lv);
        assertTrue(!LvmNaming.logicalVolumeName("a-b").equals(LvmNaming.logicalVolumeName("a-b-")));
        String longest = "a-".repeat(31) + "a";
        String vg = LvmNaming.volumeGroupName(new PoolDevice("r".repeat(80), "b".repeat(80), -1, "/dev/x", 1, "static"));
        String dm = LvmNaming.deviceMapperPath(vg, LvmNaming.logicalVolumeName(longest)).substring("/dev/mapper/".length());
        assertTrue(dm.length() <= 127, dm.length() + ": " + dm);
        assertEquals("/dev/mapper/vg--a-lv--b", LvmNaming.deviceMapperPath("vg-a", "lv-b"));
        assertThrows(IllegalArgumentException.class, () -> LvmNaming.logicalVolumeName("Not_an_id"));
    }

    @Test
    void tagsRoundTripAndAreValidLvmTags() {
        String id = VolumeIds.ephemeral("kubelet-volume");
        Map<String, String> attrs = Map.of("usage", "AppDirect", "key with spaces, commas", "välue=/:#");
        List<String> tags = naming.tagsOf(id, true, 6 * 1024 * 1024, new VolumeAccess(VolumeAccess.EXT4, true), attrs);
        tags.forEach(t -> assertTrue(LVM_TAG.matcher(t).matches(), t));
        LvmNaming.VolumeTags read = naming.read(tags).orElseThrow();
        assertEquals(new LvmNaming.VolumeTags(id, LvmNaming.State.READY, false, true, 6 * 1024 * 1024,
                new VolumeAccess(VolumeAccess.EXT4, true), attrs), read);
        List<String> creating = new ArrayList<>(tags);
        creating.add(naming.stateTag(LvmNaming.STATE_CREATING));
        assertEquals(LvmNaming.State.CREATING, naming.read(creating).orElseThrow().state());
        List<String> ready = new ArrayList<>(tags);
        ready.add(naming.stateTag(LvmNaming.STATE_DELETING));
        ready.add(naming.eraseOnDeleteTag());
        LvmNaming.VolumeTags deleting = naming.read(ready).orElseThrow();
        assertEquals(LvmNaming.State.DELETING, deleting.state());
        assertTrue(deleting.eraseOnDelete());
    }

    @Test
    void onlyTheDriversOwnWellFormedTagsMakeAVolume() {
        String id = VolumeIds.fromName("pvc");
        assertEquals(Optional.empty(), naming.read(List.of("pmem-csi.dev/id=" + id)), "no owner tag");
        assertEquals(Optional.empty(), naming.read(List.of("pmem-csi.dev")), "no ID");
        assertEquals(Optional.empty(), naming.read(List.of("other.dev", "other.dev/id=" + id)));
        assertEquals(Optional.empty(), naming.read(List.of("pmem-csi.dev", "pmem-csi.dev/id=" + id, "pmem-csi.dev/id=x")));
        assertEquals(Optional.empty(), naming.read(List.of("pmem-csi.dev", "pmem-csi.dev/id=Bad_ID")));
        assertEquals(Optional.empty(), naming.read(List.of("pmem-csi.dev", "pmem-csi.dev/id=" + id, "pmem-csi.dev/capacity=x")));
        assertEquals(Optional.empty(), naming.read(List.of("pmem-csi.dev", "pmem-csi.dev/id=" + id, "pmem-csi.dev/access=btrfs")));
        // Tags of other drivers and other tools are ignored.
        assertEquals(id, naming.read(List.of("backup", "pmem-csi.dev", "pmem-csi.dev/id=" + id, "other.dev/state=deleting"))
                .orElseThrow().volumeId());
        // A driver with another name owns other volumes.
        assertEquals(Optional.empty(), new LvmNaming("pmem-csi.dev2").read(List.of("pmem-csi.dev", "pmem-csi.dev/id=" + id)));
        assertThrows(IllegalArgumentException.class, () -> new LvmNaming("-bad"));
    }

    @Test
    void twoCapacityTagsLeftByACrashReadAsTheSmaller() {
        String id = VolumeIds.fromName("pvc");
        LvmNaming.VolumeTags t = naming.read(List.of("pmem-csi.dev", "pmem-csi.dev/id=" + id, "pmem-csi.dev/capacity=8",
                "pmem-csi.dev/capacity=6")).orElseThrow();
        assertEquals(6, t.capacityBytes());
        assertEquals(List.of("pmem-csi.dev/capacity=8", "pmem-csi.dev/capacity=6"),
                naming.capacityTags(List.of("pmem-csi.dev", "pmem-csi.dev/capacity=8", "pmem-csi.dev/capacity=6")));
    }
}

package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.RpcEdge;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DaxChoiceTest {

    private static PmemVolume vol(VolumeMode mode, boolean dax) {
        return new PmemVolume("v", "region0", mode, 1, 1, Path.of("/dev/pmem0"), dax, true, Map.of());
    }

    @Test
    void daxDeviceGetsDaxAndVerification() throws Exception {
        DaxChoice c = DaxChoice.decide(vol(VolumeMode.FSDAX, true), List.of());
        assertTrue(c.enable());
        assertTrue(c.verify());
    }

    @Test
    void userDaxFlagIsNotRepeatedButVerified() throws Exception {
        DaxChoice c = DaxChoice.decide(vol(VolumeMode.FSDAX, true), List.of("dax=always"));
        assertFalse(c.enable());
        assertTrue(c.verify());
    }

    @Test
    void sectorAndEmulatedVolumesMountWithoutDaxAndSayWhy() throws Exception {
        DaxChoice sector = DaxChoice.decide(vol(VolumeMode.SECTOR, false), List.of());
        assertFalse(sector.enable() || sector.verify());
        assertTrue(sector.reason().contains("sector"), sector.reason());
        DaxChoice emulated = DaxChoice.decide(vol(VolumeMode.FSDAX, false), List.of());
        assertFalse(emulated.enable());
        assertTrue(emulated.reason().contains("does not support DAX"), emulated.reason());
    }

    @Test
    void daxNeverOrInodeIsHonoured() throws Exception {
        assertFalse(DaxChoice.decide(vol(VolumeMode.FSDAX, true), List.of("dax=never")).enable());
        assertFalse(DaxChoice.decide(vol(VolumeMode.FSDAX, true), List.of("dax=inode")).verify());
    }

    @Test
    void askingForDaxOnADeviceWithoutItFails() {
        PreconditionFailedException e = assertThrows(PreconditionFailedException.class,
                () -> DaxChoice.decide(vol(VolumeMode.SECTOR, false), List.of("dax")));
        assertEquals(Status.Code.FAILED_PRECONDITION, RpcEdge.statusOf(e).getCode());
    }
}

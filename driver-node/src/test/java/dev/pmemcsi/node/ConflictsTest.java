package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.driver.RpcEdge;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConflictsTest {

    private static Attachment pub(String id, String target, String mode, boolean ro, List<String> flags) {
        return Attachment.publication(id, Path.of(target), Path.of(target),
                new Attachment.Capability(Attachment.Access.MOUNT, "ext4", flags, mode), ro, Path.of("/stage/" + id),
                Path.of("/dev/pmem0")).withPhase(Attachment.Phase.DONE);
    }

    private static Attachment stage(String id, String path, String fs) {
        return Attachment.staging(id, Path.of(path), Path.of(path),
                new Attachment.Capability(Attachment.Access.MOUNT, fs, List.of(), "SINGLE_NODE_WRITER"),
                Path.of("/dev/pmem0"), false).withPhase(Attachment.Phase.DONE);
    }

    @Test
    void sameStageAgainIsFine() {
        assertTrue(Conflicts.stage(Optional.of(stage("v", "/s", "ext4")), stage("v", "/s", "ext4")).isEmpty());
        assertTrue(Conflicts.stage(Optional.empty(), stage("v", "/s", "ext4")).isEmpty());
    }

    @Test
    void stageWithAnotherFilesystemIsAlreadyExists() {
        Optional<Status> s = Conflicts.stage(Optional.of(stage("v", "/s", "ext4")), stage("v", "/s", "xfs"))
                .map(RpcEdge::statusOf);
        assertEquals(Status.Code.ALREADY_EXISTS, s.orElseThrow().getCode());
        assertTrue(s.get().getDescription().contains("fs_type ext4 vs xfs"), s.get().getDescription());
    }

    @Test
    void stageAtAnotherPathIsFailedPrecondition() {
        assertEquals(Status.Code.FAILED_PRECONDITION,
                Conflicts.stage(Optional.of(stage("v", "/s", "ext4")), stage("v", "/t", "ext4")).map(RpcEdge::statusOf).orElseThrow().getCode());
    }

    @Test
    void samePublishAgainIsFineFlagOrderDoesNotMatter() {
        Attachment a = pub("v", "/t", "SINGLE_NODE_WRITER", false, List.of("noatime", "nosuid"));
        Attachment b = pub("v", "/t", "SINGLE_NODE_WRITER", false, List.of("nosuid", "noatime"));
        assertTrue(Conflicts.publish(Optional.of(a), List.of(a), b).isEmpty());
    }

    @Test
    void sameTargetWithOtherReadOnlyOrCapabilityIsAlreadyExists() {
        Attachment a = pub("v", "/t", "SINGLE_NODE_WRITER", false, List.of());
        assertEquals(Status.Code.ALREADY_EXISTS, Conflicts.publish(Optional.of(a), List.of(a),
                pub("v", "/t", "SINGLE_NODE_WRITER", true, List.of())).map(RpcEdge::statusOf).orElseThrow().getCode());
        assertEquals(Status.Code.ALREADY_EXISTS, Conflicts.publish(Optional.of(a), List.of(a),
                pub("v", "/t", "SINGLE_NODE_MULTI_WRITER", false, List.of())).map(RpcEdge::statusOf).orElseThrow().getCode());
        assertEquals(Status.Code.ALREADY_EXISTS, Conflicts.publish(Optional.of(a), List.of(a),
                pub("v", "/t", "SINGLE_NODE_WRITER", false, List.of("noexec"))).map(RpcEdge::statusOf).orElseThrow().getCode());
        assertEquals(Status.Code.ALREADY_EXISTS, Conflicts.publish(Optional.of(a), List.of(),
                pub("w", "/t", "SINGLE_NODE_WRITER", false, List.of())).map(RpcEdge::statusOf).orElseThrow().getCode());
    }

    @Test
    void singleWriterAtASecondTargetIsFailedPrecondition() {
        Attachment first = pub("v", "/t1", "SINGLE_NODE_SINGLE_WRITER", false, List.of());
        assertEquals(Status.Code.FAILED_PRECONDITION, Conflicts.publish(Optional.empty(), List.of(first),
                pub("v", "/t2", "SINGLE_NODE_SINGLE_WRITER", false, List.of())).map(RpcEdge::statusOf).orElseThrow().getCode());
        Attachment multi = pub("v", "/t1", "SINGLE_NODE_MULTI_WRITER", false, List.of());
        assertTrue(Conflicts.publish(Optional.empty(), List.of(multi),
                pub("v", "/t2", "SINGLE_NODE_MULTI_WRITER", false, List.of())).isEmpty());
        assertTrue(Conflicts.publish(Optional.empty(), List.of(multi),
                pub("v", "/t2", "SINGLE_NODE_WRITER", true, List.of())).isEmpty(), "a second reader is allowed");
    }
}

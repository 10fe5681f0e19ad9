package dev.pmemcsi.driver;

/**
 * A volume's accessibility requirements name only other nodes, and each driver instance provisions
 * its own node's PMEM alone. The RPC edge answers RESOURCE_EXHAUSTED, the code the CSI spec
 * prescribes when a volume cannot be provisioned in the requested topology.
 */
public class NodeExcludedException extends Exception {
    private static final long serialVersionUID = 1L;

    public NodeExcludedException(String message) {
        super(message);
    }
}

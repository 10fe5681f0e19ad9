package dev.pmemcsi.driver;

/**
 * A filesystem was thawed before the copy of its device finished, because the freeze reached its
 * time limit: the copy is not consistent and was thrown away. The RPC edge answers ABORTED; the
 * caller retries, which succeeds when the copy is faster (a less busy node) or the limit larger.
 */
public class FreezeExpiredException extends Exception {
    private static final long serialVersionUID = 1L;

    public FreezeExpiredException(String message) {
        super(message);
    }
}

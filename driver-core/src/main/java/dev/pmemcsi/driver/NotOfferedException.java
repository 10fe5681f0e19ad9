package dev.pmemcsi.driver;

/**
 * A call for a capability this driver does not advertise. The RPC edge answers UNIMPLEMENTED with
 * this message, which says why the capability is missing, so that whoever called it learns more
 * than the method's name.
 */
public class NotOfferedException extends Exception {
    private static final long serialVersionUID = 1L;

    public NotOfferedException(String message) {
        super(message);
    }
}

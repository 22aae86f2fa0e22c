package io.condcast;

/** What happened to an object after it was sent (SPEC 4.4). */
public enum LifecycleAction {
    /** The object was deleted; receivers drop it. */
    DELETED("deleted", 1),
    /** The object's end of validity and/or metadata changed. */
    UPDATED("updated", 2);

    private final String text;
    private final int wireValue;

    LifecycleAction(final String text, final int wireValue) {
        this.text = text;
        this.wireValue = wireValue;
    }

    /** @return {@code "deleted"} or {@code "updated"}, as in the vectors */
    public String text() {
        return text;
    }

    /** @return the enum value on the wire */
    public int wireValue() {
        return wireValue;
    }
}

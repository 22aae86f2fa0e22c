package io.condcast.cli;

/** A command-line mistake: exit code 2 with a message on standard error. */
final class UsageError extends Exception {
    private static final long serialVersionUID = 1L;

    UsageError(final String message) {
        super(message);
    }
}

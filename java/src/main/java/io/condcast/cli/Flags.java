package io.condcast.cli;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The shared CLI contract (spec/CLI.md; mirrors {@code ts/src/cli/options.ts}): {@code --flag value} or
 * {@code --flag=value}, every flag also from {@code CONDCAST_<FLAG>} (the command line wins; a
 * repeatable flag's variable holds one value per line).
 */
final class Flags {
    /** Kinds of flags. */
    enum Type { STRING, MULTIPLE, BOOLEAN }

    static final Map<String, Type> COMMON = new LinkedHashMap<>();

    static {
        for (final String name : List.of("group", "port", "interface", "ttl", "datagram-size", "rate", "key-file", "key-id")) {
            COMMON.put(name, Type.STRING);
        }
        COMMON.put("help", Type.BOOLEAN);
    }

    private final Map<String, List<String>> values = new LinkedHashMap<>();
    private final List<String> positionals = new ArrayList<>();

    static String envName(final String flag) {
        return "CONDCAST_" + flag.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    static Flags parse(final String[] args, final Map<String, Type> spec, final Map<String, String> env) throws UsageError {
        final Flags f = new Flags();
        boolean optionsEnded = false;
        for (int i = 0; i < args.length; i++) {
            final String arg = args[i];
            if (optionsEnded || !arg.startsWith("-") || arg.equals("-")) {
                f.positionals.add(arg);
                continue;
            }
            if (arg.equals("--")) {
                optionsEnded = true;
                continue;
            }
            if (!arg.startsWith("--")) {
                throw new UsageError("Unknown option '" + arg + "'");
            }
            final int eq = arg.indexOf('=');
            final String name = eq < 0 ? arg.substring(2) : arg.substring(2, eq);
            final Type type = spec.get(name);
            if (type == null) {
                throw new UsageError("Unknown option '--" + name + "'");
            }
            if (type == Type.BOOLEAN) {
                if (eq >= 0) {
                    throw new UsageError("Option '--" + name + "' does not take an argument");
                }
                f.values.put(name, List.of("true"));
                continue;
            }
            final String value;
            if (eq >= 0) {
                value = arg.substring(eq + 1);
            } else {
                if (i + 1 >= args.length || (args[i + 1].startsWith("-") && !args[i + 1].equals("-"))) {
                    throw new UsageError("Option '--" + name + " <value>' argument missing");
                }
                value = args[++i];
            }
            if (type == Type.MULTIPLE) {
                f.values.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            } else {
                f.values.put(name, List.of(value));
            }
        }
        for (final Map.Entry<String, Type> e : spec.entrySet()) {
            if (f.values.containsKey(e.getKey()) || e.getValue() == Type.BOOLEAN) {
                continue;
            }
            final String fromEnv = env.get(envName(e.getKey()));
            if (fromEnv == null || fromEnv.isEmpty()) {
                continue;
            }
            if (e.getValue() == Type.MULTIPLE) {
                final List<String> lines = new ArrayList<>();
                for (final String line : fromEnv.split("\n")) {
                    if (!line.isEmpty()) {
                        lines.add(line);
                    }
                }
                f.values.put(e.getKey(), lines);
            } else {
                f.values.put(e.getKey(), List.of(fromEnv));
            }
        }
        return f;
    }

    List<String> positionals() {
        return positionals;
    }

    boolean bool(final String name) {
        return values.containsKey(name);
    }

    String string(final String name) {
        final List<String> v = values.get(name);
        return v == null || v.isEmpty() ? null : v.get(v.size() - 1);
    }

    List<String> list(final String name) {
        final List<String> v = values.get(name);
        return v == null ? List.of() : v;
    }

    /** An integer flag within [min, max]; {@code fallback} when absent. */
    Long integer(final String name, final Long fallback, final long min, final long max) throws UsageError {
        final String text = string(name);
        if (text == null) {
            return fallback;
        }
        final String t = text.strip();
        if (!t.matches("^-?\\d+$")) {
            throw new UsageError("--" + name + " must be an integer, got \"" + text + "\"");
        }
        final BigInteger v = new BigInteger(t);
        if (v.compareTo(BigInteger.valueOf(min)) < 0 || v.compareTo(BigInteger.valueOf(max)) > 0) {
            throw new UsageError("--" + name + " must be in [" + min + ", " + max + "], got " + text);
        }
        return v.longValue();
    }

    /** A number flag (may be fractional) &gt;= min. */
    double number(final String name, final double fallback, final double min) throws UsageError {
        final String text = string(name);
        if (text == null) {
            return fallback;
        }
        final double v;
        try {
            v = Double.parseDouble(text.strip());
        } catch (final NumberFormatException e) {
            throw new UsageError("--" + name + " must be a number >= " + Json.number(min) + ", got \"" + text + "\"");
        }
        if (text.isBlank() || !Double.isFinite(v) || v < min || text.strip().matches(".*[fFdD]$")) {
            throw new UsageError("--" + name + " must be a number >= " + Json.number(min) + ", got \"" + text + "\"");
        }
        return v;
    }
}

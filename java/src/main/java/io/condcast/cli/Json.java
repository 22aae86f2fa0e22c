package io.condcast.cli;

import io.condcast.CommitInfo;
import io.condcast.Ids;
import io.condcast.ObjectMetadata;
import java.util.Map;
import java.util.UUID;

/** Compact JSON as JavaScript's JSON.stringify writes it (spec/CLI.md; mirrors object-json.ts). */
final class Json {
    private Json() {
    }

    static String string(final String s) {
        final StringBuilder sb = new StringBuilder(s.length() + 2);
        string(sb, s);
        return sb.toString();
    }

    static void string(final StringBuilder sb, final String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            final char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20 || isLoneSurrogate(s, i)) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    private static boolean isLoneSurrogate(final String s, final int i) {
        final char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1));
        }
        if (Character.isLowSurrogate(c)) {
            return i == 0 || !Character.isHighSurrogate(s.charAt(i - 1));
        }
        return false;
    }

    /** A number as JavaScript prints it (integers without a fraction). */
    static String number(final double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e21) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    /**
     * The object line: id, senderId, sequence, path, size, md5, validFrom, validUntil, created,
     * contentType, fileName, metadata (keys in wire order: ascending UTF-8 bytes), and changeset only for an
     * object of a changeset (SPEC 11).
     */
    static String objectLine(final UUID id, final long senderId, final long sequence, final ObjectMetadata meta,
                             final long size) {
        final StringBuilder sb = new StringBuilder(256);
        sb.append("{\"id\":");
        string(sb, id.toString());
        sb.append(",\"senderId\":");
        string(sb, Ids.formatSenderId(senderId));
        sb.append(",\"sequence\":").append(sequence);
        sb.append(",\"path\":");
        string(sb, meta.path());
        sb.append(",\"size\":").append(size);
        sb.append(",\"md5\":");
        string(sb, meta.md5());
        sb.append(",\"validFrom\":").append(meta.validFrom());
        sb.append(",\"validUntil\":").append(meta.validUntil());
        sb.append(",\"created\":").append(meta.created());
        sb.append(",\"contentType\":");
        string(sb, meta.contentType());
        sb.append(",\"fileName\":");
        string(sb, meta.fileName());
        sb.append(",\"metadata\":{");
        boolean first = true;
        for (final Map.Entry<String, String> e : meta.metadata().entrySet()) { // sorted by UTF-8 bytes
            if (!first) {
                sb.append(',');
            }
            first = false;
            string(sb, e.getKey());
            sb.append(':');
            string(sb, e.getValue());
        }
        sb.append('}');
        if (meta.inChangeset()) {
            sb.append(",\"changeset\":");
            string(sb, meta.changeset());
        }
        return sb.append('}').toString();
    }

    /**
     * The fields of a commit event (without braces), as the vectors' {@code commit} JSON: senderId,
     * sequence, keytable, key, parentKey, changeset, objectCount, objectIds, removedPaths, committedAt,
     * aborted.
     */
    static String commitFields(final CommitInfo c) {
        final StringBuilder sb = new StringBuilder(256);
        sb.append("\"senderId\":");
        string(sb, Ids.formatSenderId(c.senderId()));
        sb.append(",\"sequence\":").append(c.sequence());
        sb.append(",\"keytable\":");
        string(sb, c.keytable());
        sb.append(",\"key\":").append(c.key());
        sb.append(",\"parentKey\":").append(c.parentKey());
        sb.append(",\"changeset\":");
        string(sb, c.changeset());
        sb.append(",\"objectCount\":").append(c.objectCount());
        sb.append(",\"objectIds\":[");
        for (int i = 0; i < c.objectIds().size(); i++) {
            sb.append(i == 0 ? "" : ",");
            string(sb, c.objectIds().get(i).toString());
        }
        sb.append("],\"removedPaths\":[");
        for (int i = 0; i < c.removedPaths().size(); i++) {
            sb.append(i == 0 ? "" : ",");
            string(sb, c.removedPaths().get(i));
        }
        sb.append("],\"committedAt\":").append(c.committedAt());
        sb.append(",\"aborted\":").append(c.aborted());
        return sb.toString();
    }
}

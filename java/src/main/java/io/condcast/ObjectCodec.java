package io.condcast;

import com.google.protobuf.ByteString;
import io.condcast.wire.v1.MetadataEntry;
import io.condcast.wire.v1.ObjectMeta;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The envelope head, ObjectMeta (SPEC 4.2), encoded and decoded with the generated protobuf-java codec:
 * once per object, never per datagram (mirrors {@code ts/src/wire/object.ts}).
 */
public final class ObjectCodec {
    private static final Pattern DIGITS = Pattern.compile("^[0-9]+$");
    private static final Pattern MD5_HEX = Pattern.compile("^[0-9a-f]{32}$");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1," + Wire.MAX_NAME_LENGTH + "}");

    private ObjectCodec() {
    }

    /**
     * Why metadata violates SPEC 4.2, or null. As the reference, times must also be exact in every
     * language (|t| at most 2^53 - 1) and metadata keys non-empty.
     *
     * @param meta the metadata
     * @return a description of the problem, or null
     */
    public static String metadataProblem(final ObjectMetadata meta) {
        final String path = meta.path();
        if (path.isEmpty()) {
            return "path is empty";
        }
        if (path.startsWith("/") || path.endsWith("/")) {
            return "path must not start or end with '/'";
        }
        for (final String element : path.split("/", -1)) {
            if (element.isEmpty() || DIGITS.matcher(element).matches()) {
                return "path elements must be non-empty and not all digits";
            }
        }
        for (final long t : new long[] {meta.validFrom(), meta.validUntil(), meta.created()}) {
            if (t > Wire.MAX_SEQUENCE || t < -Wire.MAX_SEQUENCE) {
                return "times must be integers (epoch ms) of at most 2^53 - 1 in magnitude";
            }
        }
        if (meta.validFrom() >= meta.validUntil()) {
            return "validFrom must be before validUntil";
        }
        if (!MD5_HEX.matcher(meta.md5()).matches()) {
            return "md5 must be 32 lowercase hex digits";
        }
        for (final String key : meta.metadata().keySet()) {
            if (key.isEmpty()) {
                return "metadata keys must be non-empty";
            }
        }
        if (!meta.changeset().isEmpty() && !isChangesetId(meta.changeset())) {
            return "changeset must be 1 to 64 bytes of [A-Za-z0-9._-]";
        }
        return null;
    }

    /**
     * Whether text is a valid changeset id or keytable name (SPEC 4.5): 1 to 64 bytes of
     * {@code [A-Za-z0-9._-]}.
     *
     * @param text the id
     * @return true when valid
     */
    public static boolean isChangesetId(final String text) {
        return NAME.matcher(text).matches();
    }

    /**
     * Whether text is a valid keytable name (the same rule as a changeset id).
     *
     * @param text the name
     * @return true when valid
     */
    public static boolean isKeytableName(final String text) {
        return isChangesetId(text);
    }

    /**
     * The envelope head: ObjectMeta in its deterministic encoding (SPEC 3).
     *
     * @param meta the metadata
     * @return the encoded ObjectMeta
     * @throws IllegalArgumentException when the metadata violates SPEC 4.2
     */
    public static byte[] encodeObjectMeta(final ObjectMetadata meta) {
        final String problem = metadataProblem(meta);
        if (problem != null) {
            throw new IllegalArgumentException("invalid object metadata: " + problem);
        }
        final ObjectMeta.Builder b = ObjectMeta.newBuilder()
            .setPath(meta.path())
            .setValidFrom(meta.validFrom())
            .setValidUntil(meta.validUntil())
            .setCreated(meta.created())
            .setContentType(meta.contentType())
            .setFileName(meta.fileName())
            .setMd5(ByteString.copyFrom(Ids.unhex(meta.md5())))
            .setChangeset(meta.changeset());
        addEntries(meta.metadata(), b::addMetadata);
        return b.build().toByteArray();
    }

    static void addEntries(final Map<String, String> sorted, final java.util.function.Consumer<MetadataEntry> add) {
        for (final Map.Entry<String, String> e : sorted.entrySet()) {
            add.accept(MetadataEntry.newBuilder().setKey(e.getKey()).setValue(e.getValue()).build());
        }
    }

    /**
     * Decodes an envelope head; null when it is not valid ObjectMeta (reason {@code bad_metadata}).
     *
     * @param buf the envelope
     * @param start where the head starts (absolute)
     * @param end where it ends
     * @return the metadata, or null
     */
    public static ObjectMetadata decodeObjectMeta(final ByteBuffer buf, final int start, final int end) {
        final ObjectMeta m = ControlCodec.parseChecked(WireTypeCheck.OBJECT_META, ObjectMeta.parser(), buf, start, end);
        if (m == null || m.getMd5().size() != Wire.MD5_LENGTH) {
            return null;
        }
        final TreeMap<String, String> metadata = new TreeMap<>(Utf8Order.COMPARATOR);
        String previous = null;
        for (final MetadataEntry entry : m.getMetadataList()) {
            if (previous != null && Utf8Order.compare(previous, entry.getKey()) >= 0) {
                return null;
            }
            metadata.put(entry.getKey(), entry.getValue());
            previous = entry.getKey();
        }
        final ObjectMetadata meta = new ObjectMetadata(m.getPath(), m.getValidFrom(), m.getValidUntil(), m.getCreated(),
            m.getContentType(), m.getFileName(), Ids.hex(m.getMd5().toByteArray()), metadata, m.getChangeset());
        return metadataProblem(meta) == null ? meta : null;
    }

    /**
     * MD5 of bytes as 32 lowercase hex digits.
     *
     * @param payload the bytes (position to limit; the buffer's position is not moved)
     * @return the hex digest
     */
    public static String md5Hex(final ByteBuffer payload) {
        final MessageDigest md = newMd5();
        md.update(payload.duplicate());
        return Ids.hex(md.digest());
    }

    static MessageDigest newMd5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (final NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package io.condcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.condcast.wire.v1.Fragment;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The hand-written hot-path codec against protobuf-java and javax.crypto. */
class CodecTest {
    private static final long[] EDGE_LONGS = {0, 1, 127, 128, 16383, 16384, (1L << 31) - 1, 1L << 32, Wire.MAX_SEQUENCE,
        -1L, Long.MIN_VALUE, 0x0123456789abcdefL, 0xfedcba9876543210L};

    private static long pick(final Random r, final long max) {
        final long v = r.nextInt(4) == 0 ? EDGE_LONGS[r.nextInt(EDGE_LONGS.length)] : r.nextLong();
        return max == 0 ? v : Math.floorMod(v, max + 1);
    }

    @Test
    void handWrittenFragmentHeaderEqualsProtobufJava() {
        final Random r = new Random(5);
        final ByteBuffer out = ByteBuffer.allocateDirect(Wire.MAX_DATAGRAM_SIZE);
        for (int i = 0; i < 20_000; i++) {
            final long sender = pick(r, 0);
            final long sequence = pick(r, Wire.MAX_SEQUENCE);
            final UUID id = new UUID(r.nextLong(), r.nextLong());
            final long envelope = pick(r, Wire.MAX_ENVELOPE_LENGTH);
            final long metadata = pick(r, 0xFFFFFFFFL);
            final long fragmentSize = pick(r, 0xFFFFFFFFL);
            final long index = pick(r, 0xFFFFFFFFL);
            final boolean fec = r.nextBoolean();
            final long scheme = fec ? pick(r, 0xFFFFFFFFL) : 0;
            final long blockLength = fec ? pick(r, 0xFFFFFFFFL) : 0;
            final long parityCount = fec ? pick(r, 0xFFFFFFFFL) : 0;
            final byte[] chunk = new byte[r.nextInt(3) == 0 ? 0 : r.nextInt(r.nextBoolean() ? 200 : 65000)];
            r.nextBytes(chunk);
            final byte[] expected = Fragment.newBuilder().setSenderId(sender).setSequence(sequence)
                .setObjectId(ByteString.copyFrom(Ids.uuidToBytes(id))).setEnvelopeLength(envelope)
                .setMetadataLength((int) metadata).setFragmentSize((int) fragmentSize).setIndex((int) index)
                .setFecScheme((int) scheme).setFecBlockLength((int) blockLength).setFecParityCount((int) parityCount)
                .setChunk(ByteString.copyFrom(chunk)).build().toByteArray();
            int at = FragmentView.writeHeader(out, 3, sender, sequence, id.getMostSignificantBits(),
                id.getLeastSignificantBits(), envelope, metadata, fragmentSize, index, scheme, blockLength, parityCount,
                chunk.length);
            if (!fec) {
                assertTrue(at - 3 <= Wire.MAX_FRAGMENT_HEADER, "header within MAX_FRAGMENT_HEADER");
            }
            out.put(at, chunk);
            at += chunk.length;
            final byte[] got = new byte[at - 3];
            out.get(3, got);
            assertArrayEquals(expected, got, "iteration " + i);
        }
    }

    @Test
    void maxFragmentHeaderIsTheLargestPossibleHeader() {
        final ByteBuffer out = ByteBuffer.allocate(200);
        final int length = FragmentView.writeHeader(out, 0, -1L, Wire.MAX_SEQUENCE, -1L, -1L, -1L, 0xFFFFFFFFL,
            0xFFFFFFFFL, 0xFFFFFFFFL, Wire.MAX_DATAGRAM_SIZE);
        // uint64 envelope_length of all ones takes 10 bytes; SPEC 2.4 counts 11 bytes for field 4 plus
        // 18 for 3, so the largest writable header is at most 72.
        assertTrue(length <= Wire.MAX_FRAGMENT_HEADER, "length " + length);
        // With FEC (SPEC 2.4): the largest header a sender writes (envelope < 2^31, fragment_size <= 65507,
        // a parity index < 2^32, scheme 1, B + m <= 255) still fits.
        final int fec = FragmentView.writeHeader(out, 0, -1L, Wire.MAX_SEQUENCE, -1L, -1L, Wire.MAX_ENVELOPE_LENGTH,
            Wire.MAX_ENVELOPE_LENGTH, Wire.MAX_DATAGRAM_SIZE, 0xFFFFFFFFL, 1, 254, 254, Wire.MAX_DATAGRAM_SIZE);
        assertTrue(fec <= Wire.MAX_FRAGMENT_HEADER, "length with FEC " + fec);
    }

    @Test
    void flyweightReadsWhatProtobufJavaWrites() {
        final Random r = new Random(7);
        final FragmentView view = new FragmentView();
        for (int i = 0; i < 20_000; i++) {
            final long envelope = 1 + r.nextInt(1_000_000);
            final int fragmentSize = 1 + r.nextInt(Wire.MAX_DATAGRAM_SIZE);
            final long count = Wire.fragmentCount(envelope, fragmentSize);
            final int index = (int) Math.floorMod(r.nextLong(), count);
            final int chunkLength = (int) (index == count - 1 ? envelope - (count - 1) * fragmentSize : fragmentSize);
            final long sender = r.nextLong();
            final long sequence = 1 + pick(r, Wire.MAX_SEQUENCE - 1);
            final UUID id = new UUID(r.nextLong(), r.nextLong());
            final byte[] chunk = new byte[chunkLength];
            r.nextBytes(chunk);
            final long metadata = 1 + Math.floorMod(r.nextLong(), envelope);
            final byte[] body = Fragment.newBuilder().setSenderId(sender).setSequence(sequence)
                .setObjectId(ByteString.copyFrom(Ids.uuidToBytes(id))).setEnvelopeLength(envelope)
                .setMetadataLength((int) metadata).setFragmentSize(fragmentSize).setIndex(index)
                .setChunk(ByteString.copyFrom(chunk)).build().toByteArray();
            final ByteBuffer buf = ByteBuffer.allocateDirect(body.length + 5);
            buf.put(5, body);
            assertNull(view.parse(buf, 5, 5 + body.length, Wire.MAX_ENVELOPE_LENGTH));
            assertEquals(sender, view.senderId());
            assertEquals(sequence, view.sequence());
            assertEquals(id, view.objectId());
            assertEquals(envelope, view.envelopeLength());
            assertEquals(metadata, view.metadataLength());
            assertEquals(fragmentSize, view.fragmentSize());
            assertEquals(index, view.index());
            assertEquals(chunkLength, view.chunkLength());
            final byte[] got = new byte[chunkLength];
            buf.get(view.chunkOffset(), got);
            assertArrayEquals(chunk, got);
        }
    }

    @Test
    void flyweightSkipsUnknownFieldsAndRejectsWrongWireTypes() {
        final Fragment base = Fragment.newBuilder().setSenderId(1).setSequence(1)
            .setObjectId(ByteString.copyFrom(new byte[16])).setEnvelopeLength(1).setMetadataLength(1)
            .setFragmentSize(1).setChunk(ByteString.copyFrom(new byte[] {9})).build();
        // Field 11 (held for later FEC schemes), varint: skipped.
        final byte[] withUnknown = concat(base.toByteArray(), new byte[] {(byte) 0x58, 0x05});
        assertNull(new FragmentView().parse(ByteBuffer.wrap(withUnknown), 0, withUnknown.length, Wire.MAX_ENVELOPE_LENGTH));
        // Field 9 (fec_block_length) without a scheme: bad_fec (SPEC 5.1 row 13); as fixed32: malformed.
        final byte[] blockWithoutScheme = concat(base.toByteArray(), new byte[] {(byte) 0x48, 0x05});
        assertEquals(DropReason.BAD_FEC, new FragmentView().parse(ByteBuffer.wrap(blockWithoutScheme), 0,
            blockWithoutScheme.length, Wire.MAX_ENVELOPE_LENGTH));
        final byte[] blockFixed32 = concat(base.toByteArray(), new byte[] {(byte) 0x4d, 5, 0, 0, 0});
        assertEquals(DropReason.MALFORMED, new FragmentView().parse(ByteBuffer.wrap(blockFixed32), 0,
            blockFixed32.length, Wire.MAX_ENVELOPE_LENGTH));
        // Field 2 (sequence) as fixed32: malformed (protobuf-java would take it as an unknown field).
        final byte[] wrong = concat(base.toByteArray(), new byte[] {0x15, 1, 0, 0, 0});
        assertEquals(DropReason.MALFORMED, new FragmentView().parse(ByteBuffer.wrap(wrong), 0, wrong.length, Wire.MAX_ENVELOPE_LENGTH));
        // A group (wire type 3) of an unknown field: malformed.
        final byte[] group = concat(base.toByteArray(), new byte[] {0x4b, 0x4c});
        assertEquals(DropReason.MALFORMED, new FragmentView().parse(ByteBuffer.wrap(group), 0, group.length, Wire.MAX_ENVELOPE_LENGTH));
        // Field number 0: malformed.
        final byte[] zero = concat(base.toByteArray(), new byte[] {0x00, 0x00});
        assertEquals(DropReason.MALFORMED, new FragmentView().parse(ByteBuffer.wrap(zero), 0, zero.length, Wire.MAX_ENVELOPE_LENGTH));
        // A varint longer than 10 bytes: malformed.
        final byte[] longVarint = concat(base.toByteArray(), new byte[] {0x48, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1});
        assertEquals(DropReason.MALFORMED, new FragmentView().parse(ByteBuffer.wrap(longVarint), 0, longVarint.length, Wire.MAX_ENVELOPE_LENGTH));
    }

    @Test
    void uint32FieldsKeepTheirLow32BitsAsProtobufDoes() {
        final byte[] huge = {-1, -1, -1, -1, -1, -1, -1, -1, -1, 1}; // 2^64 - 1 as a 10-byte varint
        final byte[] twoTo32Plus5 = {(byte) 0x85, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x10}; // 2^32 + 5
        // metadata_length 2^64 - 1 reads as 0xFFFFFFFF > envelope_length: bad_length. (The TypeScript
        // reference reads it as NaN and accepts the fragment.)
        assertEquals(DropReason.BAD_LENGTH, parseWith(0x28, huge, 0x38, new byte[] {0}));
        // index 2^64 - 1 reads as 0xFFFFFFFF: index_out_of_range (TypeScript: NaN, accepted).
        assertEquals(DropReason.INDEX_OUT_OF_RANGE, parseWith(0x28, new byte[] {5}, 0x38, huge));
        // metadata_length 2^32 + 5 reads as 5, as protobuf-java's generated parser reads it.
        assertNull(parseWith(0x28, twoTo32Plus5, 0x38, new byte[] {0}));
        final byte[] body = body(0x28, twoTo32Plus5, 0x38, new byte[] {0});
        try {
            assertEquals(5, Fragment.parseFrom(body).getMetadataLength());
        } catch (final com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void controlMessagesRejectWrongWireTypesAndGroups() {
        // SPEC 5.1 row 10. (The TypeScript reference decodes these with protobuf-es, which reads a known
        // field by its declared type whatever the wire type, and skips groups: it accepts all three.)
        final DatagramDecoder decoder = new DatagramDecoder();
        for (final byte[] body : new byte[][] {{0x10, 0x05, 0x1a, 0x00}, {0x10, 0x05, 0x22, 0x00}, {0x10, 0x05, 0x4b, 0x4c}}) {
            final byte[] d = new byte[8 + body.length];
            System.arraycopy(new byte[] {(byte) 0xCC, (byte) 0xDB, 0x63, 0x63, 1, 2, 0, 0}, 0, d, 0, 8);
            System.arraycopy(body, 0, d, 8, body.length);
            assertEquals(DropReason.MALFORMED, decoder.decode(d), Ids.hex(body));
        }
        final byte[] ok = {(byte) 0xCC, (byte) 0xDB, 0x63, 0x63, 1, 2, 0, 0, 0x10, 0x05, 0x48, 0x00};
        assertNull(decoder.decode(ok), "an unknown varint field 9 is skipped");
        assertEquals(5, decoder.heartbeat().lastSequence());
        // A tag beyond 32 bits (field number 2^29 or more) is not protobuf.
        final byte[] hugeField = {(byte) 0xCC, (byte) 0xDB, 0x63, 0x63, 1, 2, 0, 0, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x10, 0x00};
        assertEquals(DropReason.MALFORMED, decoder.decode(hugeField));
        // ObjectMeta with md5 (bytes) sent as a varint: bad_metadata.
        final byte[] meta = {0x0a, 0x01, 0x41, 0x18, 0x01, 0x38, 0x00};
        assertNull(ObjectCodec.decodeObjectMeta(ByteBuffer.wrap(meta), 0, meta.length));
    }

    private static byte[] body(final int tagA, final byte[] varintA, final int tagB, final byte[] varintB) {
        final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(new byte[] {0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x10, 1, 0x1a, 16});
        out.writeBytes(new byte[16]);
        out.writeBytes(new byte[] {0x20, 10, 0x30, 10});
        out.write(tagA);
        out.writeBytes(varintA);
        out.write(tagB);
        out.writeBytes(varintB);
        out.writeBytes(new byte[] {0x7a, 10});
        out.writeBytes(new byte[10]);
        return out.toByteArray();
    }

    private static DropReason parseWith(final int tagA, final byte[] varintA, final int tagB, final byte[] varintB) {
        final byte[] b = body(tagA, varintA, tagB, varintB);
        return new FragmentView().parse(ByteBuffer.wrap(b), 0, b.length, Wire.MAX_ENVELOPE_LENGTH);
    }

    private static byte[] concat(final byte[] a, final byte[] b) {
        final byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void hmacMatchesJavaxCrypto() throws Exception {
        final Random r = new Random(11);
        for (int i = 0; i < 300; i++) {
            final byte[] key = new byte[16 + r.nextInt(i % 3 == 0 ? 120 : 40)]; // also keys longer than a block
            r.nextBytes(key);
            final byte[] data = new byte[r.nextInt(3000)];
            r.nextBytes(data);
            final Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            final byte[] expected = Arrays.copyOf(mac.doFinal(data), 16);
            final ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data);
            final byte[] got = Arrays.copyOf(new DatagramAuth(key).compute(direct, data.length), 16);
            assertArrayEquals(expected, got);
            assertEquals(data.length, direct.position(), "position restored");
        }
    }

    @Test
    void fragmentSizesOfSpec24() {
        assertEquals(1392, Wire.fragmentSizeFor(1472, false));
        assertEquals(1372, Wire.fragmentSizeFor(1472, true));
        assertEquals(65427, Wire.fragmentSizeFor(65507, false));
        assertThrows(IllegalArgumentException.class, () -> Wire.fragmentSizeFor(255, false));
        assertThrows(IllegalArgumentException.class, () -> Wire.fragmentSizeFor(65508, false));
    }

    @Test
    void idsAndUtf8Order() {
        assertEquals("0000000000000abc", Ids.formatSenderId(Ids.parseSenderId("ABC")));
        assertEquals("fedcba9876543210", Ids.formatSenderId(Ids.parseSenderId("fedcba9876543210")));
        assertThrows(IllegalArgumentException.class, () -> Ids.parseSenderId("12345678901234567"));
        assertThrows(IllegalArgumentException.class, () -> Ids.parseUuid("3f2504e04f8911d39a0c0305e82c3301"));
        // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 ...) by UTF-8 bytes, not by UTF-16.
        final String bmp = "\uFF5E";
        final String astral = new String(Character.toChars(0x1F600));
        assertTrue(bmp.compareTo(astral) > 0, "UTF-16 order differs");
        assertTrue(Utf8Order.compare(bmp, astral) < 0);
        assertEquals(java.util.List.of("a", bmp, astral),
            new java.util.ArrayList<>(ObjectMetadata.sortedCopy(Map.of(astral, "", "a", "", bmp, "")).keySet()));
    }

    @Test
    void encoderRejectsWhatSpecForbids() {
        final ObjectMetadata ok = ObjectMetadata.of("A/B", 0, 1, 0, "t", "f", "d41d8cd98f00b204e9800998ecf8427e", Map.of());
        final ByteBuffer empty = ByteBuffer.allocate(0);
        new ObjectEncoder(1, 1, UUID.randomUUID(), ok, empty, 256, null);
        assertThrows(IllegalArgumentException.class, () -> new ObjectEncoder(1, 0, UUID.randomUUID(), ok, empty, 256, null));
        assertThrows(IllegalArgumentException.class,
            () -> new ObjectEncoder(1, Wire.MAX_SEQUENCE + 1, UUID.randomUUID(), ok, empty, 256, null));
        for (final String path : new String[] {"", "/A", "A/", "A//B", "A/123"}) {
            final ObjectMetadata bad = ObjectMetadata.of(path, 0, 1, 0, "t", "f", ok.md5(), Map.of());
            assertThrows(IllegalArgumentException.class, () -> ObjectCodec.encodeObjectMeta(bad), path);
        }
        final ObjectMetadata backwards = ObjectMetadata.of("A", 1, 1, 0, "t", "f", ok.md5(), Map.of());
        assertThrows(IllegalArgumentException.class, () -> ObjectCodec.encodeObjectMeta(backwards));
    }
}

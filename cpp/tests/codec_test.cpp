// The hand-written hot-path codec against the protoc-generated one, plus the small pieces.
#include <gtest/gtest.h>

#include <random>

#include "condcast/v1/wire.pb.h"
#include "test_support.hpp"

using namespace condcast;
using namespace testsupport;

namespace {

std::vector<std::uint8_t> handWritten(const FragmentTemplate& t, std::uint32_t index, std::span<const std::uint8_t> chunk) {
  std::vector<std::uint8_t> out(kMaxFragmentHeader + chunk.size());
  const std::size_t n = writeFragmentHeader(out.data(), t, index, chunk.size());
  EXPECT_EQ(n, fragmentHeaderLength(t, index, chunk.size()));
  EXPECT_LE(n, kMaxFragmentHeader);
  std::copy(chunk.begin(), chunk.end(), out.begin() + static_cast<std::ptrdiff_t>(n));
  out.resize(n + chunk.size());
  return out;
}

std::vector<std::uint8_t> generated(const FragmentTemplate& t, std::uint32_t index, std::span<const std::uint8_t> chunk) {
  v1::Fragment f;
  f.set_sender_id(t.senderId);
  f.set_sequence(t.sequence);
  f.set_object_id(t.objectId, kObjectIdLength);
  f.set_envelope_length(t.envelopeLength);
  f.set_metadata_length(t.metadataLength);
  f.set_fragment_size(t.fragmentSize);
  f.set_index(index);
  f.set_fec_scheme(t.fecScheme);
  f.set_fec_block_length(t.fecBlockLength);
  f.set_fec_parity_count(t.fecParityCount);
  f.set_chunk(chunk.data(), chunk.size());
  std::string s;
  EXPECT_TRUE(f.SerializeToString(&s));
  return {s.begin(), s.end()};
}

TEST(FragmentHeader, EqualsProtobufSerialization) {
  std::mt19937_64 rng(42);
  const std::uint64_t sequences[] = {1, 127, 128, 16383, 16384, 1ULL << 32, kMaxSequence};
  const std::uint64_t senders[] = {0, 1, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, ~0ULL};
  const std::uint64_t envelopes[] = {1, 127, 128, 1392, 10'000'000, kMaxEnvelopeLength};
  const std::uint32_t indexes[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 0xFFFFFFFFu};
  const std::uint32_t sizes[] = {1, 127, 128, 1392, 65507};
  int cases = 0;
  for (auto seq : sequences)
    for (auto sender : senders)
      for (auto env : envelopes)
        for (auto index : indexes)
          for (auto size : sizes) {
            FragmentTemplate t;
            t.senderId = sender;
            t.sequence = seq;
            for (auto& b : t.objectId) b = static_cast<std::uint8_t>(rng());
            t.envelopeLength = env;
            t.metadataLength = static_cast<std::uint32_t>(std::min<std::uint64_t>(env, rng() % 70000 + 1));
            t.fragmentSize = size;
            if (cases % 3 != 0) {  // FEC fields (SPEC 10): scheme 1, B, m
              t.fecScheme = 1;
              t.fecBlockLength = static_cast<std::uint32_t>(rng() % 254 + 1);
              t.fecParityCount = static_cast<std::uint32_t>(rng() % (256 - t.fecBlockLength));
            }
            const auto chunk = pattern(rng() % 3 == 0 ? 0 : rng() % 300 + (cases % 2 ? 128 : 1), static_cast<std::uint32_t>(cases));
            ASSERT_EQ(handWritten(t, index, chunk), generated(t, index, chunk)) << "case " << cases;
            cases++;
          }
  EXPECT_GT(cases, 5000);
}

TEST(FragmentView, ReadsWhatProtobufWrote) {
  std::mt19937_64 rng(7);
  DatagramDecoder decoder;
  for (int i = 0; i < 2000; i++) {
    v1::Fragment f;
    const std::uint32_t size = static_cast<std::uint32_t>(rng() % 2000 + 1);
    const std::uint64_t env = rng() % 100000 + 1;
    const std::uint64_t count = fragmentCount(env, size);
    const std::uint32_t index = static_cast<std::uint32_t>(rng() % count);
    const std::uint64_t chunkLength = index == count - 1 ? env - (count - 1) * size : size;
    f.set_sender_id(rng());
    f.set_sequence(rng() % kMaxSequence + 1);
    const auto id = pattern(16, static_cast<std::uint32_t>(i));
    f.set_object_id(id.data(), id.size());
    f.set_envelope_length(env);
    f.set_metadata_length(static_cast<std::uint32_t>(rng() % env + 1));
    f.set_fragment_size(size);
    f.set_index(index);
    const auto chunk = pattern(static_cast<std::size_t>(chunkLength), static_cast<std::uint32_t>(i + 1));
    f.set_chunk(chunk.data(), chunk.size());
    std::string body;
    ASSERT_TRUE(f.SerializeToString(&body));
    if (i % 3 == 1) body += std::string("\xa0\x01\x05", 3);  // unknown field 20 (varint): skipped
    if (i % 3 == 2) body += std::string("\xaa\x01\x02xy", 5);  // unknown field 21 (bytes): skipped
    std::vector<std::uint8_t> datagram(kPreambleLength);
    writePreamble(datagram.data(), DatagramKind::Fragment, false);
    datagram.insert(datagram.end(), body.begin(), body.end());
    const auto r = decoder.decode(datagram);
    ASSERT_EQ(r.kind, Decoded::Fragment) << toString(r.reason);
    const auto& v = decoder.fragment();
    EXPECT_EQ(v.senderId(), f.sender_id());
    EXPECT_EQ(v.sequence(), f.sequence());
    EXPECT_EQ(std::string(v.objectId().begin(), v.objectId().end()), f.object_id());
    EXPECT_EQ(v.envelopeLength(), f.envelope_length());
    EXPECT_EQ(v.metadataLength(), f.metadata_length());
    EXPECT_EQ(v.fragmentSize(), f.fragment_size());
    EXPECT_EQ(v.index(), f.index());
    EXPECT_EQ(std::string(v.chunk().begin(), v.chunk().end()), f.chunk());
    // The view points into the datagram: nothing was copied.
    EXPECT_GE(v.chunk().data(), datagram.data());
    EXPECT_LE(v.chunk().data() + v.chunk().size(), datagram.data() + datagram.size());
  }
}

std::vector<std::uint8_t> fragmentDatagram(const std::string& body) {
  std::vector<std::uint8_t> d(kPreambleLength);
  writePreamble(d.data(), DatagramKind::Fragment, false);
  d.insert(d.end(), body.begin(), body.end());
  return d;
}

TEST(FragmentView, MalformedBodies) {
  DatagramDecoder decoder;
  const std::pair<std::string, DropReason> cases[] = {
      {std::string("\x00", 1), DropReason::Malformed},                       // field number 0
      {std::string("\x10", 1), DropReason::Malformed},                       // varint missing
      {std::string("\x10\x80", 2), DropReason::Malformed},                   // truncated varint
      {std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12), DropReason::Malformed},  // 11-byte varint
      {std::string("\x11\x01\x02\x03\x04\x05\x06\x07\x08", 9), DropReason::Malformed},  // sequence as fixed64
      {std::string("\x0b", 1), DropReason::Malformed},                       // group start
      {std::string("\xa3\x01", 2), DropReason::Malformed},                   // unknown field, group wire type
      {std::string("\xa6\x01", 2), DropReason::Malformed},                   // wire type 6
      {std::string("\x1a\x10", 2), DropReason::Malformed},                   // length past the end
      {std::string("\x09\x01\x02", 3), DropReason::Malformed},               // fixed64 cut short
      {std::string("\x10\x01", 2), DropReason::BadObjectId},                 // no object id
      {std::string("", 0), DropReason::Malformed},                           // sequence 0
  };
  for (const auto& [body, reason] : cases) {
    const auto r = decoder.decode(fragmentDatagram(body));
    ASSERT_EQ(r.kind, Decoded::Rejected);
    EXPECT_EQ(toString(r.reason), toString(reason)) << toHex(std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  }
}

TEST(Sizes, FragmentSizeFor) {
  EXPECT_EQ(fragmentSizeFor(1472, false), 1392u);
  EXPECT_EQ(fragmentSizeFor(1472, true), 1372u);
  EXPECT_EQ(fragmentSizeFor(65507, false), 65427u);
  EXPECT_THROW(fragmentSizeFor(255, false), Error);
  EXPECT_THROW(fragmentSizeFor(65508, false), Error);
  EXPECT_EQ(fragmentCount(1392, 1392), 1u);
  EXPECT_EQ(fragmentCount(1393, 1392), 2u);
}

ObjectMetadata sampleMeta() {
  ObjectMetadata m;
  m.path = "TPC/Calib/Gain";
  m.validFrom = 1;
  m.validUntil = 2;
  m.created = 3;
  m.contentType = "application/octet-stream";
  m.fileName = "f";
  m.metadata = {{"b", "2"}, {"a", "1"}};
  return m;
}

TEST(ObjectMeta, ProblemsAndRoundTrip) {
  ObjectMetadata m = sampleMeta();
  EXPECT_FALSE(metadataProblem(m));
  const std::string head = encodeObjectMeta(m);
  auto back = decodeObjectMeta({reinterpret_cast<const std::uint8_t*>(head.data()), head.size()});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->metadata, (Metadata{{"a", "1"}, {"b", "2"}}));
  for (const char* bad : {"", "/a", "a/", "a//b", "a/123/b", "42"}) {
    ObjectMetadata x = sampleMeta();
    x.path = bad;
    EXPECT_TRUE(metadataProblem(x)) << bad;
    EXPECT_THROW(encodeObjectMeta(x), Error);
  }
  ObjectMetadata times = sampleMeta();
  times.validUntil = times.validFrom;
  EXPECT_TRUE(metadataProblem(times));
  times.validUntil = static_cast<std::int64_t>(kMaxSequence) + 1;
  EXPECT_TRUE(metadataProblem(times));
  ObjectMetadata key = sampleMeta();
  key.metadata = {{"", "x"}};
  EXPECT_TRUE(metadataProblem(key));
  // Entries out of order or repeated on the wire: bad_metadata.
  v1::ObjectMeta raw;
  raw.set_path("a");
  raw.set_valid_until(5);
  raw.set_md5(std::string(16, 'x'));
  auto* e1 = raw.add_metadata();
  e1->set_key("k");
  auto* e2 = raw.add_metadata();
  e2->set_key("k");
  std::string bytes = raw.SerializeAsString();
  EXPECT_FALSE(decodeObjectMeta({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
  raw.mutable_metadata()->RemoveLast();
  bytes = raw.SerializeAsString();
  EXPECT_TRUE(decodeObjectMeta({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
  raw.set_md5("short");
  bytes = raw.SerializeAsString();
  EXPECT_FALSE(decodeObjectMeta({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
}

TEST(ObjectMeta, WireLevelChecks) {
  ObjectMetadata m = sampleMeta();
  const std::string good = encodeObjectMeta(m);
  const auto decode = [](const std::string& bytes) {
    return decodeObjectMeta({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  };
  ASSERT_TRUE(decode(good));
  EXPECT_TRUE(decode(good + std::string("\xa0\x06\x01", 3)));       // unknown field 100 (varint): skipped
  EXPECT_FALSE(decode(good + std::string("\x10\x01", 2) + "x"));     // truncated trailing tag / value
  EXPECT_FALSE(decode(good + std::string("\x12\x01x", 3)));          // valid_from (varint) length-delimited
  EXPECT_FALSE(decode(good + std::string("\xa3\x06\xa4\x06", 4)));  // a group (field 100)
  // Field number 2^29 - 1 (the largest) is an unknown field like any other; 2^29 is malformed.
  EXPECT_TRUE(decode(good + std::string("\xf8\xff\xff\xff\x0f\x01", 6)));
  EXPECT_FALSE(decode(good + std::string("\x80\x80\x80\x80\x10\x01", 6)));
  // A nested MetadataEntry whose key (string) arrives as a varint.
  EXPECT_FALSE(decode(good + std::string("\x42\x02\x08\x01", 4)));
}

TEST(Control, TagsAreAtMostFiveBytes) {
  // A tag is a uint32 varint (SPEC 5.1 row 10): a padded tag of up to 5 bytes is accepted, a longer one
  // is malformed, in control messages as in fragments.
  DatagramDecoder decoder;
  std::vector<std::uint8_t> d = encodeHeartbeat({0x0123456789abcdefULL, 7, 1700000000500, 1000, "name", {}});
  const std::uint8_t paddedName[] = {0xaa, 0x80, 0x80, 0x80, 0x00, 0x02, 'n', '2'};  // field 5 (string), 5 bytes
  d.insert(d.end(), std::begin(paddedName), std::end(paddedName));
  const auto r = decoder.decode(d);
  ASSERT_EQ(r.kind, Decoded::Heartbeat) << toString(r.reason);
  EXPECT_EQ(decoder.heartbeat().senderName, "n2");  // the last value counts
  EXPECT_EQ(decoder.heartbeat().lastSequence, 7u);
  const std::uint8_t sixBytes[] = {0xb8, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01};  // field 7 (varint), 6 bytes
  std::vector<std::uint8_t> bad = encodeHeartbeat({1, 7, 1, 1000, "", {}});
  bad.insert(bad.end(), std::begin(sixBytes), std::end(sixBytes));
  EXPECT_EQ(decoder.decode(bad).reason, DropReason::Malformed);
}

TEST(ObjectMeta, Utf8Order) {
  EXPECT_TRUE(utf8Less("Z", "a"));
  EXPECT_TRUE(utf8Less("a", "\xc3\xa9"));  // "é" sorts after ASCII by its bytes
  EXPECT_TRUE(utf8Less("10", "2"));        // byte order, not numeric order
  EXPECT_TRUE(utf8Less("a", "ab"));
  EXPECT_FALSE(utf8Less("ab", "ab"));
  const Metadata sorted = sortedMetadata({{"\xc3\xa9", "1"}, {"b", "2"}, {"B", "3"}, {"b", "4"}});
  EXPECT_EQ(sorted, (Metadata{{"B", "3"}, {"b", "4"}, {"\xc3\xa9", "1"}}));
}

TEST(ObjectEncoder, ChunksPointIntoThePayload) {
  const auto payload = pattern(100'000);
  ObjectMetadata meta = sampleMeta();
  meta.md5 = md5(payload);
  ObjectEncoder encoder({1, 1, randomUuid(), meta, payload}, 1472);
  std::uint8_t header[kDatagramHeaderRoom];
  std::uint8_t trailer[kAuthTrailerLength];
  std::uint64_t covered = 0;
  for (std::uint32_t i = 0; i < encoder.count(); i++) {
    const auto p = encoder.prepare(i, header, trailer);
    EXPECT_LE(p.length(), encoder.datagramSize());
    if (i > 0) {
      // after the metadata, every chunk is a view into the caller's payload
      EXPECT_TRUE(p.chunk[0].data() >= payload.data() && p.chunk[0].data() + p.chunk[0].size() <= payload.data() + payload.size());
    }
    covered += p.chunk[0].size() + p.chunk[1].size();
  }
  EXPECT_EQ(covered, encoder.envelopeLength());
  EXPECT_THROW(ObjectEncoder({1, 0, randomUuid(), meta, payload}, 1472), Error);
}

TEST(Ids, TextForms) {
  EXPECT_EQ(formatSenderId(0xabc), "0000000000000abc");
  EXPECT_EQ(parseSenderId("FEDCBA9876543210"), 0xfedcba9876543210ULL);
  EXPECT_THROW(parseSenderId("12345678901234567"), Error);
  EXPECT_THROW(parseSenderId("xyz"), Error);
  const auto id = parseUuid("3F2504E0-4F89-11D3-9A0C-0305E82C3301");
  EXPECT_EQ(formatUuid(id), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  EXPECT_THROW(parseUuid("3f2504e0-4f89-11d3-9a0c-0305e82c330"), Error);
  EXPECT_NE(randomUuid(), randomUuid());
}

TEST(Keys, HexParsing) {
  EXPECT_EQ(parseKeyHex(" 00010203 04050607\n08090a0b0c0d0e0f \n").size(), 16u);
  EXPECT_THROW(parseKeyHex("000102"), Error);
  EXPECT_THROW(parseKeyHex("zz0102030405060708090a0b0c0d0e0f"), Error);
}

TEST(Json, EscapesLikeJsonStringify) {
  std::string out;
  appendJsonString(out, std::string("a\"b\\c\n\t\x01\x1f\x7f \xe2\x9c\x93", 14));
  EXPECT_EQ(out, std::string("\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f \xe2\x9c\x93\""));
  ObjectMetadata m = sampleMeta();
  m.md5 = md5({});
  const std::string line = objectLine(parseUuid("3f2504e0-4f89-11d3-9a0c-0305e82c3301"), 0x0123456789abcdefULL, 1, m, 0);
  EXPECT_EQ(line,
            "{\"id\":\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\",\"senderId\":\"0123456789abcdef\",\"sequence\":1,"
            "\"path\":\"TPC/Calib/Gain\",\"size\":0,\"md5\":\"d41d8cd98f00b204e9800998ecf8427e\",\"validFrom\":1,"
            "\"validUntil\":2,\"created\":3,\"contentType\":\"application/octet-stream\",\"fileName\":\"f\","
            "\"metadata\":{\"a\":\"1\",\"b\":\"2\"}}");
}

TEST(Auth, SignedDatagramVerifies) {
  const auto key = pattern(32);
  Hmac hmac(key);
  Signer signer{9, hmac};
  const auto d = encodeHeartbeat({1, 2, 3, 4, "x", {}}, &signer);
  std::size_t bodyEnd = 0;
  AuthVerifier good(KeyRing{{9, key}});
  EXPECT_FALSE(good.check(d, bodyEnd));
  EXPECT_EQ(bodyEnd, d.size() - kAuthTrailerLength);
  AuthVerifier other(KeyRing{{9, pattern(32, 2)}});
  EXPECT_EQ(other.check(d, bodyEnd), DropReason::BadMac);
  AuthVerifier unknown(KeyRing{{8, key}});
  EXPECT_EQ(unknown.check(d, bodyEnd), DropReason::UnknownKey);
  AuthVerifier none(KeyRing{});
  EXPECT_FALSE(none.check(d, bodyEnd));
  const auto plain = encodeHeartbeat({1, 2, 3, 4, "x", {}});
  EXPECT_EQ(good.check(plain, bodyEnd), DropReason::Unauthenticated);
}

// SPEC 5.1 rows 10, 11 and 19 for Commit and heartbeat keys, beyond the golden vectors.
CommitInfo sampleCommit() {
  CommitInfo c;
  c.senderId = 0x0123456789abcdefULL;
  c.sequence = 7;
  c.keytable = "online";
  c.key = 2;
  c.parentKey = 1;
  c.changeset = "cs-1";
  c.objectCount = 2;
  c.objectIds = {parseUuid("a0000000-0000-4000-8000-000000000002"), parseUuid("a0000000-0000-4000-8000-000000000001")};
  c.removedPaths = {"b/c", "a/b", "b/c"};
  c.committedAt = 1700000000000;
  return c;
}

std::vector<std::uint8_t> commitDatagram(const v1::Commit& message) {
  std::string body;
  EXPECT_TRUE(message.SerializeToString(&body));
  return frameDatagram(DatagramKind::Commit, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}, nullptr);
}

v1::Commit validCommitMessage() {
  v1::Commit m;
  m.set_sender_id(1);
  m.set_sequence(3);
  m.set_keytable("online");
  m.set_key(5);
  m.set_parent_key(4);
  m.set_changeset("cs");
  m.set_object_count(0);
  return m;
}

TEST(Commit, EncoderSortsAndDecoderReadsBack) {
  DatagramDecoder decoder;
  const auto r = decoder.decode(encodeCommit(sampleCommit(), kDefaultDatagramSize));
  ASSERT_EQ(r.kind, Decoded::Commit) << toString(r.reason);
  CommitInfo expected = sampleCommit();
  std::swap(expected.objectIds[0], expected.objectIds[1]);
  expected.removedPaths = {"a/b", "b/c"};
  EXPECT_EQ(decoder.commit(), expected);
}

TEST(Commit, IdsLeftOutOnlyWhenTheyDoNotFit) {
  CommitInfo c = sampleCommit();
  c.objectIds.clear();
  for (std::uint32_t i = 0; i < 100; i++) {
    ObjectId id{};
    id[15] = static_cast<std::uint8_t>(i);
    c.objectIds.push_back(id);
  }
  c.objectCount = 100;
  DatagramDecoder decoder;
  ASSERT_EQ(decoder.decode(encodeCommit(c, 65507)).kind, Decoded::Commit);
  EXPECT_EQ(decoder.commit().objectIds.size(), 100u);
  const auto small = encodeCommit(c, 256);
  EXPECT_LE(small.size(), 256u);
  ASSERT_EQ(decoder.decode(small).kind, Decoded::Commit);
  EXPECT_TRUE(decoder.commit().objectIds.empty());
  EXPECT_EQ(decoder.commit().objectCount, 100u);
  c.removedPaths = {std::string(300, 'p')};
  EXPECT_THROW(encodeCommit(c, 256), Error);
}

TEST(Commit, PerDatagramChecks) {
  DatagramDecoder decoder;
  const auto reason = [&](const v1::Commit& m) {
    const auto r = decoder.decode(commitDatagram(m));
    return r.kind == Decoded::Commit ? std::string("ok") : std::string(toString(r.reason));
  };
  EXPECT_EQ(reason(validCommitMessage()), "ok");
  auto m = validCommitMessage();
  m.set_sequence(kMaxSequence + 1);
  EXPECT_EQ(reason(m), "malformed");
  m = validCommitMessage();
  m.set_key(kMaxSequence + 1);
  EXPECT_EQ(reason(m), "malformed");
  m = validCommitMessage();
  m.set_parent_key(kMaxSequence + 1);
  EXPECT_EQ(reason(m), "malformed");
  m = validCommitMessage();
  m.set_key(0);
  m.set_parent_key(0);
  EXPECT_EQ(reason(m), "bad_commit");  // not aborted: key >= 1
  m.set_aborted(true);
  EXPECT_EQ(reason(m), "ok");
  m.set_key(1);
  EXPECT_EQ(reason(m), "bad_commit");  // aborted: key = parent_key = 0
  m = validCommitMessage();
  m.set_changeset("");
  EXPECT_EQ(reason(m), "bad_commit");
  m.set_changeset(std::string(65, 'c'));
  EXPECT_EQ(reason(m), "bad_commit");
  m.set_changeset(std::string(64, 'c'));
  EXPECT_EQ(reason(m), "ok");
  m = validCommitMessage();
  m.set_keytable("");
  EXPECT_EQ(reason(m), "bad_commit");
  m = validCommitMessage();
  m.add_removed_paths("b");
  m.add_removed_paths("a");
  EXPECT_EQ(reason(m), "bad_commit");
  m = validCommitMessage();
  m.add_removed_paths("a");
  m.add_removed_paths("a");
  EXPECT_EQ(reason(m), "bad_commit");  // strictly ascending
  m = validCommitMessage();
  m.set_object_count(1);
  m.add_object_ids(std::string(17, 'x'));
  EXPECT_EQ(reason(m), "bad_object_id");
  m = validCommitMessage();
  m.set_object_count(2);
  m.add_object_ids(std::string(16, 'x'));
  m.add_object_ids(std::string(16, 'x'));
  EXPECT_EQ(reason(m), "bad_commit");  // unique
  // A repeated bytes field with a varint wire type is malformed.
  auto d = commitDatagram(validCommitMessage());
  d.push_back(0x40);  // field 8, wire type 0
  d.push_back(0x01);
  EXPECT_EQ(decoder.decode(d).reason, DropReason::Malformed);
}

TEST(Commit, HeartbeatKeys) {
  DatagramDecoder decoder;
  HeartbeatInfo h{1, 2, 3, 4, "x", {{"online", 9}, {"calib", 3}}};
  ASSERT_EQ(decoder.decode(encodeHeartbeat(h)).kind, Decoded::Heartbeat);
  EXPECT_EQ(decoder.heartbeat().keys, (std::vector<KeyPosition>{{"calib", 3}, {"online", 9}}));
  h.keys = {{"a", kMaxSequence + 1}};
  EXPECT_EQ(decoder.decode(encodeHeartbeat(h)).reason, DropReason::Malformed);
  h.keys = {{"a/b", 1}};
  EXPECT_EQ(decoder.decode(encodeHeartbeat(h)).reason, DropReason::BadCommit);
  h.keys = {{"a", 1}, {"a", 2}};
  EXPECT_EQ(decoder.decode(encodeHeartbeat(h)).reason, DropReason::BadCommit);
  h.keys.clear();
  for (int i = 0; i < 33; i++) h.keys.push_back({"k" + std::to_string(100 + i), 1});
  EXPECT_EQ(decoder.decode(encodeHeartbeat(h)).reason, DropReason::BadCommit);
  h.keys.pop_back();
  EXPECT_EQ(decoder.decode(encodeHeartbeat(h)).kind, Decoded::Heartbeat);
}

TEST(Commit, CountersJsonOrder) {
  const std::string json = ReceiverCounters{}.toJson();
  EXPECT_NE(json.find("\"lifecycles\":0,\"commits\":0,\"commitCopies\":0,\"objectsCompleted\""), std::string::npos);
  EXPECT_NE(json.find("\"index_out_of_range\":0,\"bad_commit\":0,\"inconsistent\""), std::string::npos);
  EXPECT_NE(json.find("\"expired\":0,\"uncommitted\":0}"), std::string::npos);
}

}  // namespace

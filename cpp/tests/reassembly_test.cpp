// Reassembly in process (no sockets): shuffled, duplicated and dropped fragments, bounds, expiry,
// keys, sequence gaps, and a flood of damaged datagrams.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <google/protobuf/stubs/logging.h>

#include "test_support.hpp"

using namespace condcast;
using namespace testsupport;

namespace {

struct Encoded {
  ObjectId id;
  std::vector<std::uint8_t> payload;
  std::vector<std::vector<std::uint8_t>> datagrams;
  std::uint32_t fragmentSize = 0;
  std::uint32_t metadataLength = 0;
};

Encoded encode(std::size_t size, std::uint64_t sender, std::uint64_t sequence, std::size_t datagramSize = 300,
               const AuthKey* key = nullptr, bool wrongMd5 = false) {
  Encoded e;
  e.id = randomUuid();
  e.payload = pattern(size, static_cast<std::uint32_t>(sequence));
  ObjectMetadata meta;
  meta.path = "TPC/Calib/Gain";
  meta.validFrom = 1;
  meta.validUntil = 2;
  meta.md5 = md5(e.payload);
  if (wrongMd5) meta.md5[0] ^= 1;
  ObjectEncoder encoder({sender, sequence, e.id, meta, e.payload}, datagramSize, key);
  e.datagrams = encoder.datagrams();
  e.fragmentSize = static_cast<std::uint32_t>(encoder.fragmentSize());
  e.metadataLength = static_cast<std::uint32_t>(encoder.metadataLength());
  return e;
}

struct Harness {
  std::vector<ReceivedObject> objects;
  std::vector<std::pair<ObjectId, ObjectDropReason>> dropped;
  std::vector<SequenceGap> gaps;
  Receiver receiver;
  explicit Harness(ReceiverOptions options = {})
      : receiver(Receiver::NoSocket{}, std::move(options),
                 ReceiverEvents{[this](ReceivedObject&& o) { objects.push_back(std::move(o)); },
                                [this](const PartialObject& p, ObjectDropReason r) { dropped.emplace_back(p.key().objectId, r); },
                                nullptr, nullptr, [this](const SequenceGap& g) { gaps.push_back(g); }, nullptr, nullptr, nullptr, nullptr}) {}
  void feed(const std::vector<std::uint8_t>& d, std::int64_t now = 0) { receiver.handleDatagram(d, now); }
  const ReceiverCounters& counters() const { return receiver.counters(); }
};

TEST(Reassembly, ShuffledAndDuplicatedInterleavedObjects) {
  std::mt19937 rng(1234);
  Harness h;
  std::vector<Encoded> objects;
  std::vector<std::vector<std::uint8_t>> all;
  for (std::uint64_t s = 1; s <= 5; s++) {
    objects.push_back(encode(3000 * s + 7, 0xabc, s));
    for (const auto& d : objects.back().datagrams) {
      all.push_back(d);
      if (rng() % 3 == 0) all.push_back(d);  // some twice
    }
  }
  std::shuffle(all.begin(), all.end(), rng);
  for (const auto& d : all) h.feed(d);
  ASSERT_EQ(h.objects.size(), 5u);
  std::size_t unique = 0;
  for (const auto& o : objects) unique += o.datagrams.size();
  EXPECT_EQ(h.counters().drop(DropReason::Duplicate), all.size() - unique);
  EXPECT_EQ(h.counters().totalDrops(), all.size() - unique);
  for (const auto& got : h.objects) {
    auto it = std::find_if(objects.begin(), objects.end(), [&](const Encoded& e) { return e.id == got.id; });
    ASSERT_NE(it, objects.end());
    EXPECT_TRUE(std::equal(got.payload().begin(), got.payload().end(), it->payload.begin(), it->payload.end()));
    EXPECT_EQ(got.sequence, static_cast<std::uint64_t>(it - objects.begin() + 1));
  }
  EXPECT_EQ(h.counters().partialObjects, 0u);
  EXPECT_EQ(h.counters().partialBytes, 0u);
  // A late duplicate of a completed object is recognised.
  h.feed(objects[2].datagrams[0]);
  EXPECT_EQ(h.objects.size(), 5u);
}

TEST(Reassembly, DroppedFragmentsMissingRangesAndExpiry) {
  ReceiverOptions options;
  options.reassembly.partialTimeoutMs = 1000;
  Harness h(options);
  const Encoded e = encode(5000, 1, 1);
  ASSERT_GT(e.datagrams.size(), 6u);
  const std::set<std::size_t> lost{0, 3, 4, e.datagrams.size() - 1};
  for (std::size_t i = 0; i < e.datagrams.size(); i++) {
    if (!lost.contains(i)) h.feed(e.datagrams[i], 100);
  }
  EXPECT_TRUE(h.objects.empty());
  const auto partials = h.receiver.incomplete();
  ASSERT_EQ(partials.size(), 1u);
  const PartialObject& p = *partials[0];
  const std::uint64_t fs = e.fragmentSize;
  const std::uint64_t env = p.envelopeLength();
  EXPECT_EQ(p.missingEnvelopeRanges(),
            (std::vector<ByteRange>{{0, fs}, {3 * fs, 5 * fs}, {(e.datagrams.size() - 1) * fs, env}}));
  EXPECT_TRUE(p.metadataMissing());
  const auto payloadRanges = p.missingPayloadRanges();
  ASSERT_FALSE(payloadRanges.empty());
  EXPECT_EQ(payloadRanges.back().end, e.payload.size());
  EXPECT_EQ(h.counters().partialBytes, chargeFor(env, fs));
  h.receiver.expire(1099);  // not yet
  EXPECT_EQ(h.counters().objectDropped(ObjectDropReason::Expired), 0u);
  h.receiver.expire(1100);
  EXPECT_EQ(h.counters().objectDropped(ObjectDropReason::Expired), 1u);
  ASSERT_EQ(h.dropped.size(), 1u);
  EXPECT_EQ(h.dropped[0].first, e.id);
  EXPECT_EQ(h.counters().partialBytes, 0u);
  EXPECT_EQ(h.counters().partialObjects, 0u);
  // The lost fragments arriving now start a fresh partial object; re-sending all completes it.
  for (const auto& d : e.datagrams) h.feed(d, 2000);
  ASSERT_EQ(h.objects.size(), 1u);
}

TEST(Reassembly, InconsistentFragmentIsDropped) {
  Harness h;
  const Encoded a = encode(2000, 1, 1);
  Encoded b = encode(2500, 1, 1);
  // Same sender and object id, different envelope: rewrite b's fragments with a's id.
  h.feed(a.datagrams[0]);
  ObjectMetadata meta;
  meta.path = "x";
  meta.validUntil = 1;
  const auto payload = pattern(2500);
  meta.md5 = md5(payload);
  ObjectEncoder other({1, 1, a.id, meta, payload}, 300);
  h.feed(other.datagrams()[1]);
  EXPECT_EQ(h.counters().drop(DropReason::Inconsistent), 1u);
  ObjectEncoder otherSequence({1, 2, a.id, meta, payload}, 300);
  (void)b;
  h.feed(otherSequence.datagrams()[1]);
  EXPECT_EQ(h.counters().drop(DropReason::Inconsistent), 2u);
}

TEST(Reassembly, BoundsOnPartialObjects) {
  ReceiverOptions options;
  options.reassembly.maxPartialBytes = 20'000;
  options.reassembly.maxPartialObjects = 3;
  Harness h(options);
  const Encoded big = encode(30'000, 1, 1);
  h.feed(big.datagrams[0]);
  EXPECT_EQ(h.counters().drop(DropReason::OverCapacity), 1u);
  EXPECT_EQ(h.counters().partialObjects, 0u);
  for (std::uint64_t s = 2; s < 7; s++) h.feed(encode(1000, 1, s).datagrams[0]);
  EXPECT_EQ(h.counters().partialObjects, 3u);
  EXPECT_EQ(h.counters().drop(DropReason::OverCapacity), 3u);
  EXPECT_LE(h.counters().partialBytes, 20'000u);
}

TEST(Reassembly, Md5MismatchDropsTheObject) {
  Harness h;
  const Encoded e = encode(1000, 1, 1, 300, nullptr, true);
  for (const auto& d : e.datagrams) h.feed(d);
  EXPECT_TRUE(h.objects.empty());
  EXPECT_EQ(h.counters().objectDropped(ObjectDropReason::Md5Mismatch), 1u);
}

TEST(Reassembly, WrongKeys) {
  const AuthKey right{7, pattern(32, 1)};
  const AuthKey wrong{7, pattern(32, 2)};
  const AuthKey otherId{8, pattern(32, 1)};
  ReceiverOptions options;
  options.keys[right.id] = right.key;
  Harness h(options);
  const Encoded badMac = encode(1000, 1, 1, 300, &wrong);
  for (const auto& d : badMac.datagrams) h.feed(d);
  EXPECT_EQ(h.counters().drop(DropReason::BadMac), badMac.datagrams.size());
  const Encoded unknown = encode(1000, 1, 2, 300, &otherId);
  for (const auto& d : unknown.datagrams) h.feed(d);
  EXPECT_EQ(h.counters().drop(DropReason::UnknownKey), unknown.datagrams.size());
  const Encoded plain = encode(1000, 1, 3);
  for (const auto& d : plain.datagrams) h.feed(d);
  EXPECT_EQ(h.counters().drop(DropReason::Unauthenticated), plain.datagrams.size());
  EXPECT_TRUE(h.objects.empty());
  EXPECT_EQ(h.counters().partialObjects, 0u);
  const Encoded good = encode(1000, 1, 4, 300, &right);
  for (const auto& d : good.datagrams) h.feed(d);
  ASSERT_EQ(h.objects.size(), 1u);
  // A receiver without keys ignores trailers.
  Harness open;
  for (const auto& d : badMac.datagrams) open.feed(d);
  EXPECT_EQ(open.objects.size(), 1u);
}

TEST(Sequences, GapsFromObjectsHeartbeatsAndLifecycle) {
  Harness h;
  for (std::uint64_t s : {3, 4, 7}) {
    for (const auto& d : encode(10, 0x55, s).datagrams) h.feed(d);
  }
  ASSERT_EQ(h.gaps.size(), 1u);
  EXPECT_EQ(h.gaps[0].from, 5u);
  EXPECT_EQ(h.gaps[0].to, 6u);
  h.feed(encodeHeartbeat({0x55, 9, 0, 1000, "", {}}));
  ASSERT_EQ(h.gaps.size(), 2u);
  h.feed(encodeHeartbeat({0x55, 9, 0, 1000, "", {}}));  // the same announcement again: nothing new
  ASSERT_EQ(h.gaps.size(), 2u);
  EXPECT_EQ(h.gaps[1].from, 8u);  // a heartbeat's last_sequence was sent and not seen: part of the gap
  EXPECT_EQ(h.gaps[1].to, 9u);
  LifecycleInfo change;
  change.senderId = 0x55;
  change.sequence = 12;
  change.objectId = randomUuid();
  change.path = "a";
  h.feed(encodeLifecycle(change));
  ASSERT_EQ(h.gaps.size(), 3u);
  EXPECT_EQ(h.gaps[2].from, 10u);
  EXPECT_EQ(h.gaps[2].to, 11u);
  // Older sequences and other senders' first sequences report nothing.
  for (const auto& d : encode(10, 0x55, 2).datagrams) h.feed(d);
  for (const auto& d : encode(10, 0x66, 40).datagrams) h.feed(d);
  EXPECT_EQ(h.gaps.size(), 3u);
  EXPECT_EQ(h.receiver.counters().lifecycles, 1u);
  EXPECT_EQ(h.receiver.counters().heartbeats, 2u);
}

TEST(Robustness, DamagedDatagramsAreCountedAndBounded) {
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in damaged strings is expected here
  std::mt19937 rng(99);
  ReceiverOptions options;
  options.reassembly.maxPartialBytes = 4 * 1024 * 1024;
  options.reassembly.maxPartialObjects = 100;
  Harness h(options);
  std::vector<std::vector<std::uint8_t>> seeds;
  for (std::uint64_t s = 1; s <= 4; s++) {
    for (auto& d : encode(2000, s, s).datagrams) seeds.push_back(d);
  }
  seeds.push_back(encodeHeartbeat({1, 2, 3, 4, "name", {}}));
  const std::size_t rounds = 200'000;
  for (std::size_t i = 0; i < rounds; i++) {
    std::vector<std::uint8_t> d = seeds[rng() % seeds.size()];
    const int edits = static_cast<int>(rng() % 4) + 1;
    for (int k = 0; k < edits; k++) {
      switch (rng() % 4) {
        case 0: d[rng() % d.size()] = static_cast<std::uint8_t>(rng()); break;
        case 1: d.resize(rng() % (d.size() + 1)); break;
        case 2: d.push_back(static_cast<std::uint8_t>(rng())); break;
        default: if (d.size() > 9) d[8 + rng() % (d.size() - 8)] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      }
      if (d.empty()) break;
    }
    h.feed(d, static_cast<std::int64_t>(i / 1000));
    ASSERT_LE(h.counters().partialBytes, options.reassembly.maxPartialBytes);
    ASSERT_LE(h.counters().partialObjects, options.reassembly.maxPartialObjects);
  }
  const auto& c = h.counters();
  EXPECT_EQ(c.datagrams, rounds);
  EXPECT_EQ(c.fragments + c.heartbeats + c.lifecycles + (c.totalDrops() - c.drop(DropReason::Duplicate) -
                                                       c.drop(DropReason::Inconsistent) - c.drop(DropReason::OverCapacity)),
            rounds);
  EXPECT_GT(c.drop(DropReason::BadMagic) + c.drop(DropReason::Malformed) + c.drop(DropReason::Truncated), 0u);
}

}  // namespace

// ChangesetStager (SPEC 11) without sockets: staged objects in, whole changesets out, within bounds;
// and the Receiver routing a changeset's datagrams through it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "test_support.hpp"

using namespace condcast;
using namespace testsupport;

namespace {

constexpr std::uint64_t kSender = 0x0123456789abcdefULL;

ObjectId idOf(std::uint8_t first, std::uint8_t last = 0) {
  ObjectId id{};
  id[0] = first;
  id[15] = last;
  return id;
}

/// A completed object of `changeset` with a payload of `size` bytes (no metadata bytes in its envelope).
ReceivedObject objectOf(const ObjectId& id, const std::string& changeset, std::size_t size = 100,
                        std::uint64_t sender = kSender) {
  ReceivedObject o;
  o.id = id;
  o.senderId = sender;
  o.sequence = 1;
  o.meta.path = "TPC/Calib/Gain";
  o.meta.changeset = changeset;
  o.envelope = std::make_unique<std::uint8_t[]>(size);
  std::memset(o.envelope.get(), id[0], size);
  o.envelopeLength = size;
  o.metadataLength = 0;
  return o;
}

CommitInfo commitOf(const std::string& changeset, std::uint64_t key, std::vector<ObjectId> ids,
                    std::uint32_t count = 0, std::string keytable = "online") {
  CommitInfo c;
  c.senderId = kSender;
  c.sequence = 10;
  c.keytable = std::move(keytable);
  c.key = key;
  c.parentKey = key - 1;
  c.changeset = changeset;
  std::sort(ids.begin(), ids.end());
  c.objectCount = count != 0 ? count : static_cast<std::uint32_t>(ids.size());
  c.objectIds = std::move(ids);
  c.committedAt = 1700000000000;
  return c;
}

CommitInfo abortOf(const std::string& changeset, std::uint32_t count) {
  CommitInfo c = commitOf(changeset, 1, {}, count);
  c.key = 0;
  c.parentKey = 0;
  c.aborted = true;
  return c;
}

struct Harness {
  ReceiverCounters counters;
  std::vector<DeliveredChangeset> delivered;
  std::vector<std::pair<CommitInfo, std::uint64_t>> ignored;
  std::vector<std::pair<ObjectId, ObjectDropReason>> dropped;
  ChangesetStager stager;
  explicit Harness(ChangesetStagerOptions options = {}, std::uint64_t cap = kDefaultMaxPartialBytes)
      : stager(counters,
               ChangesetEvents{[this](DeliveredChangeset&& d) { delivered.push_back(std::move(d)); },
                               [this](const CommitInfo& c, std::uint64_t held) { ignored.emplace_back(c, held); },
                               [this](const ReceivedObject& o, ObjectDropReason r) { dropped.emplace_back(o.id, r); }},
               cap, options) {}
  std::vector<ObjectId> deliveredIds(std::size_t n) const {
    std::vector<ObjectId> ids;
    for (const auto& o : delivered.at(n).objects) ids.push_back(o.id);
    return ids;
  }
  std::uint64_t uncommitted() const { return counters.objectDropped(ObjectDropReason::Uncommitted); }
};

TEST(ChangesetStager, CommitAfterObjectsDeliversThemInIdOrder) {
  Harness h;
  const ObjectId a = idOf(0x30), b = idOf(0x10), c = idOf(0xf0);
  h.stager.stage(objectOf(a, "cs-1"), 0);
  h.stager.stage(objectOf(b, "cs-1"), 1);
  h.stager.stage(objectOf(c, "cs-1", 50), 2);
  EXPECT_TRUE(h.delivered.empty());
  EXPECT_EQ(h.counters.stagedObjects, 3u);
  EXPECT_EQ(h.counters.stagedBytes, 250u);
  const CommitInfo commit = commitOf("cs-1", 1, {a, b, c});
  h.stager.commit(commit, 3);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.delivered[0].commit, commit);
  EXPECT_EQ(h.deliveredIds(0), (std::vector<ObjectId>{b, a, c}));  // ascending, unsigned bytes (0xf0 last)
  EXPECT_EQ(h.delivered[0].objects[2].payload().size(), 50u);
  EXPECT_EQ(h.counters.stagedObjects, 0u);
  EXPECT_EQ(h.counters.stagedBytes, 0u);
  EXPECT_EQ(h.stager.changesets(), 0u);
  EXPECT_EQ(h.stager.deliveredKey(kSender, "online"), 1u);
  EXPECT_TRUE(h.dropped.empty());
}

TEST(ChangesetStager, CommitBeforeObjectsWaitsForTheLast) {
  Harness h;
  const ObjectId a = idOf(1), b = idOf(2), c = idOf(3);
  h.stager.commit(commitOf("cs-1", 4, {a, b, c}), 0);
  EXPECT_EQ(h.stager.changesets(), 1u);  // an unknown changeset's Commit waits for its objects
  h.stager.stage(objectOf(c, "cs-1"), 1);
  h.stager.stage(objectOf(a, "cs-1"), 2);
  EXPECT_TRUE(h.delivered.empty());
  h.stager.stage(objectOf(b, "cs-1"), 3);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.deliveredIds(0), (std::vector<ObjectId>{a, b, c}));
  EXPECT_EQ(h.stager.changesets(), 0u);
}

TEST(ChangesetStager, ObjectOfAnotherChangesetDoesNotComplete) {
  Harness h;
  const ObjectId a = idOf(1), b = idOf(2);
  h.stager.commit(commitOf("cs-1", 1, {a, b}), 0);
  h.stager.stage(objectOf(a, "cs-1"), 1);
  h.stager.stage(objectOf(b, "cs-2"), 2);                   // same id, other changeset
  h.stager.stage(objectOf(b, "cs-1", 100, kSender + 1), 3);  // same changeset id, other sender
  EXPECT_TRUE(h.delivered.empty());
  h.stager.stage(objectOf(b, "cs-1"), 4);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.counters.stagedObjects, 2u);  // the two strangers stay staged
}

TEST(ChangesetStager, IdsOmittedCountsObjectsCarryingTheChangeset) {
  Harness h;
  h.stager.commit(commitOf("cs-big", 2, {}, 3), 0);
  h.stager.stage(objectOf(idOf(9), "cs-big"), 1);
  h.stager.stage(objectOf(idOf(7), "cs-big"), 2);
  EXPECT_TRUE(h.delivered.empty());
  h.stager.stage(objectOf(idOf(8), "cs-big"), 3);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.deliveredIds(0), (std::vector<ObjectId>{idOf(7), idOf(8), idOf(9)}));
  EXPECT_TRUE(h.delivered[0].commit.objectIds.empty());
}

TEST(ChangesetStager, EmptyChangesetIsDeliveredAtItsCommit) {
  Harness h;
  CommitInfo commit = commitOf("cs-removals", 1, {});
  commit.removedPaths = {"A/B"};
  h.stager.commit(commit, 0);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_TRUE(h.delivered[0].objects.empty());
  EXPECT_EQ(h.stager.changesets(), 0u);
}

TEST(ChangesetStager, AbortedCommitDropsTheStagedObjectsAsUncommitted) {
  Harness h;
  h.stager.stage(objectOf(idOf(1), "cs-1"), 0);
  h.stager.stage(objectOf(idOf(2), "cs-1"), 0);
  h.stager.stage(objectOf(idOf(3), "cs-2"), 0);
  h.stager.commit(abortOf("cs-1", 2), 1);
  EXPECT_TRUE(h.delivered.empty());
  ASSERT_EQ(h.dropped.size(), 2u);
  EXPECT_EQ(h.dropped[0], std::make_pair(idOf(1), ObjectDropReason::Uncommitted));
  EXPECT_EQ(h.dropped[1], std::make_pair(idOf(2), ObjectDropReason::Uncommitted));
  EXPECT_EQ(h.uncommitted(), 2u);
  EXPECT_EQ(h.counters.stagedObjects, 1u);  // cs-2 is untouched
  EXPECT_EQ(h.counters.stagedBytes, 100u);
  EXPECT_EQ(h.stager.deliveredKey(kSender, "online"), 0u);  // an abort makes no key
}

TEST(ChangesetStager, StagedTimeoutDropsIdleChangesets) {
  ChangesetStagerOptions options;
  options.stagedTimeoutMs = 1000;
  Harness h(options);
  h.stager.stage(objectOf(idOf(1), "cs-old"), 0);
  h.stager.stage(objectOf(idOf(2), "cs-new"), 600);
  h.stager.commit(commitOf("cs-waiting", 1, {idOf(3)}), 0);
  h.stager.expire(999);
  EXPECT_TRUE(h.dropped.empty());
  h.stager.expire(1000);
  ASSERT_EQ(h.dropped.size(), 1u);
  EXPECT_EQ(h.dropped[0], std::make_pair(idOf(1), ObjectDropReason::Uncommitted));
  EXPECT_EQ(h.stager.changesets(), 1u);  // the Commit that waited for nothing is gone too
  h.stager.stage(objectOf(idOf(4), "cs-new"), 1500);  // activity keeps a changeset alive
  h.stager.expire(2000);
  EXPECT_EQ(h.uncommitted(), 1u);
  h.stager.expire(2500);
  EXPECT_EQ(h.uncommitted(), 3u);
  EXPECT_EQ(h.counters.stagedObjects, 0u);
  EXPECT_EQ(h.counters.stagedBytes, 0u);
  EXPECT_EQ(h.stager.changesets(), 0u);
}

TEST(ChangesetStager, StagedTimeoutRunsFromTheMostRecentlyStagedObject) {
  // SPEC 11.4: per changeset, from its most recently staged object (not its first, not per object);
  // an object staged already arriving again does not restart the clock.
  ChangesetStagerOptions options;
  options.stagedTimeoutMs = 1000;
  Harness h(options);
  h.stager.stage(objectOf(idOf(1), "cs-1"), 0);
  h.stager.stage(objectOf(idOf(2), "cs-1"), 500);
  h.stager.stage(objectOf(idOf(1), "cs-1"), 900);
  h.stager.expire(1000);
  h.stager.expire(1499);
  EXPECT_TRUE(h.dropped.empty());
  EXPECT_EQ(h.counters.stagedObjects, 2u);
  h.stager.expire(1500);
  EXPECT_EQ(h.uncommitted(), 2u);
  EXPECT_EQ(h.stager.changesets(), 0u);
  // A Commit waiting for objects: from the Commit, then from each object staged after it.
  h.stager.commit(commitOf("cs-2", 1, {idOf(3), idOf(4)}), 2000);
  h.stager.stage(objectOf(idOf(3), "cs-2"), 2600);
  h.stager.expire(3599);
  EXPECT_EQ(h.counters.stagedObjects, 1u);
  h.stager.expire(3600);
  EXPECT_EQ(h.uncommitted(), 3u);
  EXPECT_TRUE(h.delivered.empty());
}

TEST(ChangesetStager, ResendOfTheKeyHeldIsLetGoQuietly) {
  // SPEC 11.6: a run's re-send (its own changeset, a Commit of the key from parent 0).
  Harness h;
  h.stager.stage(objectOf(idOf(1), "cs-5"), 0);
  h.stager.commit(commitOf("cs-5", 5, {idOf(1)}), 0);
  ASSERT_EQ(h.delivered.size(), 1u);
  CommitInfo resend = commitOf("run-9", 5, {idOf(1)});
  resend.parentKey = 0;
  h.stager.stage(objectOf(idOf(1), "run-9"), 1);
  h.stager.commit(resend, 2);
  EXPECT_EQ(h.delivered.size(), 1u);
  EXPECT_TRUE(h.ignored.empty());
  EXPECT_TRUE(h.dropped.empty());
  EXPECT_EQ(h.counters.resendsDiscarded, 1u);
  EXPECT_EQ(h.counters.stagedObjects, 0u);
  EXPECT_EQ(h.stager.changesets(), 0u);
  // A receiver behind the key flips with the re-send.
  Harness behind;
  behind.stager.stage(objectOf(idOf(1), "run-9"), 1);
  behind.stager.commit(resend, 2);
  ASSERT_EQ(behind.delivered.size(), 1u);
  EXPECT_EQ(behind.stager.deliveredKey(kSender, "online"), 5u);
}

TEST(ChangesetStager, StaleKeyIsIgnoredAndItsObjectsDropped) {
  Harness h;
  h.stager.commit(commitOf("cs-5", 5, {idOf(1)}), 0);
  h.stager.stage(objectOf(idOf(1), "cs-5"), 0);
  ASSERT_EQ(h.delivered.size(), 1u);
  // Key 5 again and key 3: not above the delivered key.
  h.stager.stage(objectOf(idOf(2), "cs-3"), 1);
  h.stager.commit(commitOf("cs-3", 3, {idOf(2)}), 2);
  h.stager.commit(commitOf("cs-5b", 5, {idOf(3)}), 3);
  ASSERT_EQ(h.ignored.size(), 2u);
  EXPECT_EQ(h.ignored[0].first.key, 3u);
  EXPECT_EQ(h.ignored[0].second, 5u);
  EXPECT_EQ(h.ignored[1].first.changeset, "cs-5b");
  ASSERT_EQ(h.dropped.size(), 1u);
  EXPECT_EQ(h.dropped[0], std::make_pair(idOf(2), ObjectDropReason::Uncommitted));
  EXPECT_EQ(h.stager.changesets(), 0u);  // an ignored Commit does not wait
  // Keys are per (sender, keytable): key 1 of another keytable is delivered.
  h.stager.commit(commitOf("cs-offline", 1, {}, 0, "offline"), 4);
  EXPECT_EQ(h.delivered.size(), 2u);
  EXPECT_EQ(h.stager.deliveredKey(kSender, "online"), 5u);
  EXPECT_EQ(h.stager.deliveredKey(kSender, "offline"), 1u);
}

TEST(ChangesetStager, KeyDeliveredWhileWaitingMakesTheOlderStale) {
  Harness h;
  h.stager.commit(commitOf("cs-2", 2, {idOf(1), idOf(2)}), 0);
  h.stager.stage(objectOf(idOf(1), "cs-2"), 0);
  h.stager.commit(commitOf("cs-3", 3, {idOf(5)}), 1);
  h.stager.stage(objectOf(idOf(5), "cs-3"), 1);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.delivered[0].commit.key, 3u);
  h.stager.stage(objectOf(idOf(2), "cs-2"), 2);  // complete now, but key 3 is held
  EXPECT_EQ(h.delivered.size(), 1u);
  ASSERT_EQ(h.ignored.size(), 1u);
  EXPECT_EQ(h.ignored[0].second, 3u);
  EXPECT_EQ(h.uncommitted(), 2u);
}

TEST(ChangesetStager, OverTheCapTheOldestStagedChangesetIsDropped) {
  Harness h({}, 1000);
  h.stager.stage(objectOf(idOf(1), "cs-a", 300), 0);
  h.stager.stage(objectOf(idOf(2), "cs-a", 300), 0);
  h.stager.stage(objectOf(idOf(3), "cs-b", 300), 0);
  EXPECT_TRUE(h.dropped.empty());
  h.stager.stage(objectOf(idOf(4), "cs-b", 300), 0);  // 1200 > 1000: cs-a goes
  ASSERT_EQ(h.dropped.size(), 2u);
  EXPECT_EQ(h.dropped[0].first, idOf(1));
  EXPECT_EQ(h.dropped[1].first, idOf(2));
  EXPECT_EQ(h.counters.stagedBytes, 600u);
  // The reassembler's partial bytes share the cap: room for 500 more means dropping cs-b too.
  h.counters.partialBytes = 300;
  EXPECT_TRUE(h.stager.reclaim(100));
  EXPECT_EQ(h.uncommitted(), 2u);
  EXPECT_TRUE(h.stager.reclaim(500));
  EXPECT_EQ(h.uncommitted(), 4u);
  EXPECT_EQ(h.counters.stagedBytes, 0u);
  // Nothing is dropped for room that dropping everything would not make.
  h.stager.stage(objectOf(idOf(5), "cs-c", 100), 0);
  EXPECT_FALSE(h.stager.reclaim(800));
  EXPECT_EQ(h.counters.stagedObjects, 1u);
}

TEST(ChangesetStager, ObjectAndChangesetCountsAreBounded) {
  ChangesetStagerOptions options;
  options.maxStagedObjects = 3;
  options.maxChangesets = 2;
  Harness h(options);
  h.stager.stage(objectOf(idOf(1), "cs-a"), 0);
  h.stager.stage(objectOf(idOf(2), "cs-a"), 0);
  h.stager.stage(objectOf(idOf(3), "cs-b"), 0);
  h.stager.stage(objectOf(idOf(4), "cs-b"), 0);  // 4 objects > 3: cs-a goes
  EXPECT_EQ(h.uncommitted(), 2u);
  EXPECT_EQ(h.counters.stagedObjects, 2u);
  EXPECT_EQ(h.stager.changesets(), 1u);
  h.stager.commit(commitOf("cs-c", 1, {idOf(9)}), 0);  // waits: two changesets
  EXPECT_EQ(h.uncommitted(), 2u);
  h.stager.commit(commitOf("cs-d", 2, {idOf(8)}), 0);  // a third: cs-b (the oldest) goes
  EXPECT_EQ(h.uncommitted(), 4u);
  EXPECT_EQ(h.stager.changesets(), 2u);
  EXPECT_EQ(h.counters.stagedObjects, 0u);
}

TEST(ChangesetStager, DuplicateObjectIsHeldOnce) {
  Harness h;
  h.stager.stage(objectOf(idOf(1), "cs-1"), 0);
  h.stager.stage(objectOf(idOf(1), "cs-1"), 1);
  EXPECT_EQ(h.counters.stagedObjects, 1u);
  EXPECT_EQ(h.counters.stagedBytes, 100u);
  h.stager.commit(commitOf("cs-1", 1, {}, 2), 2);  // two objects by count: the duplicate is not one
  EXPECT_TRUE(h.delivered.empty());
  h.stager.stage(objectOf(idOf(2), "cs-1"), 3);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.delivered[0].objects.size(), 2u);
}

TEST(ChangesetStager, StrayObjectNotNamedByTheCommitIsDropped) {
  Harness h;
  h.stager.stage(objectOf(idOf(1), "cs-1"), 0);
  h.stager.stage(objectOf(idOf(7), "cs-1"), 0);
  h.stager.commit(commitOf("cs-1", 1, {idOf(1)}), 1);
  ASSERT_EQ(h.delivered.size(), 1u);
  EXPECT_EQ(h.deliveredIds(0), std::vector<ObjectId>{idOf(1)});
  ASSERT_EQ(h.dropped.size(), 1u);
  EXPECT_EQ(h.dropped[0], std::make_pair(idOf(7), ObjectDropReason::Uncommitted));
  EXPECT_EQ(h.counters.stagedObjects, 0u);
}

// ---- through the Receiver (datagrams in, no socket) --------------------------------------------

struct ReceiverHarness {
  std::vector<ReceivedObject> objects;
  std::vector<DeliveredChangeset> changesets;
  std::vector<CommitInfo> commits;
  std::vector<std::pair<ObjectId, ObjectDropReason>> dropped;
  Receiver receiver;
  explicit ReceiverHarness(ReceiverOptions options = {}) : receiver(Receiver::NoSocket{}, std::move(options), events()) {}
  ReceiverEvents events() {
    ReceiverEvents e;
    e.onObject = [this](ReceivedObject&& o) { objects.push_back(std::move(o)); };
    e.onChangeset = [this](DeliveredChangeset&& d) { changesets.push_back(std::move(d)); };
    e.onCommit = [this](const CommitInfo& c) { commits.push_back(c); };
    e.onStagedObjectDropped = [this](const ReceivedObject& o, ObjectDropReason r) { dropped.emplace_back(o.id, r); };
    return e;
  }
  void feed(const std::vector<std::vector<std::uint8_t>>& datagrams, std::int64_t now = 0) {
    for (const auto& d : datagrams) receiver.handleDatagram(d, now);
  }
};

std::vector<std::vector<std::uint8_t>> objectDatagrams(const ObjectId& id, std::uint64_t sequence, const std::string& changeset,
                                                       const std::vector<std::uint8_t>& payload) {
  ObjectMetadata meta;
  meta.path = "TPC/Calib/Gain";
  meta.validFrom = 1;
  meta.validUntil = 2;
  meta.md5 = md5(payload);
  meta.changeset = changeset;
  ObjectEncoder encoder({kSender, sequence, id, meta, payload}, 1472);
  return encoder.datagrams();
}

TEST(ReceiverStaging, ChangesetObjectsComeOnlyWithTheCommit) {
  ReceiverHarness h;
  const auto payload = pattern(5000);
  h.feed(objectDatagrams(idOf(2), 1, "cs-1", payload));
  h.feed(objectDatagrams(idOf(1), 2, "cs-1", payload));
  h.feed(objectDatagrams(idOf(3), 3, "", payload));  // an object of its own is delivered at once
  ASSERT_EQ(h.objects.size(), 1u);
  EXPECT_EQ(h.objects[0].id, idOf(3));
  EXPECT_EQ(h.receiver.counters().stagedObjects, 2u);
  EXPECT_EQ(h.receiver.counters().stagedBytes, 10000u);
  EXPECT_EQ(h.receiver.counters().objectsCompleted, 3u);
  CommitInfo commit = commitOf("cs-1", 1, {idOf(1), idOf(2)});
  commit.sequence = 4;
  h.feed({encodeCommit(commit, 1472)});
  ASSERT_EQ(h.commits.size(), 1u);
  ASSERT_EQ(h.changesets.size(), 1u);
  ASSERT_EQ(h.changesets[0].objects.size(), 2u);
  EXPECT_EQ(h.changesets[0].objects[0].id, idOf(1));
  EXPECT_EQ(std::vector<std::uint8_t>(h.changesets[0].objects[1].payload().begin(), h.changesets[0].objects[1].payload().end()),
            payload);
  EXPECT_EQ(h.objects.size(), 1u);
  EXPECT_EQ(h.receiver.counters().stagedBytes, 0u);
}

TEST(ReceiverStaging, CommitCopiesAreTakenOnceAndAreNoDrop) {
  // SPEC 4.5 / 5.4: the same Commit datagram three times, around its objects and after delivery.
  ReceiverHarness h;
  const auto payload = pattern(3000);
  CommitInfo commit = commitOf("cs-1", 2, {idOf(1), idOf(2)});
  commit.sequence = 3;
  const auto datagram = encodeCommit(commit, 1472);
  h.feed(objectDatagrams(idOf(1), 1, "cs-1", payload));
  h.feed({datagram});
  h.feed({datagram});
  h.feed(objectDatagrams(idOf(2), 2, "cs-1", payload));
  h.feed({datagram});
  EXPECT_EQ(h.commits.size(), 1u);
  ASSERT_EQ(h.changesets.size(), 1u);
  EXPECT_TRUE(h.dropped.empty());
  EXPECT_EQ(h.receiver.counters().commits, 1u);
  EXPECT_EQ(h.receiver.counters().commitCopies, 2u);
  EXPECT_EQ(h.receiver.counters().totalDrops(), 0u);
  EXPECT_NE(h.receiver.counters().toJson().find("\"commits\":1,\"commitCopies\":2,"), std::string::npos);
}

TEST(ReceiverStaging, StagedBytesShareThePartialCap) {
  ReceiverOptions options;
  options.reassembly.maxPartialBytes = 20000;
  ReceiverHarness h(options);
  h.feed(objectDatagrams(idOf(1), 1, "cs-1", pattern(9000)));
  h.feed(objectDatagrams(idOf(2), 2, "cs-2", pattern(9000)));
  EXPECT_EQ(h.receiver.counters().stagedBytes, 18000u);
  // A new object of 9000 bytes is charged more than 2000: the oldest staged changeset makes room.
  h.feed(objectDatagrams(idOf(3), 3, "", pattern(9000)));
  ASSERT_EQ(h.objects.size(), 1u);
  ASSERT_EQ(h.dropped.size(), 1u);
  EXPECT_EQ(h.dropped[0], std::make_pair(idOf(1), ObjectDropReason::Uncommitted));
  EXPECT_EQ(h.receiver.counters().objectDropped(ObjectDropReason::Uncommitted), 1u);
  EXPECT_EQ(h.receiver.counters().drop(DropReason::OverCapacity), 0u);
  EXPECT_EQ(h.receiver.counters().stagedBytes, 9000u);
}

TEST(ReceiverStaging, StagedTimeoutThroughExpire) {
  ReceiverOptions options;
  options.staging.stagedTimeoutMs = 500;
  ReceiverHarness h(options);
  h.feed(objectDatagrams(idOf(1), 1, "cs-1", pattern(100)), 1000);
  h.receiver.expire(1499);
  EXPECT_TRUE(h.dropped.empty());
  h.receiver.expire(1500);
  ASSERT_EQ(h.dropped.size(), 1u);
  EXPECT_EQ(h.receiver.counters().objectDropped(ObjectDropReason::Uncommitted), 1u);
  EXPECT_NE(h.receiver.counters().toJson().find("\"uncommitted\":1"), std::string::npos);
}

TEST(ReceiverStaging, OptOutDeliversObjectsAsTheyComplete) {
  ReceiverOptions options;
  options.stageChangesets = false;
  ReceiverHarness h(options);
  h.feed(objectDatagrams(idOf(1), 1, "cs-1", pattern(100)));
  ASSERT_EQ(h.objects.size(), 1u);
  EXPECT_EQ(h.objects[0].meta.changeset, "cs-1");
  CommitInfo commit = commitOf("cs-1", 1, {idOf(1)});
  commit.sequence = 2;
  h.feed({encodeCommit(commit, 1472)});
  EXPECT_EQ(h.commits.size(), 1u);
  EXPECT_TRUE(h.changesets.empty());
  EXPECT_EQ(h.receiver.counters().stagedObjects, 0u);
}

}  // namespace

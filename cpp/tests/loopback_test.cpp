// Send and receive over real loopback multicast (interface 127.0.0.1, TTL 1, group 239.255.41.x,
// ports CONDCAST_TEST_PORT_BASE + n). Every transfer is bounded in size and time.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "test_support.hpp"

using namespace condcast;
using namespace testsupport;

namespace {

constexpr const char* kGroup = "239.255.41.1";
constexpr std::int64_t kCreated = 1700000000123;

struct Collector {
  std::mutex mutex;
  std::vector<ReceivedObject> objects;
  std::vector<HeartbeatInfo> heartbeats;
  std::vector<LifecycleInfo> lifecycles;
  std::vector<SequenceGap> gaps;
  ReceiverEvents events() {
    ReceiverEvents e;
    e.onObject = [this](ReceivedObject&& o) { std::lock_guard l(mutex); objects.push_back(std::move(o)); };
    e.onHeartbeat = [this](const HeartbeatInfo& h) { std::lock_guard l(mutex); heartbeats.push_back(h); };
    e.onLifecycle = [this](const LifecycleInfo& x) { std::lock_guard l(mutex); lifecycles.push_back(x); };
    e.onGap = [this](const SequenceGap& g) { std::lock_guard l(mutex); gaps.push_back(g); };
    return e;
  }
};

/// Polls a receiver on a thread until `done()` or the deadline.
class Pump {
 public:
  Pump(Receiver& receiver, std::function<bool()> done, std::chrono::seconds limit)
      : thread_([&receiver, done, limit, this] {
          const auto deadline = std::chrono::steady_clock::now() + limit;
          while (!stop_ && !done() && std::chrono::steady_clock::now() < deadline) receiver.poll(20);
        }) {}
  ~Pump() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void stop() { stop_ = true; }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ReceiverOptions receiverOptions(int portOffset) {
  ReceiverOptions o;
  o.group = kGroup;
  o.port = port(portOffset);
  o.interface = "127.0.0.1";
  return o;
}

SenderOptions senderOptions(int portOffset) {
  SenderOptions o;
  o.group = kGroup;
  o.port = port(portOffset);
  o.interface = "127.0.0.1";
  o.ttl = 1;
  o.heartbeatIntervalMs = 0;
  return o;
}

OutgoingObject object(std::span<const std::uint8_t> payload, const std::string& name) {
  OutgoingObject o;
  o.payload = payload;
  o.path = "Test/Loopback/" + name;
  o.validFrom = 1700000000000;
  o.validUntil = 1700086400000;
  o.created = kCreated;
  o.fileName = name + ".bin";
  o.metadata = {{"runNumber", "523897"}, {"size", std::to_string(payload.size())}};
  return o;
}

/// Envelope head length of object(payload, name) (metadata does not depend on payload bytes).
std::size_t headLength(std::size_t size, const std::string& name) {
  const auto payload = std::vector<std::uint8_t>(size);
  const OutgoingObject o = object(payload, name);
  ObjectMetadata meta{o.path, o.validFrom, o.validUntil, kCreated, o.contentType, o.fileName, {}, o.metadata, {}};
  return encodeObjectMeta(meta).size();
}

struct SizeCase {
  std::string name;
  std::size_t size;
  std::size_t datagramSize;
  double rate;
  std::uint64_t expectedDatagrams = 0;  ///< 0: not checked
  double fecParity = 0.05;              ///< SPEC 10 (the default); 0 = no FEC
};

void transfer(const std::vector<SizeCase>& cases, int portOffset, GsoMode gso = GsoMode::Auto,
              std::optional<AuthKey> key = std::nullopt) {
  Collector c;
  ReceiverOptions ro = receiverOptions(portOffset);
  if (key) ro.keys[key->id] = key->key;
  Receiver receiver(ro, c.events());
  EXPECT_GT(receiver.listening().receiveBufferGranted, 0);
  std::cerr << "receive buffer requested " << receiver.listening().receiveBufferRequested << ", granted "
            << receiver.listening().receiveBufferGranted << "\n";
  Pump pump(receiver, [&] { std::lock_guard l(c.mutex); return c.objects.size() >= cases.size(); },
            std::chrono::seconds(90));
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<SentObject> sent;
  std::uint64_t datagrams = 0;
  for (std::size_t i = 0; i < cases.size(); i++) {
    const SizeCase& sc = cases[i];
    payloads.push_back(pattern(sc.size, static_cast<std::uint32_t>(i + 1)));
    SenderOptions so = senderOptions(portOffset);
    so.datagramSize = sc.datagramSize;
    so.rate = sc.rate;
    so.gso = gso;
    so.key = key;
    so.senderId = 0x4100000000000000ULL + static_cast<std::uint64_t>(portOffset);
    so.firstSequence = i + 1;
    so.fec.parityRatio = sc.fecParity;
    Sender sender(so);
    const auto started = std::chrono::steady_clock::now();
    sent.push_back(sender.send(object(payloads.back(), sc.name)));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const SenderStats stats = sender.stats();
    datagrams += stats.datagrams;
    if (sc.expectedDatagrams != 0) {
      EXPECT_EQ(stats.datagrams, sc.expectedDatagrams) << sc.name;
    }
    std::cerr << sc.name << ": " << sc.size << " bytes, " << stats.datagrams << " datagrams in " << stats.sendCalls
              << " sendmmsg calls, " << stats.gsoMessages << " GSO messages, " << seconds << " s\n";
    if (gso == GsoMode::Off) {
      EXPECT_EQ(stats.gsoMessages, 0u);
    }
    if (gso == GsoMode::Auto && sender.gsoActive() && stats.datagrams > 2 && sc.datagramSize < 30000) {
      EXPECT_GT(stats.gsoMessages, 0u) << "GSO is available but was not used";
    }
  }
  pump.join();
  // The last interleave group's parity follows the object's last source fragment: collect it too.
  const auto drainUntil = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (receiver.counters().fragments < datagrams && std::chrono::steady_clock::now() < drainUntil) receiver.poll(20);
  std::lock_guard l(c.mutex);
  ASSERT_EQ(c.objects.size(), cases.size()) << "counters: " << receiver.counters().toJson();
  for (std::size_t i = 0; i < cases.size(); i++) {
    auto it = std::find_if(c.objects.begin(), c.objects.end(), [&](const ReceivedObject& o) { return o.id == sent[i].id; });
    ASSERT_NE(it, c.objects.end()) << cases[i].name;
    EXPECT_EQ(it->sequence, sent[i].sequence);
    EXPECT_EQ(it->meta, sent[i].meta);
    ASSERT_EQ(it->payload().size(), payloads[i].size()) << cases[i].name;
    EXPECT_TRUE(std::equal(it->payload().begin(), it->payload().end(), payloads[i].begin())) << cases[i].name;
  }
  // Every datagram arrived once, as its own datagram (GSO segments are split by the kernel).
  EXPECT_EQ(receiver.counters().fragments, datagrams);
  EXPECT_EQ(receiver.counters().totalDrops(), 0u) << receiver.counters().toJson();
}

TEST(Loopback, SmallSizes) {
  const std::size_t fragment = fragmentSizeFor(kDefaultDatagramSize, false);
  const std::size_t exact = fragment - headLength(1000, "exact");  // envelope = exactly one fragment
  const std::size_t more = fragment - headLength(1000, "more") + 1;  // one byte more: two fragments
  ASSERT_EQ(headLength(1000, "exact"), headLength(exact, "exact"));
  ASSERT_EQ(headLength(1000, "more"), headLength(more, "more"));
  // With FEC (the default) every block gets m = parity(k) >= 1 parity fragments: one here.
  transfer({{"empty", 0, 1472, 1e8, 2},
            {"one", 1, 1472, 1e8, 2},
            {"exact", exact, 1472, 1e8, 2},
            {"more", more, 1472, 1e8, 3},
            {"empty", 0, 1472, 1e8, 1, 0},
            {"exact", exact, 1472, 1e8, 1, 0},
            {"more", more, 1472, 1e8, 2, 0}},
           1);
}

TEST(Loopback, OneMegabyteWithGso) { transfer({{"onemb", 1 << 20, 1472, 1e8}}, 2, GsoMode::Auto); }

TEST(Loopback, OneMegabyteWithoutGso) { transfer({{"onemb", 1 << 20, 1472, 1e8}}, 3, GsoMode::Off); }

TEST(Loopback, TenMegabytes) { transfer({{"tenmb", 10 << 20, 1472, 5e7}}, 4, GsoMode::Auto); }

TEST(Loopback, TenMegabytesJumboAuthenticated) {
  transfer({{"tenmbauth", 10 << 20, 8972, 5e7}}, 5, GsoMode::Auto, AuthKey{3, pattern(32, 3)});
}

TEST(Loopback, OneMegabyteWithoutFec) { transfer({{"onemb", 1 << 20, 1472, 1e8, 0, 0}}, 11, GsoMode::Auto); }

TEST(Loopback, FecRebuildsInjectedLossWithoutRepair) {
  // The sender drops datagrams before they reach the kernel: 1% at random (fixed seed) and a burst of
  // 64 consecutive ones; interleaving spreads the burst over 16 blocks (4 each, m = 13 of 242 + 13),
  // so every block still holds k of its k + m fragments and the object completes from multicast alone.
  Collector c;
  Receiver receiver(receiverOptions(12), c.events());
  SenderOptions so = senderOptions(12);
  so.rate = 5e7;
  std::uint32_t position = 0;
  std::uint32_t droppedSources = 0;
  std::uint32_t dropped = 0;
  std::uint32_t x = 12345;
  const auto payload = pattern(6 << 20, 8);
  const std::uint32_t sourceCount =
      static_cast<std::uint32_t>(fragmentCount(payload.size() + headLength(payload.size(), "lossy"), 1392));
  so.dropFragment = [&](std::uint32_t index) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    const std::uint32_t at = position++;
    const bool drop = (at >= 1000 && at < 1064) || x % 100 < 1;
    if (drop) {
      dropped++;
      if (index < sourceCount) droppedSources++;
    }
    return drop;
  };
  Sender sender(so);
  Pump pump(receiver, [&] { std::lock_guard l(c.mutex); return !c.objects.empty(); }, std::chrono::seconds(30));
  const SentObject sent = sender.send(object(payload, "lossy"));
  pump.join();
  std::lock_guard l(c.mutex);
  ASSERT_EQ(c.objects.size(), 1u) << receiver.counters().toJson();
  EXPECT_EQ(c.objects[0].id, sent.id);
  EXPECT_TRUE(std::equal(c.objects[0].payload().begin(), c.objects[0].payload().end(), payload.begin(), payload.end()));
  const auto& fec = receiver.counters().fec;
  std::cerr << "dropped " << dropped << " datagrams (" << droppedSources << " source fragments) of "
            << sent.datagrams + dropped << "; counters " << receiver.counters().toJson() << "\n";
  EXPECT_GT(droppedSources, 100u);
  EXPECT_GE(fec.fragmentsRecovered, droppedSources);  // loopback itself may lose a few more
  EXPECT_EQ(fec.parityUsed, fec.fragmentsRecovered);
  EXPECT_GT(fec.blocksDecoded, 10u);
}

TEST(Loopback, HundredMegabytes) {
  // Large datagrams on loopback, paced so the receiver's socket buffer (capped at rmem_max: 8 MiB
  // granted here, about 120 such datagrams, 160 ms at this rate) rides out scheduling delays on a
  // busy 2-CPU machine.
  transfer({{"hundredmb", 100 << 20, 65507, 5e7}}, 6, GsoMode::Auto);
}

TEST(Loopback, GsoFailureFallsBackCleanly) {
  // The kernel refuses UDP GSO on a socket with SO_NO_CHECK (EINVAL): the sender must notice, switch
  // GSO off and send every datagram without it.
  Collector c;
  Receiver receiver(receiverOptions(10), c.events());
  SenderOptions so = senderOptions(10);
  so.gso = GsoMode::Auto;
  Sender sender(so);
  if (!sender.gsoActive()) GTEST_SKIP() << "this kernel has no UDP GSO: nothing to fall back from";
  int one = 1;
  ASSERT_EQ(::setsockopt(sender.nativeHandle(), SOL_SOCKET, SO_NO_CHECK, &one, sizeof one), 0);
  const auto payload = pattern(500'000);
  Pump pump(receiver, [&] { std::lock_guard l(c.mutex); return !c.objects.empty(); }, std::chrono::seconds(20));
  const SentObject sent = sender.send(object(payload, "fallback"));
  pump.join();
  const auto drainUntil = std::chrono::steady_clock::now() + std::chrono::seconds(3);  // the last parity
  while (receiver.counters().fragments < sent.datagrams && std::chrono::steady_clock::now() < drainUntil) {
    receiver.poll(20);
  }
  EXPECT_FALSE(sender.gsoActive());
  EXPECT_EQ(sender.stats().gsoMessages, 0u);
  std::lock_guard l(c.mutex);
  ASSERT_EQ(c.objects.size(), 1u) << receiver.counters().toJson();
  EXPECT_TRUE(std::equal(c.objects[0].payload().begin(), c.objects[0].payload().end(), payload.begin(), payload.end()));
  EXPECT_EQ(receiver.counters().fragments, sent.datagrams);
  EXPECT_EQ(receiver.counters().totalDrops(), 0u);
}

TEST(Loopback, WrongKeyIsCountedNotDelivered) {
  Collector c;
  ReceiverOptions ro = receiverOptions(7);
  ro.keys[1] = pattern(32, 1);
  Receiver receiver(ro, c.events());
  SenderOptions so = senderOptions(7);
  so.key = AuthKey{1, pattern(32, 2)};
  Sender sender(so);
  const auto payload = pattern(20'000);
  const SentObject sent = sender.send(object(payload, "wrongkey"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (receiver.counters().drop(DropReason::BadMac) < sent.datagrams && std::chrono::steady_clock::now() < deadline) {
    receiver.poll(20);
  }
  EXPECT_EQ(receiver.counters().drop(DropReason::BadMac), sent.datagrams);
  EXPECT_TRUE(c.objects.empty());
  EXPECT_EQ(receiver.counters().partialObjects, 0u);
}

TEST(Loopback, HeartbeatsLifecycleAndGaps) {
  Collector c;
  Receiver receiver(receiverOptions(8), c.events());
  SenderOptions so = senderOptions(8);
  so.heartbeatIntervalMs = 100;
  so.senderName = "http://127.0.0.1:8080";
  so.firstSequence = 5;
  std::optional<Sender> sender;
  sender.emplace(so);
  const auto payload = pattern(3000);
  EXPECT_EQ(sender->lastSequence(), 4u);
  const SentObject first = sender->send(object(payload, "first"));
  EXPECT_EQ(sender->lastSequence(), 5u);  // announced only once sent completely
  LifecycleChange change{first.id, LifecycleKind::Updated, first.meta.path, 1700090000000, {{"b", "2"}, {"a", "1"}}};
  EXPECT_EQ(sender->sendLifecycle(change), 6u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    receiver.poll(20);
    std::lock_guard l(c.mutex);
    if (c.heartbeats.size() >= 3 && c.objects.size() == 1 && c.lifecycles.size() == 1) break;
  }
  sender.reset();
  std::lock_guard l(c.mutex);
  ASSERT_GE(c.heartbeats.size(), 3u);
  EXPECT_EQ(c.heartbeats.front().lastSequence, 4u);  // the first heartbeat precedes the first object
  EXPECT_EQ(c.heartbeats.back().lastSequence, 6u);
  EXPECT_EQ(c.heartbeats.back().intervalMs, 100u);
  EXPECT_EQ(c.heartbeats.back().senderName, "http://127.0.0.1:8080");
  ASSERT_EQ(c.lifecycles.size(), 1u);
  EXPECT_EQ(c.lifecycles[0].objectId, first.id);
  EXPECT_EQ(c.lifecycles[0].metadata, (Metadata{{"a", "1"}, {"b", "2"}}));
  EXPECT_TRUE(c.gaps.empty());  // 4 (heartbeat), 5 (object), 6 (lifecycle): no gap
}

TEST(Loopback, ChangesetOfThreeObjectsIsDeliveredAsOneUnit) {
  Collector c;
  std::vector<DeliveredChangeset> changesets;
  std::vector<CommitInfo> commits;
  ReceiverEvents events = c.events();
  events.onChangeset = [&](DeliveredChangeset&& d) { std::lock_guard l(c.mutex); changesets.push_back(std::move(d)); };
  events.onCommit = [&](const CommitInfo& x) { std::lock_guard l(c.mutex); commits.push_back(x); };
  Receiver receiver(receiverOptions(13), events);
  SenderOptions so = senderOptions(13);
  so.heartbeatIntervalMs = 100;
  Sender sender(so);
  const std::vector<std::vector<std::uint8_t>> payloads{pattern(200'000, 1), pattern(3000, 2), pattern(70'000, 3)};
  const auto poll = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      receiver.poll(20);
      std::lock_guard l(c.mutex);
      if (done()) return;
    }
  };
  std::vector<ObjectId> ids;
  for (std::size_t i = 0; i < payloads.size(); i++) {
    OutgoingObject o = object(payloads[i], "cs" + std::to_string(i));
    o.changeset = "cs-loopback";
    ids.push_back(sender.send(o).id);
  }
  // Every object is complete (the heartbeat announces the last one, so its datagrams were read
  // before it) and staged: none delivered yet.
  poll([&] { return !c.heartbeats.empty() && c.heartbeats.back().lastSequence == 3; });
  {
    std::lock_guard l(c.mutex);
    EXPECT_TRUE(c.objects.empty());
    EXPECT_TRUE(changesets.empty());
  }
  EXPECT_EQ(receiver.counters().objectsCompleted, 3u);
  EXPECT_EQ(receiver.counters().stagedObjects, 3u);
  EXPECT_EQ(receiver.counters().stagedBytes, 273'000u);
  sender.setKeys({{"online", 1}});
  OutgoingCommit commit;
  commit.keytable = "online";
  commit.key = 1;
  commit.changeset = "cs-loopback";
  commit.objectCount = 3;
  commit.objectIds = ids;
  commit.removedPaths = {"Test/Gone"};
  const CommitInfo sentCommit = sender.sendCommit(commit);
  EXPECT_EQ(sentCommit.sequence, 4u);
  EXPECT_EQ(sentCommit.senderId, sender.senderId());
  EXPECT_TRUE(std::is_sorted(sentCommit.objectIds.begin(), sentCommit.objectIds.end()));
  poll([&] { return !changesets.empty() && !c.heartbeats.empty() && !c.heartbeats.back().keys.empty(); });
  std::lock_guard l(c.mutex);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0], sentCommit);
  ASSERT_EQ(changesets.size(), 1u);
  EXPECT_EQ(changesets[0].commit, sentCommit);
  ASSERT_EQ(changesets[0].objects.size(), 3u);
  std::vector<ObjectId> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < 3; i++) {
    const ReceivedObject& got = changesets[0].objects[i];
    EXPECT_EQ(got.id, sorted[i]);
    EXPECT_EQ(got.meta.changeset, "cs-loopback");
    const std::size_t sentIndex = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), got.id) - ids.begin());
    ASSERT_LT(sentIndex, payloads.size());
    EXPECT_TRUE(std::equal(got.payload().begin(), got.payload().end(), payloads[sentIndex].begin(), payloads[sentIndex].end()));
  }
  EXPECT_TRUE(c.objects.empty());  // never through onObject
  EXPECT_EQ(receiver.counters().stagedObjects, 0u);
  EXPECT_EQ(receiver.stager().deliveredKey(sender.senderId(), "online"), 1u);
  EXPECT_EQ(c.heartbeats.back().keys, (std::vector<KeyPosition>{{"online", 1}}));
  EXPECT_TRUE(c.gaps.empty());
}

TEST(Loopback, SetupErrorsThrow) {
  ReceiverOptions ro = receiverOptions(9);
  ro.group = "10.0.0.1";
  EXPECT_THROW(Receiver(ro, ReceiverEvents{}), Error);
  SenderOptions so = senderOptions(9);
  so.datagramSize = 100;
  EXPECT_THROW(Sender{so}, Error);
  so = senderOptions(9);
  so.interface = "not-an-address";
  EXPECT_THROW(Sender{so}, Error);
}

}  // namespace

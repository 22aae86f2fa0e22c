// Every vector of spec/vectors (through index.json): valid ones decode to their JSON and are
// reproduced byte for byte by the encoders; invalid ones are rejected with their reason;
// invalid-object ones are accepted datagram by datagram and dropped on completion with their reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <map>
#include <set>

#include "test_support.hpp"

using namespace condcast;
using namespace testsupport;
using nlohmann::json;

namespace {

std::vector<std::string> vectorNames() {
  std::vector<std::string> names;
  const nlohmann::json index = readJson(vectorDir() / "index.json");
  for (const auto& n : index.at("vectors")) names.push_back(n.get<std::string>());
  return names;
}

std::vector<std::vector<std::uint8_t>> datagramsOf(const json& v) {
  std::vector<std::vector<std::uint8_t>> out;
  for (const auto& f : v.at("datagrams")) out.push_back(readFile(vectorDir() / f.get<std::string>()));
  return out;
}

struct Collected {
  std::vector<ReceivedObject> objects;
  std::vector<ObjectDropReason> dropped;
  std::vector<HeartbeatInfo> heartbeats;
  std::vector<LifecycleInfo> lifecycles;
  std::vector<CommitInfo> commits;
  std::vector<DeliveredChangeset> changesets;
};

Receiver makeReceiver(const json& v, Collected& c) {
  ReceiverOptions options;
  options.keys = keysOf(v);
  options.maxEnvelopeLength = maxEnvelopeOf(v);
  ReceiverEvents events;
  events.onObject = [&c](ReceivedObject&& o) { c.objects.push_back(std::move(o)); };
  events.onObjectDropped = [&c](const PartialObject&, ObjectDropReason r) { c.dropped.push_back(r); };
  events.onHeartbeat = [&c](const HeartbeatInfo& h) { c.heartbeats.push_back(h); };
  events.onLifecycle = [&c](const LifecycleInfo& l) { c.lifecycles.push_back(l); };
  events.onCommit = [&c](const CommitInfo& x) { c.commits.push_back(x); };
  events.onChangeset = [&c](DeliveredChangeset&& x) { c.changesets.push_back(std::move(x)); };
  return Receiver(Receiver::NoSocket{}, options, events);
}

ObjectMetadata metaOf(const json& o) {
  ObjectMetadata meta;
  meta.path = o.at("path");
  meta.validFrom = o.at("validFrom");
  meta.validUntil = o.at("validUntil");
  meta.created = o.at("created");
  meta.contentType = o.at("contentType");
  meta.fileName = o.at("fileName");
  const auto md5Bytes = hexBytes(o.at("md5"));
  std::copy(md5Bytes.begin(), md5Bytes.end(), meta.md5.begin());
  meta.metadata = metadataOf(o.at("metadata"));
  meta.changeset = o.value("changeset", std::string());
  return meta;
}

std::unique_ptr<Hmac> senderHmac(const json& v, std::optional<Signer>& signer) {
  std::unique_ptr<Hmac> hmac;
  if (v.contains("sender") && v["sender"].contains("key")) {
    hmac = std::make_unique<Hmac>(hexBytes(v["sender"]["key"].at("keyHex")));
    signer.emplace(Signer{v["sender"]["key"].at("id").get<std::uint32_t>(), *hmac});
  }
  return hmac;
}

CommitInfo commitOf(const json& j) {
  CommitInfo c;
  c.senderId = parseSenderId(j.at("senderId").get<std::string>());
  c.sequence = j.at("sequence");
  c.keytable = j.at("keytable");
  c.key = j.at("key");
  c.parentKey = j.at("parentKey");
  c.changeset = j.at("changeset");
  c.objectCount = j.at("objectCount");
  for (const auto& id : j.at("objectIds")) c.objectIds.push_back(parseUuid(id.get<std::string>()));
  for (const auto& p : j.at("removedPaths")) c.removedPaths.push_back(p.get<std::string>());
  c.committedAt = j.at("committedAt");
  c.aborted = j.at("aborted");
  return c;
}

void expectObject(const ReceivedObject& got, const json& o) {
  EXPECT_EQ(formatUuid(got.id), o.at("id").get<std::string>());
  EXPECT_EQ(formatSenderId(got.senderId), o.at("senderId").get<std::string>());
  EXPECT_EQ(got.sequence, o.at("sequence").get<std::uint64_t>());
  EXPECT_EQ(got.meta, metaOf(o));
  EXPECT_EQ(toHex(got.payload()), o.at("payloadHex").get<std::string>());
  EXPECT_EQ(toHex(md5(got.payload())), o.at("md5").get<std::string>());
}

/// spec/vectors/README.md rule 5: every set of m of a block's k + m fragments may be lost; m + 1 lost
/// sources of a block lose the object (and the missing ranges name what the block still needs).
void checkFecRule5(const json& v, const std::vector<std::vector<std::uint8_t>>& datagrams, const ObjectEncoder& encoder) {
  const json& fec = v.at("fec");
  const json& fragments = v.at("fragments");
  const auto m = fec.at("parityCount").get<std::uint32_t>();
  EXPECT_EQ(fec.at("scheme").get<std::uint32_t>(), 1u);
  EXPECT_EQ(encoder.fecLayout().parityCount, m);
  EXPECT_EQ(encoder.fecLayout().blockLength, fec.at("blockLength").get<std::uint32_t>());
  EXPECT_EQ(encoder.symbolSize(), fec.at("symbolSize").get<std::size_t>());
  ASSERT_EQ(encoder.fecLayout().blockCount, fec.at("blocks").size());
  std::map<std::uint32_t, std::size_t> position;  // fragment index -> datagram in send order
  for (std::size_t i = 0; i < fragments.size(); i++) position[fragments[i].at("index").get<std::uint32_t>()] = i;
  ASSERT_EQ(position.size(), datagrams.size());
  const json& o = v.at("object");
  for (std::uint32_t b = 0; b < fec.at("blocks").size(); b++) {
    const json& block = fec.at("blocks")[b];
    const auto first = block.at("first").get<std::uint32_t>();
    const auto k = block.at("sourceCount").get<std::uint32_t>();
    const auto parityFirst = block.at("parityFirst").get<std::uint32_t>();
    EXPECT_EQ(encoder.fecLayout().blockStart(b), first);
    EXPECT_EQ(encoder.fecLayout().blockSourceCount(b), k);
    EXPECT_EQ(encoder.fecLayout().parityStart(b), parityFirst);
    std::vector<std::uint32_t> members;  // encoding symbols 0 ... k + m - 1 as fragment indexes
    for (std::uint32_t j = 0; j < k; j++) members.push_back(first + j);
    for (std::uint32_t i = 0; i < m; i++) members.push_back(parityFirst + i);
    ASSERT_LE(members.size(), 8u);
    // Every set of m members (bit masks with m bits set).
    int sets = 0;
    for (std::uint32_t mask = 0; mask < (1u << members.size()); mask++) {
      if (static_cast<std::uint32_t>(std::popcount(mask)) != m) continue;
      sets++;
      std::set<std::size_t> lost;
      std::uint32_t lostSources = 0;
      for (std::size_t s = 0; s < members.size(); s++) {
        if ((mask >> s) & 1) {
          lost.insert(position.at(members[s]));
          if (s < k) lostSources++;
        }
      }
      Collected c;
      Receiver receiver = makeReceiver(v, c);
      for (std::size_t i = 0; i < datagrams.size(); i++) {
        if (!lost.contains(i)) receiver.handleDatagram(datagrams[i], 0);
      }
      ASSERT_EQ(c.objects.size(), 1u) << "block " << b << " set " << mask;
      expectObject(c.objects[0], o);
      const auto& f = receiver.counters().fec;
      EXPECT_EQ(f.parityUsed, lostSources) << "block " << b << " set " << mask;
      EXPECT_EQ(f.fragmentsRecovered, lostSources);
      EXPECT_EQ(f.blocksDecoded, lostSources > 0 ? 1u : 0u);
      EXPECT_EQ(receiver.counters().totalDrops(), receiver.counters().drop(DropReason::Duplicate));
    }
    EXPECT_GT(sets, 0);
    // m + 1 lost sources of this block: no object; the block still needs exactly one (the first lost).
    if (k >= m + 1) {
      std::set<std::size_t> lost;
      for (std::uint32_t j = 0; j <= m; j++) lost.insert(position.at(first + j));
      Collected c;
      Receiver receiver = makeReceiver(v, c);
      for (std::size_t i = 0; i < datagrams.size(); i++) {
        if (!lost.contains(i)) receiver.handleDatagram(datagrams[i], 0);
      }
      EXPECT_TRUE(c.objects.empty());
      ASSERT_EQ(receiver.incomplete().size(), 1u);
      const PartialObject& partial = *receiver.incomplete()[0];
      const std::uint64_t fs = partial.fragmentSize();
      const std::vector<ByteRange> expected{{first * fs, std::min<std::uint64_t>((first + 1) * fs, partial.envelopeLength())}};
      EXPECT_EQ(partial.missingEnvelopeRanges(), expected) << "block " << b;
      EXPECT_EQ(receiver.counters().fec.blocksDecoded, 0u);
    }
  }
}

class VectorTest : public ::testing::TestWithParam<std::string> {
 protected:
  json v = readJson(vectorDir() / (GetParam() + ".json"));
};

TEST(Vectors, IndexListsEveryVectorFile) {
  std::set<std::string> listed;
  for (const auto& n : vectorNames()) listed.insert(n);
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(vectorDir())) {
    if (entry.path().extension() == ".json" && entry.path().filename() != "index.json") files.insert(entry.path().stem());
  }
  EXPECT_EQ(listed, files);
  EXPECT_GE(listed.size(), 35u);
}

TEST_P(VectorTest, BehavesAsDescribed) {
  const std::string kind = v.at("kind");
  ASSERT_EQ(v.at("name").get<std::string>(), GetParam());
  const auto datagrams = datagramsOf(v);
  ASSERT_FALSE(datagrams.empty());
  DatagramDecoder decoder(DecodeOptions{keysOf(v), maxEnvelopeOf(v)});

  if (kind == "object") {
    const json& o = v.at("object");
    const json& fragments = v.at("fragments");
    ASSERT_EQ(fragments.size(), datagrams.size());
    // Each datagram decodes to its entry in `fragments`.
    for (std::size_t i = 0; i < datagrams.size(); i++) {
      const auto r = decoder.decode(datagrams[i]);
      ASSERT_EQ(r.kind, Decoded::Fragment) << "datagram " << i << ": " << toString(r.reason);
      const FragmentView& f = decoder.fragment();
      const json& e = fragments[i];
      EXPECT_EQ(formatSenderId(f.senderId()), e.at("senderId").get<std::string>());
      EXPECT_EQ(f.sequence(), e.at("sequence").get<std::uint64_t>());
      EXPECT_EQ(formatUuid(f.objectId()), e.at("objectId").get<std::string>());
      EXPECT_EQ(f.envelopeLength(), e.at("envelopeLength").get<std::uint64_t>());
      EXPECT_EQ(f.metadataLength(), e.at("metadataLength").get<std::uint32_t>());
      EXPECT_EQ(f.fragmentSize(), e.at("fragmentSize").get<std::uint32_t>());
      EXPECT_EQ(f.index(), e.at("index").get<std::uint32_t>());
      EXPECT_EQ(f.fecScheme(), e.value("fecScheme", 0u));
      EXPECT_EQ(f.fecBlockLength(), e.value("fecBlockLength", 0u));
      EXPECT_EQ(f.fecParityCount(), e.value("fecParityCount", 0u));
      EXPECT_EQ(toHex(f.chunk()), e.at("chunkHex").get<std::string>());
    }
    // In order, in reverse order, and with every datagram twice: exactly one object.
    std::vector<std::vector<std::size_t>> orders(3);
    for (std::size_t i = 0; i < datagrams.size(); i++) {
      orders[0].push_back(i);
      orders[1].insert(orders[1].begin(), i);
      orders[2].push_back(i);
      orders[2].push_back(i);
    }
    for (const auto& order : orders) {
      Collected c;
      Receiver receiver = makeReceiver(v, c);
      for (std::size_t i : order) receiver.handleDatagram(datagrams[i], 0);
      if (o.contains("changeset")) {
        // SPEC 11: staged, not delivered, until a Commit naming it arrives; then one changeset.
        EXPECT_TRUE(c.objects.empty());
        EXPECT_EQ(receiver.counters().stagedObjects, 1u);
        CommitInfo commit{parseSenderId(o.at("senderId").get<std::string>()), o.at("sequence").get<std::uint64_t>() + 1,
                          "online", 1, 0, o.at("changeset"), 1, {parseUuid(o.at("id").get<std::string>())}, {}, 0, false};
        receiver.handleDatagram(encodeCommit(commit, 1472), 0);
        ASSERT_EQ(c.changesets.size(), 1u);
        EXPECT_EQ(c.changesets[0].commit, commit);
        for (auto& object : c.changesets[0].objects) c.objects.push_back(std::move(object));
        EXPECT_EQ(receiver.counters().stagedObjects, 0u);
      }
      ASSERT_EQ(c.objects.size(), 1u);
      expectObject(c.objects[0], o);
      EXPECT_TRUE(c.dropped.empty());
      if (v.contains("fec")) {
        // A source that arrives after its block was rebuilt is a duplicate too, a parity fragment
        // after its block or object is complete is no drop: nothing but duplicates is dropped.
        EXPECT_EQ(receiver.counters().totalDrops(), receiver.counters().drop(DropReason::Duplicate));
      } else {
        EXPECT_EQ(receiver.counters().drop(DropReason::Duplicate), order.size() - datagrams.size());
        EXPECT_EQ(receiver.counters().totalDrops(), order.size() - datagrams.size());
      }
      EXPECT_EQ(receiver.counters().partialObjects, 0u);
      EXPECT_EQ(receiver.counters().partialBytes, 0u);
    }
    // The encoder reproduces the datagrams byte for byte.
    const json& s = v.at("sender");
    std::optional<AuthKey> key;
    if (s.contains("key")) key = AuthKey{s["key"].at("id").get<std::uint32_t>(), hexBytes(s["key"].at("keyHex"))};
    const auto payload = hexBytes(o.at("payloadHex"));
    ObjectToEncode object{parseSenderId(o.at("senderId").get<std::string>()), o.at("sequence").get<std::uint64_t>(),
                          parseUuid(o.at("id").get<std::string>()), metaOf(o), payload};
    FecParams fecParams;
    fecParams.parityRatio = s.value("fecParity", 0.0);
    if (s.contains("fecBlockLength")) fecParams.blockLength = s["fecBlockLength"].get<std::uint32_t>();
    fecParams.interleave = s.value("fecInterleave", 16u);
    ObjectEncoder encoder(object, s.at("datagramSize").get<std::size_t>(), key ? &*key : nullptr,
                          FecConfig::from(fecParams));
    EXPECT_EQ(encoder.datagrams(), datagrams);
    if (v.contains("fec")) checkFecRule5(v, datagrams, encoder);
  } else if (kind == "heartbeat") {
    ASSERT_EQ(datagrams.size(), 1u);
    const auto r = decoder.decode(datagrams[0]);
    ASSERT_EQ(r.kind, Decoded::Heartbeat) << toString(r.reason);
    const json& h = v.at("heartbeat");
    HeartbeatInfo expected{parseSenderId(h.at("senderId").get<std::string>()), h.at("lastSequence"), h.at("sentAt"),
                           h.at("intervalMs"), h.at("senderName"), {}};
    if (h.contains("keys")) {
      for (const auto& k : h["keys"]) expected.keys.push_back(KeyPosition{k.at("keytable"), k.at("key")});
    }
    EXPECT_EQ(decoder.heartbeat(), expected);
    std::optional<Signer> signer;
    const auto hmac = senderHmac(v, signer);
    EXPECT_EQ(encodeHeartbeat(expected, signer ? &*signer : nullptr), datagrams[0]);
    Collected c;
    Receiver receiver = makeReceiver(v, c);
    receiver.handleDatagram(datagrams[0], 0);
    ASSERT_EQ(c.heartbeats.size(), 1u);
    EXPECT_EQ(receiver.counters().heartbeats, 1u);
    EXPECT_EQ(receiver.counters().totalDrops(), 0u);
  } else if (kind == "lifecycle") {
    ASSERT_EQ(datagrams.size(), 1u);
    const auto r = decoder.decode(datagrams[0]);
    ASSERT_EQ(r.kind, Decoded::Lifecycle) << toString(r.reason);
    const json& l = v.at("lifecycle");
    LifecycleInfo expected;
    expected.senderId = parseSenderId(l.at("senderId").get<std::string>());
    expected.sequence = l.at("sequence");
    expected.objectId = parseUuid(l.at("objectId").get<std::string>());
    expected.action = l.at("action") == "deleted" ? LifecycleKind::Deleted : LifecycleKind::Updated;
    expected.path = l.at("path");
    expected.validUntil = l.at("validUntil");
    expected.metadata = metadataOf(l.at("metadata"));
    expected.changedAt = l.at("changedAt");
    EXPECT_EQ(decoder.lifecycle(), expected);
    EXPECT_EQ(encodeLifecycle(expected), datagrams[0]);
  } else if (kind == "commit") {
    ASSERT_EQ(datagrams.size(), 1u);
    const auto r = decoder.decode(datagrams[0]);
    ASSERT_EQ(r.kind, Decoded::Commit) << toString(r.reason);
    const CommitInfo expected = commitOf(v.at("commit"));
    EXPECT_EQ(decoder.commit(), expected);
    // README rule 2: the encoder, given every id of the changeset, reproduces the datagram (leaving
    // the ids out when they do not fit the datagram size).
    CommitInfo input = expected;
    if (input.objectIds.empty()) {
      for (std::uint32_t i = 0; i < input.objectCount; i++) {
        char text[40];
        std::snprintf(text, sizeof text, "b0000000-0000-4000-8000-%012x", i);
        input.objectIds.push_back(parseUuid(text));
      }
    }
    std::optional<Signer> signer;
    const auto hmac = senderHmac(v, signer);
    EXPECT_EQ(encodeCommit(input, v.at("sender").at("datagramSize").get<std::size_t>(), signer ? &*signer : nullptr),
              datagrams[0]);
    // A receiver counts it and reports it with its sequence.
    Collected c;
    Receiver receiver = makeReceiver(v, c);
    receiver.handleDatagram(datagrams[0], 0);
    ASSERT_EQ(c.commits.size(), 1u);
    EXPECT_EQ(c.commits[0], expected);
    EXPECT_EQ(receiver.counters().commits, 1u);
    EXPECT_EQ(receiver.counters().totalDrops(), 0u);
    EXPECT_EQ(receiver.sequences().highest(expected.senderId), expected.sequence);
    // condcast-recv's commit line carries the fields of the vector's JSON, in its order.
    EXPECT_EQ(json::parse("{" + commitFields(expected) + "}"), v.at("commit"));
  } else if (kind == "invalid") {
    ASSERT_EQ(datagrams.size(), 1u);
    const auto expected = dropReasonFromString(v.at("reason").get<std::string>());
    ASSERT_TRUE(expected.has_value()) << v.at("reason");
    const auto r = decoder.decode(datagrams[0]);
    ASSERT_EQ(r.kind, Decoded::Rejected);
    EXPECT_EQ(toString(r.reason), toString(*expected));
    Collected c;
    Receiver receiver = makeReceiver(v, c);
    receiver.handleDatagram(datagrams[0], 0);
    EXPECT_EQ(receiver.counters().drop(*expected), 1u);
    EXPECT_EQ(receiver.counters().totalDrops(), 1u);
    EXPECT_TRUE(c.objects.empty());
    EXPECT_EQ(receiver.counters().partialObjects, 0u);
  } else if (kind == "invalid-object") {
    const auto expected = objectDropReasonFromString(v.at("reason").get<std::string>());
    ASSERT_TRUE(expected.has_value()) << v.at("reason");
    Collected c;
    Receiver receiver = makeReceiver(v, c);
    for (const auto& d : datagrams) {
      EXPECT_EQ(decoder.decode(d).kind, Decoded::Fragment);
      receiver.handleDatagram(d, 0);
    }
    EXPECT_EQ(receiver.counters().totalDrops(), 0u);
    EXPECT_TRUE(c.objects.empty());
    ASSERT_EQ(c.dropped.size(), 1u);
    EXPECT_EQ(c.dropped[0], *expected);
    EXPECT_EQ(receiver.counters().objectDropped(*expected), 1u);
    EXPECT_EQ(receiver.counters().partialBytes, 0u);
  } else {
    FAIL() << "unknown vector kind " << kind;
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, VectorTest, ::testing::ValuesIn(vectorNames()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace

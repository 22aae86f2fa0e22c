// The receive side (SPEC 5): counters, per-sender sequence tracking, reassembly within fixed bounds,
// and the multicast Receiver that drives them from recvmmsg batches.
// Mirrors ts/src/receiver/{counters,sequence-tracker,partial-object,reassembler,receiver}.ts.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "condcast/auth.hpp"
#include "condcast/control.hpp"
#include "condcast/decoder.hpp"
#include "condcast/fec.hpp"
#include "condcast/object.hpp"
#include "condcast/reasons.hpp"
#include "condcast/socket.hpp"

namespace condcast {

/// What a receiver counts (SPEC 6): datagrams, bytes, drops by reason, objects by outcome.
struct ReceiverCounters {
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;
  std::uint64_t fragments = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t lifecycles = 0;
  std::uint64_t objectsCompleted = 0;
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::array<std::uint64_t, kObjectDropReasonCount> objectsDropped{};
  /// Gauges: incomplete objects and the bytes charged for them.
  std::uint64_t partialObjects = 0;
  std::uint64_t partialBytes = 0;
  /// FEC (SPEC 6, 10.5): blocks completed with parity, parity fragments those decodes consumed,
  /// source fragments rebuilt.
  struct Fec {
    std::uint64_t blocksDecoded = 0;
    std::uint64_t parityUsed = 0;
    std::uint64_t fragmentsRecovered = 0;
  } fec;

  std::uint64_t& drop(DropReason r) noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t drop(DropReason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t& objectDropped(ObjectDropReason r) noexcept { return objectsDropped[static_cast<std::size_t>(r)]; }
  std::uint64_t objectDropped(ObjectDropReason r) const noexcept {
    return objectsDropped[static_cast<std::size_t>(r)];
  }
  std::uint64_t totalDrops() const noexcept;
  /// The counters as the CLI's JSON object (same keys and order as the TypeScript reference).
  std::string toJson() const;
};

/// A missed range of sequences [from, to] at one sender.
struct SequenceGap {
  std::uint64_t senderId;
  std::uint64_t from;
  std::uint64_t to;
};

/// Per-sender highest sequence (SPEC 5.3); bounded number of senders (oldest forgotten first).
class SequenceTracker {
 public:
  explicit SequenceTracker(std::size_t maxSenders = 1024) : maxSenders_(maxSenders) {}
  /// Records that a fragment or lifecycle message with `sequence` arrived from `senderId`; returns
  /// the gap before it ([highest + 1, sequence - 1]).
  std::optional<SequenceGap> observe(std::uint64_t senderId, std::uint64_t sequence);
  /// Records a heartbeat's last_sequence: every sequence up to it has been sent, so those not seen,
  /// `last` included, are missing ([highest + 1, last]; SPEC 5.3).
  std::optional<SequenceGap> observeLast(std::uint64_t senderId, std::uint64_t last);
  std::optional<std::uint64_t> highest(std::uint64_t senderId) const;

 private:
  std::optional<SequenceGap> advance(std::uint64_t senderId, std::uint64_t sequence, std::uint64_t gapEnd);
  std::size_t maxSenders_;
  std::unordered_map<std::uint64_t, std::uint64_t> highest_;
  std::deque<std::uint64_t> order_;
};

/// A half-open byte range [start, end).
struct ByteRange {
  std::uint64_t start;
  std::uint64_t end;
  bool operator==(const ByteRange&) const = default;
};

/// Fixed cost charged per partial object on top of its buffers.
inline constexpr std::uint64_t kPartialOverheadBytes = 256;
/// Bytes charged against the partial-bytes cap for an envelope; with FEC (scheme 1, B, m) room for
/// every parity fragment too (N · m · symbol_size, SPEC 5.2) and a byte per parity index.
std::uint64_t chargeFor(std::uint64_t envelopeLength, std::uint64_t fragmentSize, std::uint32_t fecBlockLength = 0,
                        std::uint32_t fecParityCount = 0) noexcept;

/// (sender id, object id): what fragments are reassembled by.
struct ObjectKey {
  std::uint64_t senderId = 0;
  ObjectId objectId{};
  bool operator==(const ObjectKey&) const = default;
};
struct ObjectKeyHash {
  std::size_t operator()(const ObjectKey& k) const noexcept;
};

/// One object being reassembled: its envelope buffer (allocated once), which fragments arrived, and
/// a running MD5 of the payload's contiguous prefix (in-order completion costs no extra pass).
class PartialObject {
 public:
  PartialObject(const ObjectKey& key, std::uint64_t sequence, std::uint64_t envelopeLength,
                std::uint32_t metadataLength, std::uint32_t fragmentSize, std::int64_t now,
                std::uint32_t fecScheme = 0, std::uint32_t fecBlockLength = 0, std::uint32_t fecParityCount = 0);
  ~PartialObject();
  PartialObject(const PartialObject&) = delete;
  PartialObject& operator=(const PartialObject&) = delete;

  const ObjectKey& key() const noexcept { return key_; }
  std::uint64_t sequence() const noexcept { return sequence_; }
  std::uint64_t envelopeLength() const noexcept { return envelopeLength_; }
  std::uint32_t metadataLength() const noexcept { return metadataLength_; }
  std::uint32_t fragmentSize() const noexcept { return fragmentSize_; }
  std::uint32_t fecScheme() const noexcept { return fecScheme_; }
  std::uint32_t fecBlockLength() const noexcept { return fecBlockLength_; }
  std::uint32_t fecParityCount() const noexcept { return layout_.parityCount; }
  /// The blocks (scheme 1; parityCount 0 without FEC).
  const FecLayout& fecLayout() const noexcept { return layout_; }
  /// Source fragments (T).
  std::uint32_t count() const noexcept { return count_; }
  /// Source fragments held (received or rebuilt).
  std::uint32_t receivedCount() const noexcept { return receivedCount_; }
  bool complete() const noexcept { return receivedCount_ == count_; }
  std::int64_t lastFragmentAt() const noexcept { return lastFragmentAt_; }
  std::uint64_t chargedBytes() const noexcept {
    return chargeFor(envelopeLength_, fragmentSize_, fecBlockLength_, layout_.parityCount);
  }

  enum class Stored : std::uint8_t {
    Stored,     ///< kept (a source, or a parity fragment its block still needs)
    Duplicate,  ///< that index was already held (or seen, for parity)
    NotNeeded,  ///< a parity fragment of a block whose sources are all present: discarded
  };
  /// Copies a chunk into place (a parity chunk into its block's parity buffer while the block lacks
  /// sources); with `decoder`, decodes the fragment's block as soon as it holds k of its k + m
  /// fragments, adding to `fec`.
  Stored store(std::uint32_t index, std::span<const std::uint8_t> chunk, std::int64_t now, FecDecoder* decoder = nullptr,
               ReceiverCounters::Fec* fec = nullptr);
  /// Parity fragments held for block b (0 without FEC).
  std::uint32_t parityHeld(std::uint32_t block) const noexcept;
  /// The payload's MD5; only once complete.
  std::array<std::uint8_t, 16> payloadMd5();
  /// Missing fragments as merged envelope byte ranges (SPEC 5.2); with FEC only the first k − h
  /// missing sources of a block holding h < k fragments.
  std::vector<ByteRange> missingEnvelopeRanges() const;
  /// Missing payload ranges (shifted by the metadata length, clipped at 0).
  std::vector<ByteRange> missingPayloadRanges() const;
  /// True when some metadata bytes are missing.
  bool metadataMissing() const;

  /// Hands the envelope buffer over (on completion).
  std::unique_ptr<std::uint8_t[]> takeEnvelope() noexcept { return std::move(envelope_); }
  std::span<const std::uint8_t> envelope() const noexcept { return {envelope_.get(), envelopeLength_}; }

 private:
  void advanceHash();
  std::uint64_t chunkLength(std::uint32_t index) const noexcept;
  void tryDecode(std::uint32_t block, FecDecoder& decoder, ReceiverCounters::Fec* fec);

  /// Per block (scheme 1): source fragments held and parity fragments stored (k, m <= 254). Two bytes
  /// a block, within the charge (at least N · m · (symbol_size + 1)).
  struct Block {
    std::uint8_t sources = 0;
    std::uint8_t parity = 0;
  };

  ObjectKey key_;
  std::uint64_t sequence_;
  std::uint64_t envelopeLength_;
  std::uint32_t metadataLength_;
  std::uint32_t fragmentSize_;
  std::uint32_t count_;
  std::uint32_t receivedCount_ = 0;
  std::uint32_t hashedFragments_ = 0;
  std::int64_t lastFragmentAt_;
  std::unique_ptr<std::uint8_t[]> envelope_;
  std::vector<std::uint8_t> received_;
  std::uint32_t fecScheme_ = 0;
  std::uint32_t fecBlockLength_ = 0;
  FecLayout layout_;
  std::size_t symbolSize_ = 0;
  std::vector<Block> blocks_;
  /// Parity buffers (m symbols) of the blocks that lack sources and hold parity: allocated on the
  /// first parity fragment such a block needs, freed when its sources are complete.
  std::unordered_map<std::uint32_t, std::unique_ptr<std::uint8_t[]>> parityBuffers_;
  /// Per parity index: 0 unseen, 1 stored, 2 seen but not needed.
  std::vector<std::uint8_t> parityState_;
  void* md5_ = nullptr;  // EVP_MD_CTX*
};

struct ReassemblerOptions {
  std::uint64_t maxPartialBytes = kDefaultMaxPartialBytes;
  std::size_t maxPartialObjects = 10'000;
  std::int64_t partialTimeoutMs = kDefaultPartialTimeoutMs;
  /// How many completed object ids are remembered to recognise late duplicates.
  std::size_t completedMemory = 4096;
};

/// Callbacks of reassembly and of the receiver. Unset callbacks are ignored.
struct ReceiverEvents {
  std::function<void(ReceivedObject&&)> onObject;
  std::function<void(const PartialObject&, ObjectDropReason)> onObjectDropped;
  std::function<void(const HeartbeatInfo&)> onHeartbeat;
  std::function<void(const LifecycleInfo&)> onLifecycle;
  std::function<void(const SequenceGap&)> onGap;
};

/// Reassembly without sockets (SPEC 5.2): checked fragments in, complete objects out, within bounds.
class Reassembler {
 public:
  Reassembler(ReceiverCounters& counters, ReceiverEvents& events, ReassemblerOptions options = {});
  ~Reassembler();

  /// Takes one checked fragment; returns why it was not used, or nullopt.
  std::optional<DropReason> accept(const FragmentView& view, std::int64_t now);
  /// Drops incomplete objects that have had no fragment for the partial timeout (counted `expired`).
  void expire(std::int64_t now);
  std::size_t partialCount() const noexcept { return partials_.size(); }
  /// Incomplete objects (for repair).
  std::vector<const PartialObject*> incomplete() const;

 private:
  void finish(std::unique_ptr<PartialObject> partial);
  std::unique_ptr<PartialObject> remove(const ObjectKey& key);
  void rememberCompleted(const ObjectKey& key);

  ReceiverCounters& counters_;
  ReceiverEvents& events_;
  ReassemblerOptions options_;
  std::unordered_map<ObjectKey, std::unique_ptr<PartialObject>, ObjectKeyHash> partials_;
  std::unordered_set<ObjectKey, ObjectKeyHash> completed_;
  std::deque<ObjectKey> completedOrder_;
  PartialObject* last_ = nullptr;  ///< where the previous fragment went: most follow their predecessor
  FecDecoder fecDecoder_;          ///< scratch reused by every block decode
};

struct ReceiverOptions {
  std::string group = kDefaultGroup;
  std::uint16_t port = kDefaultPort;
  /// IPv4 address of the interface to join the group on (explicit; default loopback).
  std::string interface = kDefaultInterface;
  /// Keys to require; when non-empty, unauthenticated datagrams are dropped.
  KeyRing keys;
  std::uint64_t maxEnvelopeLength = kMaxEnvelopeLength;
  /// SO_RCVBUF to request; the kernel caps it at net.core.rmem_max (see ListeningInfo).
  int receiveBufferSize = kDefaultReceiveBufferSize;
  /// Datagrams per recvmmsg call.
  unsigned batchSize = 64;
  ReassemblerOptions reassembly;
};

struct ListeningInfo {
  std::string group;
  std::uint16_t port;
  std::string interface;
  int receiveBufferRequested;
  /// SO_RCVBUF granted, in the terms it was requested: half of what getsockopt reports on Linux
  /// (the kernel doubles the figure for its bookkeeping); capped by net.core.rmem_max.
  int receiveBufferGranted;
};

/// The multicast receiver: binds the group's port, joins the group on an explicit interface, reads
/// recvmmsg batches into reused buffers and checks / reassembles each datagram in place. Single
/// threaded: the caller drives it with poll(). Constructor throws Error on socket setup failures.
class Receiver {
 public:
  Receiver(ReceiverOptions options, ReceiverEvents events);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  const ListeningInfo& listening() const noexcept { return listening_; }

  /// Waits up to timeoutMs for datagrams, then drains what is queued (bounded number of batches),
  /// and expires stale partial objects. Returns the number of datagrams processed.
  std::size_t poll(int timeoutMs);

  /// Processes one datagram as if it had arrived at `now` (ms, steady clock); the entry point for
  /// in-process tests.
  void handleDatagram(std::span<const std::uint8_t> datagram, std::int64_t now);
  /// Expires stale partial objects at `now`.
  void expire(std::int64_t now) { reassembler_.expire(now); }

  const ReceiverCounters& counters() const noexcept { return counters_; }
  const SequenceTracker& sequences() const noexcept { return sequences_; }
  std::vector<const PartialObject*> incomplete() const { return reassembler_.incomplete(); }

  /// Milliseconds of the steady clock the receiver uses for `now`.
  static std::int64_t nowMs() noexcept;

  /// Creates a receiver without a socket (for in-process tests and fuzzing).
  struct NoSocket {};
  Receiver(NoSocket, ReceiverOptions options, ReceiverEvents events);

 private:
  void report(const std::optional<SequenceGap>& gap);

  ReceiverOptions options_;
  ReceiverEvents events_;
  ReceiverCounters counters_;
  SequenceTracker sequences_;
  DatagramDecoder decoder_;
  Reassembler reassembler_;
  std::optional<UdpSocket> socket_;
  ListeningInfo listening_{};
  struct Batch;
  std::unique_ptr<Batch> batch_;
  std::int64_t lastExpiry_ = 0;
  bool haveLast_ = false;
  std::uint64_t lastSequence_ = 0;
  std::uint64_t lastSender_ = 0;
};

}  // namespace condcast

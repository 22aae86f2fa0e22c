// One object being reassembled (SPEC 5.2), its reassembly key and what it is charged.
// Mirrors ts/src/receiver/partial-object.ts (Java: PartialObject, ByteRange).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "condcast/counters.hpp"
#include "condcast/fec.hpp"
#include "condcast/ids.hpp"

namespace condcast {

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

}  // namespace condcast

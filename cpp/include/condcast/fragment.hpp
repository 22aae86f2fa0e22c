// The Fragment message (kind 1) on the hot path: a flyweight that reads the fields of a datagram in
// place, and a writer that produces exactly the bytes protobuf's serializer produces (SPEC 3).
// Mirrors ts/src/wire/fragment.ts; tests hold both against the protoc-generated code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "condcast/constants.hpp"
#include "condcast/reasons.hpp"

namespace condcast {

/// The 8-byte preamble laid over the first bytes of a datagram (SPEC 2.1). All fields are single
/// bytes, so the overlay has no alignment or byte-order concerns.
struct Preamble {
  std::uint8_t magic[4];
  std::uint8_t version;
  std::uint8_t kind;
  std::uint8_t flags;
  std::uint8_t reserved;
};
static_assert(sizeof(Preamble) == kPreambleLength);
static_assert(offsetof(Preamble, version) == 4);
static_assert(offsetof(Preamble, kind) == 5);
static_assert(offsetof(Preamble, flags) == 6);
static_assert(offsetof(Preamble, reserved) == 7);

/// Writes the preamble at `out` (8 bytes); returns kPreambleLength.
std::size_t writePreamble(std::uint8_t* out, DatagramKind kind, bool authenticated) noexcept;
/// SPEC 5.1 rows 1-5: the first failing reason, or nullopt.
std::optional<DropReason> checkPreamble(std::span<const std::uint8_t> datagram) noexcept;

// Varints (protobuf base 128), in place.
std::size_t varintSize(std::uint64_t value) noexcept;
std::uint8_t* writeVarint(std::uint8_t* out, std::uint64_t value) noexcept;
/// Reads up to 10 bytes; false when the bytes end first or the varint is longer than 10 bytes.
/// Bits above 64 are discarded, as protobuf does.
bool readVarint(const std::uint8_t*& pos, const std::uint8_t* end, std::uint64_t& value) noexcept;

/// What every fragment of one object shares; built once per object.
struct FragmentTemplate {
  std::uint64_t senderId = 0;
  std::uint64_t sequence = 0;
  std::uint8_t objectId[kObjectIdLength] = {};
  std::uint64_t envelopeLength = 0;
  std::uint32_t metadataLength = 0;
  std::uint32_t fragmentSize = 0;
  /// SPEC 10: scheme 1 with B and m on every fragment of a coded object; all 0 without FEC.
  std::uint32_t fecScheme = 0;
  std::uint32_t fecBlockLength = 0;
  std::uint32_t fecParityCount = 0;
};

/// Writes Fragment fields 1-10 and the chunk's tag and length (proto3: zero values omitted) at
/// `out`; returns the number of bytes written. The chunk's bytes follow.
std::size_t writeFragmentHeader(std::uint8_t* out, const FragmentTemplate& t, std::uint32_t index,
                                std::size_t chunkLength) noexcept;
/// Length of what writeFragmentHeader writes.
std::size_t fragmentHeaderLength(const FragmentTemplate& t, std::uint32_t index, std::size_t chunkLength) noexcept;

/// A flyweight over one Fragment body: parse() reads the fields in place; the object id and the
/// chunk stay in the caller's buffer (valid while that buffer is). Reuse one instance per thread.
class FragmentView {
 public:
  /// Parses body[0, size) and applies SPEC 5.1 rows 10-17. Returns the reason, or nullopt when valid.
  std::optional<DropReason> parse(std::span<const std::uint8_t> body, std::uint64_t maxEnvelopeLength) noexcept;

  std::uint64_t senderId() const noexcept { return senderId_; }
  std::uint64_t sequence() const noexcept { return sequence_; }
  /// The 16 object id bytes (valid after a successful parse).
  std::span<const std::uint8_t, kObjectIdLength> objectId() const noexcept {
    return std::span<const std::uint8_t, kObjectIdLength>(objectId_, kObjectIdLength);
  }
  std::uint64_t envelopeLength() const noexcept { return envelopeLength_; }
  std::uint32_t metadataLength() const noexcept { return metadataLength_; }
  std::uint32_t fragmentSize() const noexcept { return fragmentSize_; }
  std::uint32_t index() const noexcept { return index_; }
  std::uint32_t fecScheme() const noexcept { return fecScheme_; }
  std::uint32_t fecBlockLength() const noexcept { return fecBlockLength_; }
  std::uint32_t fecParityCount() const noexcept { return fecParityCount_; }
  /// fragment_count (T): the source fragments; with scheme 1 an index from T on is a parity fragment.
  std::uint32_t sourceCount() const noexcept { return sourceCount_; }
  bool isParity() const noexcept { return index_ >= sourceCount_; }
  std::span<const std::uint8_t> chunk() const noexcept { return {chunk_, chunkLength_}; }

 private:
  std::optional<DropReason> read(const std::uint8_t* pos, const std::uint8_t* end) noexcept;

  std::uint64_t senderId_ = 0;
  std::uint64_t sequence_ = 0;
  const std::uint8_t* objectId_ = nullptr;
  std::size_t objectIdLength_ = 0;
  std::uint64_t envelopeLength_ = 0;
  std::uint32_t metadataLength_ = 0;
  std::uint32_t fragmentSize_ = 0;
  std::uint32_t index_ = 0;
  std::uint32_t fecScheme_ = 0;
  std::uint32_t fecBlockLength_ = 0;
  std::uint32_t fecParityCount_ = 0;
  std::uint32_t sourceCount_ = 0;
  const std::uint8_t* chunk_ = nullptr;
  std::size_t chunkLength_ = 0;
};

/// Skips an unknown field's value; false when malformed (groups and wire types 6, 7 are not allowed).
bool skipField(const std::uint8_t*& pos, const std::uint8_t* end, unsigned wireType) noexcept;

}  // namespace condcast

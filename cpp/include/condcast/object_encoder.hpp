// Cuts one object into its datagrams (SPEC 2.4, 4.1). Built once per object. The chunk of each
// datagram is described as (at most two) spans into the encoded metadata and the caller's payload,
// so a sender hands the kernel iovecs that point into the payload: no per-datagram copy of the object.
// Mirrors ts/src/wire/object-encoder.ts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "condcast/auth.hpp"
#include "condcast/fec.hpp"
#include "condcast/fragment.hpp"
#include "condcast/object.hpp"

namespace condcast {

struct ObjectToEncode {
  std::uint64_t senderId = 0;
  std::uint64_t sequence = 1;
  ObjectId id{};
  ObjectMetadata meta;                    ///< including the payload's MD5
  std::span<const std::uint8_t> payload;  ///< not owned: must outlive the encoder
};

/// Room a caller provides for a datagram's header bytes (preamble + Fragment fields + chunk tag).
inline constexpr std::size_t kDatagramHeaderRoom = kPreambleLength + kMaxFragmentHeader;

/// The send order of an object's fragments (SPEC 10.4): without FEC indexes 0 … T − 1; with FEC
/// interleave groups of D blocks, each sent in rounds (symbol r of every block of the group that has
/// one), so a group's sources precede its parity. A cursor: index() and group() of the current
/// position, advance() to the next. Allocates nothing.
class SendOrder {
 public:
  /// Without FEC (layout.parityCount == 0): ascending indexes.
  SendOrder(const FecLayout& layout, std::uint32_t interleave) noexcept;
  bool done() const noexcept { return done_; }
  std::uint32_t index() const noexcept { return index_; }
  /// The interleave group of index() (0 without FEC).
  std::uint32_t group() const noexcept { return group_; }
  void advance() noexcept;

 private:
  bool settle() noexcept;  // from (group_, round_, block_) to the next index that exists
  FecLayout layout_;
  std::uint32_t interleave_;
  bool fec_;
  bool done_ = false;
  std::uint32_t index_ = 0;
  std::uint32_t group_ = 0;
  std::uint32_t round_ = 0;
  std::uint32_t block_ = 0;  // the next block to look at in this round
};

class ObjectEncoder {
 public:
  /// Throws Error for an invalid sequence, metadata, datagram size or an envelope above 2^31 - 1.
  /// `fec` (FecConfig::from) adds parity fragments (scheme 1) unless its parity ratio is 0.
  ObjectEncoder(const ObjectToEncode& object, std::size_t datagramSize, const AuthKey* key = nullptr,
                const FecConfig& fec = {});
  ~ObjectEncoder();
  ObjectEncoder(const ObjectEncoder&) = delete;
  ObjectEncoder& operator=(const ObjectEncoder&) = delete;

  std::size_t datagramSize() const noexcept { return datagramSize_; }
  std::size_t fragmentSize() const noexcept { return template_.fragmentSize; }
  /// Every datagram of the object: T source fragments and, with FEC, N · m parity fragments.
  std::uint32_t count() const noexcept { return count_; }
  /// T = fragment_count.
  std::uint32_t sourceCount() const noexcept { return sourceCount_; }
  bool fecEnabled() const noexcept { return layout_.parityCount > 0; }
  /// The blocks (parityCount 0 without FEC).
  const FecLayout& fecLayout() const noexcept { return layout_; }
  std::uint32_t interleave() const noexcept { return interleave_; }
  /// min(fragment_size, envelope_length): the length of every parity chunk.
  std::size_t symbolSize() const noexcept { return symbolSize_; }
  /// Parity space for one interleave group: min(D, N) · m · symbolSize bytes.
  std::size_t parityWorkspaceSize() const noexcept;
  /// Computes parity into `workspace` (at least parityWorkspaceSize() bytes, kept by the caller)
  /// instead of a buffer of the encoder's own.
  void useParityWorkspace(std::span<std::uint8_t> workspace);
  SendOrder sendOrder() const noexcept { return SendOrder(layout_, interleave_); }
  /// The interleave group of a block.
  std::uint32_t groupOfBlock(std::uint32_t block) const noexcept { return block / interleave_; }
  /// Computes the parity of every block of interleave group g (prepare() does it on demand, when a
  /// parity fragment of another group than the last encoded one is asked for: the chunks of parity
  /// fragments prepared before stay valid only while the group does not change).
  void encodeGroup(std::uint32_t group) noexcept;
  std::size_t envelopeLength() const noexcept { return template_.envelopeLength; }
  std::size_t metadataLength() const noexcept { return head_.size(); }
  bool authenticated() const noexcept { return hmac_ != nullptr; }

  /// Datagram `index` as pieces: header bytes written to `header` (room kDatagramHeaderRoom), the
  /// chunk as up to two spans into the metadata and the payload, and, when authenticated, the
  /// trailer written to `trailer` (20 bytes). Allocates nothing.
  struct Pieces {
    std::size_t headerLength = 0;
    std::span<const std::uint8_t> chunk[2];
    std::size_t trailerLength = 0;
    std::size_t length() const noexcept { return headerLength + chunk[0].size() + chunk[1].size() + trailerLength; }
  };
  Pieces prepare(std::uint32_t index, std::uint8_t* header, std::uint8_t* trailer);

  /// Datagram `index` written contiguously into `out` (room datagramSize()); returns its length.
  std::size_t writeDatagram(std::uint32_t index, std::uint8_t* out);
  /// Every datagram in send order (SendOrder; tests, vectors; a sender uses prepare()).
  std::vector<std::vector<std::uint8_t>> datagrams();

 private:
  std::size_t datagramSize_;
  std::string head_;
  std::span<const std::uint8_t> payload_;
  FragmentTemplate template_;
  std::uint32_t count_ = 0;
  std::uint32_t sourceCount_ = 0;
  FecLayout layout_;
  std::uint32_t interleave_ = 1;
  std::size_t symbolSize_ = 0;
  std::span<std::uint8_t> workspace_;
  std::vector<std::uint8_t> ownWorkspace_;
  std::int64_t encodedGroup_ = -1;
  /// The envelope bytes of source fragment `index` as up to two spans (head, payload).
  void sourcePieces(std::uint32_t index, std::span<const std::uint8_t> (&out)[2]) const noexcept;
  std::uint32_t keyId_ = 0;
  std::unique_ptr<Hmac> hmac_;
};

}  // namespace condcast

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

class ObjectEncoder {
 public:
  /// Throws Error for an invalid sequence, metadata, datagram size or an envelope above 2^31 - 1.
  ObjectEncoder(const ObjectToEncode& object, std::size_t datagramSize, const AuthKey* key = nullptr);
  ~ObjectEncoder();
  ObjectEncoder(const ObjectEncoder&) = delete;
  ObjectEncoder& operator=(const ObjectEncoder&) = delete;

  std::size_t datagramSize() const noexcept { return datagramSize_; }
  std::size_t fragmentSize() const noexcept { return template_.fragmentSize; }
  std::uint32_t count() const noexcept { return count_; }
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
  /// Every datagram in send order (tests, vectors; a sender uses prepare()).
  std::vector<std::vector<std::uint8_t>> datagrams();

 private:
  std::size_t datagramSize_;
  std::string head_;
  std::span<const std::uint8_t> payload_;
  FragmentTemplate template_;
  std::uint32_t count_ = 0;
  std::uint32_t keyId_ = 0;
  std::unique_ptr<Hmac> hmac_;
};

}  // namespace condcast

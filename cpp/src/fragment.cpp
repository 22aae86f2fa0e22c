// Preamble and Fragment on the hot path: written and read by hand, in place (SPEC 2.1, 3, 4.1).
#include "condcast/fragment.hpp"

#include <algorithm>
#include <cstring>

#include "well_formed.hpp"

namespace condcast {

namespace {
// Tags: (field number << 3) | wire type.
constexpr std::uint8_t kTagSenderId = 0x09;        // 1, fixed64
constexpr std::uint8_t kTagSequence = 0x10;        // 2, varint
constexpr std::uint8_t kTagObjectId = 0x1A;        // 3, length-delimited
constexpr std::uint8_t kTagEnvelopeLength = 0x20;  // 4, varint
constexpr std::uint8_t kTagMetadataLength = 0x28;  // 5, varint
constexpr std::uint8_t kTagFragmentSize = 0x30;    // 6, varint
constexpr std::uint8_t kTagIndex = 0x38;           // 7, varint
constexpr std::uint8_t kTagFecScheme = 0x40;       // 8, varint
constexpr std::uint8_t kTagFecBlockLength = 0x48;  // 9, varint
constexpr std::uint8_t kTagFecParityCount = 0x50;  // 10, varint
constexpr std::uint8_t kTagChunk = 0x7A;           // 15, length-delimited

std::uint8_t* writeVarintField(std::uint8_t* out, std::uint8_t tag, std::uint64_t value) noexcept {
  if (value == 0) return out;
  *out++ = tag;
  return writeVarint(out, value);
}

std::size_t varintFieldSize(std::uint64_t value) noexcept { return value == 0 ? 0 : 1 + varintSize(value); }
}  // namespace

std::size_t writePreamble(std::uint8_t* out, DatagramKind kind, bool authenticated) noexcept {
  Preamble p{};
  std::memcpy(p.magic, kMagic.data(), kMagic.size());
  p.version = kProtocolVersion;
  p.kind = static_cast<std::uint8_t>(kind);
  p.flags = authenticated ? kFlagAuth : 0;
  p.reserved = 0;
  std::memcpy(out, &p, sizeof p);
  return kPreambleLength;
}

std::optional<DropReason> checkPreamble(std::span<const std::uint8_t> datagram) noexcept {
  if (datagram.size() < kPreambleLength) return DropReason::Truncated;
  Preamble p;
  std::memcpy(&p, datagram.data(), sizeof p);
  if (std::memcmp(p.magic, kMagic.data(), kMagic.size()) != 0) return DropReason::BadMagic;
  if (p.version != kProtocolVersion) return DropReason::BadVersion;
  if ((p.flags & ~kFlagAuth) != 0 || p.reserved != 0) return DropReason::BadFlags;
  if (p.kind < 1 || p.kind > 4) return DropReason::UnknownKind;
  return std::nullopt;
}

std::size_t varintSize(std::uint64_t value) noexcept {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    size++;
  }
  return size;
}

std::uint8_t* writeVarint(std::uint8_t* out, std::uint64_t value) noexcept {
  while (value >= 0x80) {
    *out++ = static_cast<std::uint8_t>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<std::uint8_t>(value);
  return out;
}

bool readVarint(const std::uint8_t*& pos, const std::uint8_t* end, std::uint64_t& value) noexcept {
  std::uint64_t result = 0;
  for (unsigned i = 0; i < 10; i++) {
    if (pos >= end) return false;
    const std::uint8_t byte = *pos++;
    result |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);  // i = 9 keeps bit 63 only
    if (byte < 0x80) {
      value = result;
      return true;
    }
  }
  return false;
}

std::size_t writeFragmentHeader(std::uint8_t* out, const FragmentTemplate& t, std::uint32_t index,
                                std::size_t chunkLength) noexcept {
  std::uint8_t* p = out;
  if (t.senderId != 0) {  // proto3 omits a zero fixed64 like any default (SPEC 3)
    *p++ = kTagSenderId;
    for (int i = 0; i < 8; i++) *p++ = static_cast<std::uint8_t>(t.senderId >> (8 * i));  // little-endian
  }
  p = writeVarintField(p, kTagSequence, t.sequence);
  *p++ = kTagObjectId;
  *p++ = static_cast<std::uint8_t>(kObjectIdLength);
  std::memcpy(p, t.objectId, kObjectIdLength);
  p += kObjectIdLength;
  p = writeVarintField(p, kTagEnvelopeLength, t.envelopeLength);
  p = writeVarintField(p, kTagMetadataLength, t.metadataLength);
  p = writeVarintField(p, kTagFragmentSize, t.fragmentSize);
  p = writeVarintField(p, kTagIndex, index);
  p = writeVarintField(p, kTagFecScheme, t.fecScheme);
  p = writeVarintField(p, kTagFecBlockLength, t.fecBlockLength);
  p = writeVarintField(p, kTagFecParityCount, t.fecParityCount);
  if (chunkLength > 0) {
    *p++ = kTagChunk;
    p = writeVarint(p, chunkLength);
  }
  return static_cast<std::size_t>(p - out);
}

std::size_t fragmentHeaderLength(const FragmentTemplate& t, std::uint32_t index, std::size_t chunkLength) noexcept {
  return (t.senderId != 0 ? 9 : 0) + varintFieldSize(t.sequence) + 2 + kObjectIdLength + varintFieldSize(t.envelopeLength) +
         varintFieldSize(t.metadataLength) + varintFieldSize(t.fragmentSize) + varintFieldSize(index) +
         varintFieldSize(t.fecScheme) + varintFieldSize(t.fecBlockLength) + varintFieldSize(t.fecParityCount) +
         (chunkLength > 0 ? 1 + varintSize(chunkLength) : 0);
}

bool skipField(const std::uint8_t*& pos, const std::uint8_t* end, unsigned wireType) noexcept {
  switch (wireType) {
    case 0: {
      std::uint64_t ignored;
      return readVarint(pos, end, ignored);
    }
    case 1:
      if (end - pos < 8) return false;
      pos += 8;
      return true;
    case 2: {
      std::uint64_t length;
      if (!readVarint(pos, end, length) || length > static_cast<std::uint64_t>(end - pos)) return false;
      pos += length;
      return true;
    }
    case 5:
      if (end - pos < 4) return false;
      pos += 4;
      return true;
    default:
      return false;
  }
}

std::optional<DropReason> FragmentView::parse(std::span<const std::uint8_t> body,
                                              std::uint64_t maxEnvelopeLength) noexcept {
  if (auto reason = read(body.data(), body.data() + body.size())) return reason;
  if (sequence_ < 1 || sequence_ > kMaxSequence) return DropReason::Malformed;
  if (objectIdLength_ != kObjectIdLength) return DropReason::BadObjectId;
  if (fecScheme_ > 1) return DropReason::UnsupportedFec;
  if (fecScheme_ == 0 ? (fecBlockLength_ != 0 || fecParityCount_ != 0)
                      : (fecBlockLength_ < 1 || fecParityCount_ < 1 ||
                         std::uint64_t{fecBlockLength_} + fecParityCount_ > 255)) {
    return DropReason::BadFec;
  }
  if (envelopeLength_ > maxEnvelopeLength) return DropReason::Oversize;
  if (envelopeLength_ < 1 || metadataLength_ < 1 || metadataLength_ > envelopeLength_ || fragmentSize_ < 1 ||
      fragmentSize_ > kMaxDatagramSize) {
    return DropReason::BadLength;
  }
  const std::uint64_t count = fragmentCount(envelopeLength_, fragmentSize_);
  sourceCount_ = static_cast<std::uint32_t>(count);  // <= 2^31 - 1: envelope_length is capped
  std::uint64_t expected;
  if (index_ < count) {
    expected = index_ == count - 1 ? envelopeLength_ - (count - 1) * fragmentSize_ : std::uint64_t{fragmentSize_};
  } else {
    // SPEC 10.2: N = ceil(T / B) blocks of m parity fragments each, indexes T ... T + N·m - 1.
    if (fecScheme_ != 1) return DropReason::IndexOutOfRange;
    const std::uint64_t blocks = (count + fecBlockLength_ - 1) / fecBlockLength_;
    if (index_ >= count + blocks * fecParityCount_) return DropReason::IndexOutOfRange;
    expected = std::min<std::uint64_t>(fragmentSize_, envelopeLength_);  // symbol_size
  }
  if (chunkLength_ != expected) return DropReason::BadLength;
  return std::nullopt;
}

std::optional<DropReason> FragmentView::read(const std::uint8_t* pos, const std::uint8_t* end) noexcept {
  senderId_ = 0;
  sequence_ = 0;
  objectId_ = nullptr;
  objectIdLength_ = 0;
  envelopeLength_ = 0;
  metadataLength_ = 0;
  fragmentSize_ = 0;
  index_ = 0;
  fecScheme_ = 0;
  fecBlockLength_ = 0;
  fecParityCount_ = 0;
  sourceCount_ = 0;
  chunk_ = end;
  chunkLength_ = 0;
  while (pos < end) {
    std::uint64_t tag;
    const std::uint8_t* const tagStart = pos;
    if (!readVarint(pos, end, tag) || pos - tagStart > kMaxTagLength) return DropReason::Malformed;
    const std::uint64_t field = tag >> 3;
    const unsigned wireType = static_cast<unsigned>(tag & 7);
    if (field == 0 || field > kMaxFieldNumber) return DropReason::Malformed;  // protobuf's range
    switch (field) {
      case 1:
        if (wireType != 1 || end - pos < 8) return DropReason::Malformed;
        senderId_ = 0;
        for (int i = 7; i >= 0; i--) senderId_ = (senderId_ << 8) | pos[i];
        pos += 8;
        break;
      case 2:
        if (wireType != 0 || !readVarint(pos, end, sequence_)) return DropReason::Malformed;
        break;
      case 3:
      case 15: {
        std::uint64_t length;
        if (wireType != 2 || !readVarint(pos, end, length) || length > static_cast<std::uint64_t>(end - pos)) {
          return DropReason::Malformed;
        }
        if (field == 3) {
          objectId_ = pos;
          objectIdLength_ = length;
        } else {
          chunk_ = pos;
          chunkLength_ = length;
        }
        pos += length;
        break;
      }
      case 4:
      case 5:
      case 6:
      case 7:
      case 8:
      case 9:
      case 10: {
        std::uint64_t value;
        if (wireType != 0 || !readVarint(pos, end, value)) return DropReason::Malformed;
        // uint32 fields keep the low 32 bits, as protobuf does; envelope_length (uint64) stays exact.
        const auto low = static_cast<std::uint32_t>(value);
        if (field == 4) envelopeLength_ = value;
        else if (field == 5) metadataLength_ = low;
        else if (field == 6) fragmentSize_ = low;
        else if (field == 7) index_ = low;
        else if (field == 8) fecScheme_ = low;
        else if (field == 9) fecBlockLength_ = low;
        else fecParityCount_ = low;
        break;
      }
      default:
        if (!skipField(pos, end, wireType)) return DropReason::Malformed;
    }
  }
  return std::nullopt;
}

}  // namespace condcast

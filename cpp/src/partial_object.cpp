// Partial objects: the envelope buffer, held fragments, FEC blocks, running MD5, missing ranges.
#include "condcast/partial_object.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "condcast/constants.hpp"
#include "condcast/error.hpp"

namespace condcast {

std::uint64_t chargeFor(std::uint64_t envelopeLength, std::uint64_t fragmentSize, std::uint32_t fecBlockLength,
                        std::uint32_t fecParityCount) noexcept {
  const std::uint64_t count = fragmentCount(envelopeLength, fragmentSize);
  std::uint64_t charge = envelopeLength + count + kPartialOverheadBytes;
  if (fecBlockLength > 0 && fecParityCount > 0) {
    const std::uint64_t parity = (count + fecBlockLength - 1) / fecBlockLength * fecParityCount;
    charge += parity * (std::min(fragmentSize, envelopeLength) + 1);
  }
  return charge;
}

std::size_t ObjectKeyHash::operator()(const ObjectKey& k) const noexcept {
  std::uint64_t a;
  std::uint64_t b;
  std::memcpy(&a, k.objectId.data(), 8);
  std::memcpy(&b, k.objectId.data() + 8, 8);
  std::uint64_t h = k.senderId * 0x9E3779B97F4A7C15ULL;
  h ^= a + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  h ^= b + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return static_cast<std::size_t>(h);
}

PartialObject::PartialObject(const ObjectKey& key, std::uint64_t sequence, std::uint64_t envelopeLength,
                             std::uint32_t metadataLength, std::uint32_t fragmentSize, std::int64_t now,
                             std::uint32_t fecScheme, std::uint32_t fecBlockLength, std::uint32_t fecParityCount)
    : key_(key),
      sequence_(sequence),
      envelopeLength_(envelopeLength),
      metadataLength_(metadataLength),
      fragmentSize_(fragmentSize),
      count_(static_cast<std::uint32_t>(fragmentCount(envelopeLength, fragmentSize))),
      lastFragmentAt_(now),
      envelope_(std::make_unique_for_overwrite<std::uint8_t[]>(static_cast<std::size_t>(envelopeLength))),
      received_(count_, 0),
      fecScheme_(fecScheme),
      fecBlockLength_(fecScheme == 1 ? fecBlockLength : 0) {
  if (fecScheme_ == 1) {
    layout_ = condcast::fecLayout(count_, fecBlockLength, fecParityCount);
    symbolSize_ = static_cast<std::size_t>(std::min<std::uint64_t>(fragmentSize, envelopeLength));
    blocks_.resize(layout_.blockCount);
    parityState_.assign(static_cast<std::size_t>(std::uint64_t{layout_.blockCount} * layout_.parityCount), 0);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::bad_alloc();
  }
  md5_ = ctx;
}

PartialObject::~PartialObject() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(md5_)); }

std::uint64_t PartialObject::chunkLength(std::uint32_t index) const noexcept {
  const std::uint64_t start = std::uint64_t{index} * fragmentSize_;
  return std::min<std::uint64_t>(fragmentSize_, envelopeLength_ - start);
}

std::uint32_t PartialObject::parityHeld(std::uint32_t block) const noexcept {
  return block < blocks_.size() ? blocks_[block].parity : 0;
}

PartialObject::Stored PartialObject::store(std::uint32_t index, std::span<const std::uint8_t> chunk, std::int64_t now,
                                           FecDecoder* decoder, ReceiverCounters::Fec* fec) {
  if (index >= count_) {
    // A parity fragment (scheme 1; the decoder checked index < T + N·m and the chunk's length).
    const std::uint32_t p = index - count_;
    if (p >= parityState_.size()) return Stored::Duplicate;  // not reachable after the checks of SPEC 5.1
    if (parityState_[p] != 0) return Stored::Duplicate;
    const std::uint32_t b = p / layout_.parityCount;
    const std::uint32_t row = p % layout_.parityCount;
    Block& block = blocks_[b];
    lastFragmentAt_ = now;
    if (block.sources == layout_.blockSourceCount(b)) {
      parityState_[p] = 2;
      return Stored::NotNeeded;
    }
    auto& buffer = parityBuffers_[b];
    if (!buffer) buffer = std::make_unique_for_overwrite<std::uint8_t[]>(std::size_t{layout_.parityCount} * symbolSize_);
    std::memcpy(buffer.get() + std::size_t{row} * symbolSize_, chunk.data(), chunk.size());
    parityState_[p] = 1;
    block.parity++;
    if (decoder != nullptr) tryDecode(b, *decoder, fec);
    return Stored::Stored;
  }
  if (received_[index] != 0) return Stored::Duplicate;
  std::memcpy(envelope_.get() + std::uint64_t{index} * fragmentSize_, chunk.data(), chunk.size());
  received_[index] = 1;
  receivedCount_++;
  lastFragmentAt_ = now;
  if (fecScheme_ == 1) {
    const std::uint32_t b = layout_.blockOfSource(index);
    Block& block = blocks_[b];
    block.sources++;
    if (block.sources == layout_.blockSourceCount(b)) {
      if (block.parity > 0) parityBuffers_.erase(b);  // parity no longer needed
    } else if (block.parity > 0 && decoder != nullptr) {
      tryDecode(b, *decoder, fec);
    }
  }
  advanceHash();
  return Stored::Stored;
}

void PartialObject::tryDecode(std::uint32_t b, FecDecoder& decoder, ReceiverCounters::Fec* fec) {
  Block& block = blocks_[b];
  const std::uint32_t k = layout_.blockSourceCount(b);
  if (block.sources == k || block.sources + block.parity < k) return;
  const auto found = parityBuffers_.find(b);
  if (found == parityBuffers_.end()) return;
  const std::uint8_t* buffer = found->second.get();
  const std::uint32_t start = layout_.blockStart(b);
  const std::uint32_t m = layout_.parityCount;
  std::array<SourceSymbol, 255> sources;
  std::array<RecoveredSymbol, 255> out;
  std::array<ParitySymbol, 255> parity;
  std::uint32_t e = 0;
  for (std::uint32_t j = 0; j < k; j++) {
    const std::uint32_t index = start + j;
    std::uint8_t* at = envelope_.get() + std::uint64_t{index} * fragmentSize_;
    const auto length = static_cast<std::size_t>(chunkLength(index));
    if (received_[index] != 0) {
      sources[j] = {at, length};
    } else {
      sources[j] = {};
      out[e++] = {j, at, length};
    }
  }
  std::uint32_t held = 0;
  const std::size_t first = std::size_t{b} * m;
  for (std::uint32_t row = 0; row < m && held < e; row++) {
    if (parityState_[first + row] == 1) parity[held++] = {row, buffer + std::size_t{row} * symbolSize_};
  }
  if (!decoder.decode({sources.data(), k}, {parity.data(), held}, {out.data(), e}, symbolSize_)) return;
  for (std::uint32_t c = 0; c < e; c++) received_[start + out[c].position] = 1;
  receivedCount_ += e;
  block.sources = static_cast<std::uint8_t>(k);
  parityBuffers_.erase(found);
  if (fec != nullptr) {
    fec->blocksDecoded++;
    fec->parityUsed += e;
    fec->fragmentsRecovered += e;
  }
  advanceHash();
}

void PartialObject::advanceHash() {
  auto* ctx = static_cast<EVP_MD_CTX*>(md5_);
  while (hashedFragments_ < count_ && received_[hashedFragments_] != 0) {
    const std::uint64_t start = std::max<std::uint64_t>(std::uint64_t{hashedFragments_} * fragmentSize_, metadataLength_);
    const std::uint64_t end = std::min<std::uint64_t>((std::uint64_t{hashedFragments_} + 1) * fragmentSize_, envelopeLength_);
    if (end > start) EVP_DigestUpdate(ctx, envelope_.get() + start, static_cast<std::size_t>(end - start));
    hashedFragments_++;
  }
}

std::array<std::uint8_t, 16> PartialObject::payloadMd5() {
  if (!complete()) throw Error("object is incomplete");
  advanceHash();
  std::array<std::uint8_t, 16> out{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(md5_), out.data(), &length);
  return out;
}

std::vector<ByteRange> PartialObject::missingEnvelopeRanges() const {
  std::vector<ByteRange> ranges;
  auto add = [&](std::uint32_t index) {
    const std::uint64_t start = std::uint64_t{index} * fragmentSize_;
    const std::uint64_t end = start + chunkLength(index);
    if (!ranges.empty() && ranges.back().end == start) {
      ranges.back().end = end;
    } else {
      ranges.push_back({start, end});
    }
  };
  if (fecScheme_ != 1) {
    for (std::uint32_t i = 0; i < count_; i++) {
      if (received_[i] == 0) add(i);
    }
    return ranges;
  }
  // SPEC 5.2: a block holding h < k fragments needs k − h more: its first k − h missing sources.
  for (std::uint32_t b = 0; b < layout_.blockCount; b++) {
    const std::uint32_t k = layout_.blockSourceCount(b);
    const std::uint32_t held = std::uint32_t{blocks_[b].sources} + blocks_[b].parity;
    if (held >= k) continue;
    std::uint32_t needed = k - held;
    const std::uint32_t start = layout_.blockStart(b);
    for (std::uint32_t i = start; i < start + k && needed > 0; i++) {
      if (received_[i] == 0) {
        add(i);
        needed--;
      }
    }
  }
  return ranges;
}

std::vector<ByteRange> PartialObject::missingPayloadRanges() const {
  std::vector<ByteRange> out;
  for (const auto& r : missingEnvelopeRanges()) {
    const std::uint64_t start = r.start > metadataLength_ ? r.start - metadataLength_ : 0;
    const std::uint64_t end = r.end > metadataLength_ ? r.end - metadataLength_ : 0;
    if (end > start) out.push_back({start, end});
  }
  return out;
}

bool PartialObject::metadataMissing() const {
  const std::uint32_t lastMetadataFragment = (metadataLength_ - 1) / fragmentSize_;
  for (std::uint32_t i = 0; i <= lastMetadataFragment; i++) {
    if (received_[i] == 0) return true;
  }
  return false;
}

}  // namespace condcast

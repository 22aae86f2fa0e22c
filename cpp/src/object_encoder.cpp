// Cuts an object into datagrams (SPEC 2.4, 4.1); chunks are spans into the head and the payload.
#include "condcast/object_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "condcast/error.hpp"

namespace condcast {

SendOrder::SendOrder(const FecLayout& layout, std::uint32_t interleave) noexcept
    : layout_(layout), interleave_(interleave < 1 ? 1 : interleave), fec_(layout.parityCount > 0) {
  if (!fec_) {
    done_ = layout_.sourceCount == 0;
    return;
  }
  done_ = !settle();
}

void SendOrder::advance() noexcept {
  if (done_) return;
  if (!fec_) {
    if (++index_ >= layout_.sourceCount) done_ = true;
    return;
  }
  done_ = !settle();
}

bool SendOrder::settle() noexcept {
  const std::uint32_t m = layout_.parityCount;
  const std::uint32_t groups = (layout_.blockCount + interleave_ - 1) / interleave_;
  while (group_ < groups) {
    const std::uint32_t first = group_ * interleave_;
    const std::uint32_t end = std::min(layout_.blockCount, first + interleave_);
    const std::uint32_t rounds = layout_.blockSourceCount(first) + m;  // blocks go large first
    if (block_ < first) block_ = first;
    while (round_ < rounds) {
      while (block_ < end) {
        const std::uint32_t b = block_++;
        const std::uint32_t k = layout_.blockSourceCount(b);
        if (round_ < k + m) {
          index_ = round_ < k ? layout_.blockStart(b) + round_
                              : static_cast<std::uint32_t>(layout_.parityStart(b) + (round_ - k));
          return true;
        }
      }
      round_++;
      block_ = first;
    }
    group_++;
    round_ = 0;
    block_ = group_ * interleave_;
  }
  return false;
}

ObjectEncoder::ObjectEncoder(const ObjectToEncode& object, std::size_t datagramSize, const AuthKey* key,
                             const FecConfig& fec)
    : datagramSize_(datagramSize), payload_(object.payload) {
  if (object.sequence < 1 || object.sequence > kMaxSequence) {
    throw Error("sequence must be in [1, 2^53 - 1], got " + std::to_string(object.sequence));
  }
  head_ = encodeObjectMeta(object.meta);
  const std::uint64_t envelopeLength = head_.size() + payload_.size();
  if (envelopeLength > kMaxEnvelopeLength) {
    throw Error("object too large: envelope of " + std::to_string(envelopeLength) + " bytes exceeds 2147483647");
  }
  template_.senderId = object.senderId;
  template_.sequence = object.sequence;
  std::memcpy(template_.objectId, object.id.data(), kObjectIdLength);
  template_.envelopeLength = envelopeLength;
  template_.metadataLength = static_cast<std::uint32_t>(head_.size());
  template_.fragmentSize = static_cast<std::uint32_t>(fragmentSizeFor(datagramSize, key != nullptr));
  sourceCount_ = static_cast<std::uint32_t>(fragmentCount(envelopeLength, template_.fragmentSize));
  count_ = sourceCount_;
  symbolSize_ = static_cast<std::size_t>(std::min<std::uint64_t>(template_.fragmentSize, envelopeLength));
  interleave_ = std::max<std::uint32_t>(1, fec.interleave);
  layout_ = condcast::fecLayout(sourceCount_, 1, 0);
  layout_.parityCount = 0;
  if (fec.enabled()) {
    if (fec.blockLength < 1 || fec.blockLength + fecParityFor(fec.blockLength, fec.parityUnits) > 255) {
      throw Error("invalid FEC block length " + std::to_string(fec.blockLength));
    }
    FecLayout blocks = condcast::fecLayout(sourceCount_, fec.blockLength, 0);
    blocks.parityCount = fecParityFor(blocks.aLarge, fec.parityUnits);  // SPEC 10.4: m = parity(A_large)
    const std::uint64_t total = blocks.totalCount();
    if (total > 0xFFFFFFFFULL) throw Error("too many fragments with FEC");
    layout_ = blocks;
    count_ = static_cast<std::uint32_t>(total);
    template_.fecScheme = 1;
    template_.fecBlockLength = fec.blockLength;
    template_.fecParityCount = blocks.parityCount;
  }
  if (key != nullptr) {
    if (key->key.size() < kMinKeyLength) throw Error("key must be at least 16 bytes");
    keyId_ = key->id;
    hmac_ = std::make_unique<Hmac>(key->key);
  }
}

ObjectEncoder::~ObjectEncoder() = default;

std::size_t ObjectEncoder::parityWorkspaceSize() const noexcept {
  if (!fecEnabled()) return 0;
  return std::size_t{std::min(interleave_, layout_.blockCount)} * layout_.parityCount * symbolSize_;
}

void ObjectEncoder::useParityWorkspace(std::span<std::uint8_t> workspace) {
  if (workspace.size() < parityWorkspaceSize()) throw Error("parity workspace too small");
  workspace_ = workspace;
  encodedGroup_ = -1;
}

void ObjectEncoder::sourcePieces(std::uint32_t index, std::span<const std::uint8_t> (&out)[2]) const noexcept {
  out[0] = {};
  out[1] = {};
  const std::uint64_t start = std::uint64_t{index} * template_.fragmentSize;
  const std::uint64_t end = std::min<std::uint64_t>(start + template_.fragmentSize, template_.envelopeLength);
  const std::size_t headLength = head_.size();
  std::size_t piece = 0;
  std::uint64_t from = start;
  if (from < headLength) {
    const std::uint64_t headEnd = std::min<std::uint64_t>(end, headLength);
    out[piece++] = {reinterpret_cast<const std::uint8_t*>(head_.data()) + from, static_cast<std::size_t>(headEnd - from)};
    from = headEnd;
  }
  if (from < end) {
    out[piece] = payload_.subspan(static_cast<std::size_t>(from - headLength), static_cast<std::size_t>(end - from));
  }
}

void ObjectEncoder::encodeGroup(std::uint32_t group) noexcept {
  if (!fecEnabled() || encodedGroup_ == group) return;
  if (workspace_.empty()) {
    ownWorkspace_.resize(parityWorkspaceSize());
    workspace_ = ownWorkspace_;
  }
  const std::uint32_t m = layout_.parityCount;
  const std::uint32_t first = group * interleave_;
  const std::uint32_t end = std::min(layout_.blockCount, first + interleave_);
  for (std::uint32_t b = first; b < end; b++) {
    FecEncoder encoder(workspace_.data() + std::size_t{b - first} * m * symbolSize_, m, symbolSize_);
    encoder.reset();
    const std::uint32_t start = layout_.blockStart(b);
    const std::uint32_t k = layout_.blockSourceCount(b);
    for (std::uint32_t j = 0; j < k; j++) {
      std::span<const std::uint8_t> pieces[2];
      sourcePieces(start + j, pieces);
      encoder.add(j, 0, pieces[0]);
      encoder.add(j, pieces[0].size(), pieces[1]);
    }
  }
  encodedGroup_ = group;
}

ObjectEncoder::Pieces ObjectEncoder::prepare(std::uint32_t index, std::uint8_t* header, std::uint8_t* trailer) {
  Pieces pieces;
  std::size_t chunkLength;
  if (index < sourceCount_) {
    sourcePieces(index, pieces.chunk);
    chunkLength = pieces.chunk[0].size() + pieces.chunk[1].size();
  } else {
    const std::uint32_t m = layout_.parityCount;
    const std::uint32_t block = (index - sourceCount_) / m;
    const std::uint32_t row = (index - sourceCount_) % m;
    const std::uint32_t group = groupOfBlock(block);
    encodeGroup(group);
    const std::size_t at = (std::size_t{block - group * interleave_} * m + row) * symbolSize_;
    pieces.chunk[0] = {workspace_.data() + at, symbolSize_};
    chunkLength = symbolSize_;
  }
  std::size_t at = writePreamble(header, DatagramKind::Fragment, hmac_ != nullptr);
  at += writeFragmentHeader(header + at, template_, index, chunkLength);
  pieces.headerLength = at;
  if (hmac_ != nullptr) {
    trailer[0] = static_cast<std::uint8_t>(keyId_ >> 24);
    trailer[1] = static_cast<std::uint8_t>(keyId_ >> 16);
    trailer[2] = static_cast<std::uint8_t>(keyId_ >> 8);
    trailer[3] = static_cast<std::uint8_t>(keyId_);
    hmac_->begin();
    hmac_->update({header, pieces.headerLength});
    hmac_->update(pieces.chunk[0]);
    hmac_->update(pieces.chunk[1]);
    hmac_->update({trailer, kAuthKeyIdLength});
    hmac_->finish(trailer + kAuthKeyIdLength);
    pieces.trailerLength = kAuthTrailerLength;
  }
  return pieces;
}

std::size_t ObjectEncoder::writeDatagram(std::uint32_t index, std::uint8_t* out) {
  std::uint8_t trailer[kAuthTrailerLength];
  Pieces pieces = prepare(index, out, trailer);
  std::size_t at = pieces.headerLength;
  for (const auto& chunk : pieces.chunk) {
    if (!chunk.empty()) std::memcpy(out + at, chunk.data(), chunk.size());
    at += chunk.size();
  }
  std::memcpy(out + at, trailer, pieces.trailerLength);
  return at + pieces.trailerLength;
}

std::vector<std::vector<std::uint8_t>> ObjectEncoder::datagrams() {
  std::vector<std::vector<std::uint8_t>> out;
  out.reserve(count_);
  for (SendOrder order = sendOrder(); !order.done(); order.advance()) {
    std::vector<std::uint8_t> buf(datagramSize_);
    buf.resize(writeDatagram(order.index(), buf.data()));
    out.push_back(std::move(buf));
  }
  return out;
}

}  // namespace condcast

// Cuts an object into datagrams (SPEC 2.4, 4.1); chunks are spans into the head and the payload.
#include "condcast/object_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "condcast/error.hpp"

namespace condcast {

ObjectEncoder::ObjectEncoder(const ObjectToEncode& object, std::size_t datagramSize, const AuthKey* key)
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
  count_ = static_cast<std::uint32_t>(fragmentCount(envelopeLength, template_.fragmentSize));
  if (key != nullptr) {
    if (key->key.size() < kMinKeyLength) throw Error("key must be at least 16 bytes");
    keyId_ = key->id;
    hmac_ = std::make_unique<Hmac>(key->key);
  }
}

ObjectEncoder::~ObjectEncoder() = default;

ObjectEncoder::Pieces ObjectEncoder::prepare(std::uint32_t index, std::uint8_t* header, std::uint8_t* trailer) {
  Pieces pieces;
  const std::uint64_t start = std::uint64_t{index} * template_.fragmentSize;
  const std::uint64_t end = std::min<std::uint64_t>(start + template_.fragmentSize, template_.envelopeLength);
  const std::size_t chunkLength = static_cast<std::size_t>(end - start);
  std::size_t at = writePreamble(header, DatagramKind::Fragment, hmac_ != nullptr);
  at += writeFragmentHeader(header + at, template_, index, chunkLength);
  pieces.headerLength = at;
  const std::size_t headLength = head_.size();
  std::size_t piece = 0;
  std::uint64_t from = start;
  if (from < headLength) {
    const std::uint64_t headEnd = std::min<std::uint64_t>(end, headLength);
    pieces.chunk[piece++] = {reinterpret_cast<const std::uint8_t*>(head_.data()) + from,
                             static_cast<std::size_t>(headEnd - from)};
    from = headEnd;
  }
  if (from < end) {
    pieces.chunk[piece] = payload_.subspan(static_cast<std::size_t>(from - headLength), static_cast<std::size_t>(end - from));
  }
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
  for (std::uint32_t i = 0; i < count_; i++) {
    std::vector<std::uint8_t> buf(datagramSize_);
    buf.resize(writeDatagram(i, buf.data()));
    out.push_back(std::move(buf));
  }
  return out;
}

}  // namespace condcast

// The object model and its envelope head, ObjectMeta (SPEC 4.2). ObjectMeta is encoded with the
// protoc-generated codec, once per object (never per datagram). Mirrors ts/src/wire/object.ts.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "condcast/ids.hpp"

namespace condcast {

/// Free metadata in wire order: strictly ascending by the key's UTF-8 bytes, keys unique.
using Metadata = std::vector<std::pair<std::string, std::string>>;

/// An object's CCDB metadata as applications see it.
struct ObjectMetadata {
  std::string path;
  std::int64_t validFrom = 0;   ///< epoch ms, inclusive
  std::int64_t validUntil = 0;  ///< epoch ms, exclusive
  std::int64_t created = 0;     ///< epoch ms
  std::string contentType;
  std::string fileName;
  std::array<std::uint8_t, 16> md5{};  ///< MD5 of the payload
  Metadata metadata;
  /// The changeset the object belongs to (SPEC 11); empty for an object of its own.
  std::string changeset;

  bool operator==(const ObjectMetadata&) const = default;
};

/// A changeset id or a keytable name (SPEC 4.5): 1 to 64 bytes of [A-Za-z0-9._-].
bool isChangesetId(std::string_view text) noexcept;
inline bool isKeytableName(std::string_view text) noexcept { return isChangesetId(text); }

/// Orders keys by their UTF-8 bytes (unsigned), the order SPEC 3 puts on the wire.
bool utf8Less(std::string_view a, std::string_view b) noexcept;
/// Sorts entries into wire order; a repeated key keeps its last value.
Metadata sortedMetadata(std::vector<std::pair<std::string, std::string>> entries);

/// Why metadata violates SPEC 4.2 (plus the TypeScript reference's rules: times within +-(2^53 - 1),
/// metadata keys non-empty), or nullopt. Order of the entries is not checked here.
std::optional<std::string> metadataProblem(const ObjectMetadata& meta);

/// The envelope head: ObjectMeta in its deterministic encoding (entries sorted into wire order, a
/// repeated key keeps its last value). Throws Error on invalid metadata.
std::string encodeObjectMeta(const ObjectMetadata& meta);
/// Decodes an envelope head; nullopt when it is not valid ObjectMeta (drop reason bad_metadata):
/// a parse failure, md5 not 16 bytes, entries not strictly ascending, or a metadataProblem().
std::optional<ObjectMetadata> decodeObjectMeta(std::span<const std::uint8_t> bytes);

/// MD5 of bytes (OpenSSL).
std::array<std::uint8_t, 16> md5(std::span<const std::uint8_t> bytes);

/// A complete object as a receiver delivers it. The payload is a view into the reassembled
/// envelope buffer (owned by this object; no copy is made on completion).
struct ReceivedObject {
  ObjectId id{};
  std::uint64_t senderId = 0;
  std::uint64_t sequence = 0;
  ObjectMetadata meta;
  std::unique_ptr<std::uint8_t[]> envelope;
  std::size_t envelopeLength = 0;
  std::size_t metadataLength = 0;

  std::span<const std::uint8_t> payload() const noexcept {
    return {envelope.get() + metadataLength, envelopeLength - metadataLength};
  }
};

}  // namespace condcast

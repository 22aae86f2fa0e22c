// SPEC 5.1 row 10 at the wire level for the bodies decoded with the generated codec (Heartbeat,
// Lifecycle, ObjectMeta): the parser keeps a known field that arrives with another wire type, and
// groups, as unknown fields; the spec calls both malformed, and tags longer than 5 bytes too. A body
// is first checked and rewritten in canonical form (shortest varints, so padded value and length
// varints parse as the spec allows), then parsed.
// The expected wire types come from the generated descriptors, so the .proto stays the one place
// that declares them (mirrors ts/src/wire/well-formed.ts). Internal: not part of the installed API.
#pragma once

#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <span>
#include <string>

namespace condcast {

/// Largest protobuf field number (2^29 - 1).
inline constexpr std::uint64_t kMaxFieldNumber = (std::uint64_t{1} << 29) - 1;

/// A tag is a uint32 varint: at most 5 bytes; a longer (padded) tag is malformed (SPEC 5.1 row 10).
inline constexpr std::ptrdiff_t kMaxTagLength = 5;

/// True when `bytes` is a well-formed encoding of `message`: every tag is at most 5 bytes, has a field number in
/// [1, 2^29 - 1] and a non-group wire type, every known field its declared wire type (nested messages
/// checked too), and every value ends inside the bytes. When `canonical` is given, it receives the same
/// fields with every tag, varint and length in its shortest form (what protobuf's parser accepts).
bool isWellFormed(std::span<const std::uint8_t> bytes, const google::protobuf::Descriptor* message,
                  std::string* canonical = nullptr);

}  // namespace condcast

// SPEC 5.1 row 10 at the wire level for the bodies decoded with the generated codec (Heartbeat,
// Lifecycle, ObjectMeta). protobuf's C++ parser keeps a known field that arrives with another wire type,
// and groups, as unknown fields; the spec calls both malformed. The expected wire types come from the
// generated descriptors, so the .proto stays the one place that declares them (mirrors
// ts/src/wire/well-formed.ts). Internal: not part of the installed API.
#pragma once

#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <span>

namespace condcast {

/// Largest protobuf field number (2^29 - 1).
inline constexpr std::uint64_t kMaxFieldNumber = (std::uint64_t{1} << 29) - 1;

/// True when `bytes` is a well-formed encoding of `message`: every tag has a field number in
/// [1, 2^29 - 1] and a non-group wire type, every known field its declared wire type (nested messages
/// checked too), and every value ends inside the bytes.
bool isWellFormed(std::span<const std::uint8_t> bytes, const google::protobuf::Descriptor* message);

}  // namespace condcast

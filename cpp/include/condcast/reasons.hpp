// Drop reasons of spec/SPEC.md section 6: the same strings in every implementation
// (ts/src/wire/reasons.ts).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace condcast {

/// Why a datagram was dropped: per-datagram checks (SPEC 5.1, in check order), then reassembly
/// (SPEC 5.2).
enum class DropReason : std::uint8_t {
  Truncated,
  BadMagic,
  BadVersion,
  BadFlags,
  UnknownKind,
  Unauthenticated,
  UnknownKey,
  BadMac,
  Malformed,
  BadObjectId,
  UnsupportedFec,
  BadFec,
  Oversize,
  BadLength,
  IndexOutOfRange,
  BadCommit,
  // reassembly
  Inconsistent,
  Duplicate,
  OverCapacity,
};
inline constexpr std::size_t kDropReasonCount = 19;
inline constexpr std::size_t kDatagramReasonCount = 16;

/// Why a whole object was dropped (SPEC 5.2).
enum class ObjectDropReason : std::uint8_t { BadMetadata, Md5Mismatch, Expired, Uncommitted };
inline constexpr std::size_t kObjectDropReasonCount = 4;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames{
    "truncated",     "bad_magic",       "bad_version", "bad_flags",  "unknown_kind",       "unauthenticated",
    "unknown_key",   "bad_mac",         "malformed",   "bad_object_id", "unsupported_fec", "bad_fec", "oversize",
    "bad_length",    "index_out_of_range", "bad_commit", "inconsistent", "duplicate", "over_capacity"};
inline constexpr std::array<std::string_view, kObjectDropReasonCount> kObjectDropReasonNames{
    "bad_metadata", "md5_mismatch", "expired", "uncommitted"};

constexpr std::string_view toString(DropReason r) noexcept { return kDropReasonNames[static_cast<std::size_t>(r)]; }
constexpr std::string_view toString(ObjectDropReason r) noexcept {
  return kObjectDropReasonNames[static_cast<std::size_t>(r)];
}

/// The reason named `name`, or nullopt.
std::optional<DropReason> dropReasonFromString(std::string_view name) noexcept;
std::optional<ObjectDropReason> objectDropReasonFromString(std::string_view name) noexcept;

}  // namespace condcast

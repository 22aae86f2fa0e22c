// Text forms of the wire's binary ids (SPEC 3): sender ids as 16 lowercase hex digits, object ids
// as canonical lowercase UUIDs.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace condcast {

using ObjectId = std::array<std::uint8_t, 16>;

/// True for 8-4-4-4-12 hex digits (either case).
bool isUuid(std::string_view text) noexcept;
/// The 16 bytes of a UUID; throws Error when `text` is not one.
ObjectId parseUuid(std::string_view text);
/// Canonical lowercase text of 16 bytes.
std::string formatUuid(std::span<const std::uint8_t, 16> bytes);
/// A random (version 4) UUID from OpenSSL's RNG.
ObjectId randomUuid();

/// A sender id from 1 to 16 hex digits; throws Error otherwise.
std::uint64_t parseSenderId(std::string_view text);
/// 16 lowercase hex digits.
std::string formatSenderId(std::uint64_t id);
std::uint64_t randomSenderId();

/// Lowercase hex of bytes, and back (throws Error on odd length / non-hex).
std::string toHex(std::span<const std::uint8_t> bytes);
std::string fromHex(std::string_view hex);

}  // namespace condcast

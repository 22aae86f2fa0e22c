// Protocol constants of spec/SPEC.md (names mirror ts/src/wire/constants.ts).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace condcast {

/// Magic bytes at offset 0 of every datagram (SPEC 2.1).
inline constexpr std::array<std::uint8_t, 4> kMagic{0xCC, 0xDB, 0x63, 0x63};
inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kPreambleLength = 8;

/// Datagram kinds (preamble byte 5).
enum class DatagramKind : std::uint8_t { Fragment = 1, Heartbeat = 2, Lifecycle = 3, Commit = 4 };
/// Most keytables a heartbeat announces (SPEC 4.3).
inline constexpr std::size_t kMaxHeartbeatKeys = 32;
/// Longest keytable name or changeset id (SPEC 4.5).
inline constexpr std::size_t kMaxNameLength = 64;

/// Preamble flag: a 20-byte auth trailer ends the datagram.
inline constexpr std::uint8_t kFlagAuth = 0x01;
inline constexpr std::size_t kAuthKeyIdLength = 4;
inline constexpr std::size_t kAuthMacLength = 16;
inline constexpr std::size_t kAuthTrailerLength = kAuthKeyIdLength + kAuthMacLength;
inline constexpr std::size_t kMinKeyLength = 16;

/// Largest encoding of every Fragment field but the chunk's bytes (SPEC 2.4).
inline constexpr std::size_t kMaxFragmentHeader = 72;
inline constexpr std::size_t kMinDatagramSize = 256;
inline constexpr std::size_t kMaxDatagramSize = 65507;
inline constexpr std::uint64_t kMaxEnvelopeLength = (std::uint64_t{1} << 31) - 1;
/// Largest sequence number (2^53 - 1, exact in every language).
inline constexpr std::uint64_t kMaxSequence = (std::uint64_t{1} << 53) - 1;
inline constexpr std::size_t kObjectIdLength = 16;
inline constexpr std::size_t kMd5Length = 16;

inline constexpr const char* kDefaultGroup = "239.255.204.219";
inline constexpr std::uint16_t kDefaultPort = 3342;
inline constexpr const char* kDefaultInterface = "127.0.0.1";
inline constexpr int kDefaultTtl = 1;
inline constexpr std::size_t kDefaultDatagramSize = 1472;
inline constexpr double kDefaultRate = 100'000'000;
inline constexpr std::uint32_t kDefaultHeartbeatIntervalMs = 1000;
/// SPEC 4.5 / 7: every Commit goes out this many times, identical, this many ms apart.
inline constexpr unsigned kDefaultCommitCopies = 3;
inline constexpr std::uint32_t kDefaultCommitCopyIntervalMs = 10;
/// SPEC 5.4: Commits a receiver remembers to recognise their copies.
inline constexpr std::size_t kCommitCopyMemory = 1024;
inline constexpr std::uint64_t kDefaultMaxPartialBytes = 1024ULL * 1024 * 1024 + 256ULL * 1024 * 1024;
inline constexpr std::int64_t kDefaultPartialTimeoutMs = 10'000;
inline constexpr int kDefaultReceiveBufferSize = 32 * 1024 * 1024;

/// Envelope bytes per datagram for a datagram size (SPEC 2.4). Throws condcast::Error when the
/// size is outside [kMinDatagramSize, kMaxDatagramSize].
std::size_t fragmentSizeFor(std::size_t datagramSize, bool authenticated);

/// ceil(envelopeLength / fragmentSize); fragmentSize must be >= 1.
constexpr std::uint64_t fragmentCount(std::uint64_t envelopeLength, std::uint64_t fragmentSize) noexcept {
  return envelopeLength / fragmentSize + (envelopeLength % fragmentSize != 0 ? 1 : 0);
}

}  // namespace condcast

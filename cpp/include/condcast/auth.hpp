// Per-datagram authentication (SPEC 2.3): HMAC-SHA256 truncated to 16 bytes, with a 32-bit key id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "condcast/reasons.hpp"

namespace condcast {

struct AuthKey {
  std::uint32_t id = 1;
  std::vector<std::uint8_t> key;  ///< at least kMinKeyLength bytes
};

/// Keys a receiver accepts, by key id. Empty: trailers are ignored (stripped, not verified).
using KeyRing = std::map<std::uint32_t, std::vector<std::uint8_t>>;

/// A key from hexadecimal text (white space ignored), at least 16 bytes; throws Error otherwise.
std::vector<std::uint8_t> parseKeyHex(std::string_view text);
/// Reads a key file (hex text); throws Error.
AuthKey readKeyFile(const std::string& path, std::uint32_t id);

/// HMAC-SHA256 over a sequence of byte ranges, truncated to 16 bytes. Holds an OpenSSL context
/// (allocated once); computing a MAC allocates nothing. Not thread-safe: one per thread.
class Hmac {
 public:
  explicit Hmac(std::span<const std::uint8_t> key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  void begin();
  void update(std::span<const std::uint8_t> bytes);
  /// Writes the first 16 bytes of the digest to `out`.
  void finish(std::uint8_t* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::uint8_t> key_;
};

/// Writes the trailer into datagram[length - 20, length): key id then MAC over
/// datagram[0, length - 16). The preamble must already carry the auth flag.
void signDatagram(std::span<std::uint8_t> datagram, std::uint32_t keyId, Hmac& hmac);

/// Verifies trailers against a key ring (one HMAC context per key, allocated up front).
class AuthVerifier {
 public:
  explicit AuthVerifier(const KeyRing& keys);
  ~AuthVerifier();
  AuthVerifier(AuthVerifier&&) noexcept;
  AuthVerifier& operator=(AuthVerifier&&) noexcept;

  /// SPEC 5.1 rows 6-9 for a datagram whose preamble passed rows 1-5. Returns the first failing
  /// reason, or nullopt; `bodyEnd` receives where the body ends (before the trailer, which is
  /// stripped whether or not it was verified).
  std::optional<DropReason> check(std::span<const std::uint8_t> datagram, std::size_t& bodyEnd);

 private:
  std::map<std::uint32_t, std::unique_ptr<Hmac>> macs_;
};

}  // namespace condcast

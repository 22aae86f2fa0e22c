// HMAC-SHA256 truncated to 16 bytes (SPEC 2.3), with OpenSSL 3's EVP_MAC API.
#include "condcast/auth.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "condcast/constants.hpp"
#include "condcast/error.hpp"
#include "condcast/ids.hpp"

namespace condcast {

std::vector<std::uint8_t> parseKeyHex(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(c);
  }
  std::string bytes;
  try {
    bytes = fromHex(hex);
  } catch (const Error&) {
    throw Error("key must be hexadecimal text");
  }
  if (bytes.size() < kMinKeyLength) {
    throw Error("key must be at least 16 bytes, got " + std::to_string(bytes.size()));
  }
  return {bytes.begin(), bytes.end()};
}

AuthKey readKeyFile(const std::string& path, std::uint32_t id) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read key file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return AuthKey{id, parseKeyHex(text.str())};
}

/// The OpenSSL MAC and its context; freed with the Hmac.
struct Hmac::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  OSSL_PARAM params[2];
  char digest[7] = "SHA256";
  ~Impl() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

Hmac::Hmac(std::span<const std::uint8_t> key) : impl_(std::make_unique<Impl>()), key_(key.begin(), key.end()) {
  impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl_->mac != nullptr) impl_->ctx = EVP_MAC_CTX_new(impl_->mac);
  if (impl_->ctx == nullptr) throw Error("OpenSSL HMAC is not available");
  impl_->params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, impl_->digest, 0);
  impl_->params[1] = OSSL_PARAM_construct_end();
}

Hmac::~Hmac() = default;

void Hmac::begin() {
  // Re-keying per MAC keeps the context reusable without allocation (a key schedule is 2 blocks).
  if (EVP_MAC_init(impl_->ctx, key_.data(), key_.size(), impl_->params) != 1) throw Error("EVP_MAC_init failed");
}

void Hmac::update(std::span<const std::uint8_t> bytes) {
  if (!bytes.empty() && EVP_MAC_update(impl_->ctx, bytes.data(), bytes.size()) != 1) {
    throw Error("EVP_MAC_update failed");
  }
}

void Hmac::finish(std::uint8_t* out) {
  unsigned char full[32];
  std::size_t length = 0;
  if (EVP_MAC_final(impl_->ctx, full, &length, sizeof full) != 1 || length != 32) throw Error("EVP_MAC_final failed");
  std::copy(full, full + kAuthMacLength, out);
}

void signDatagram(std::span<std::uint8_t> datagram, std::uint32_t keyId, Hmac& hmac) {
  const std::size_t length = datagram.size();
  std::uint8_t* keyIdAt = datagram.data() + length - kAuthTrailerLength;
  keyIdAt[0] = static_cast<std::uint8_t>(keyId >> 24);
  keyIdAt[1] = static_cast<std::uint8_t>(keyId >> 16);
  keyIdAt[2] = static_cast<std::uint8_t>(keyId >> 8);
  keyIdAt[3] = static_cast<std::uint8_t>(keyId);
  hmac.begin();
  hmac.update(datagram.first(length - kAuthMacLength));
  hmac.finish(datagram.data() + length - kAuthMacLength);
}

AuthVerifier::AuthVerifier(const KeyRing& keys) {
  for (const auto& [id, key] : keys) macs_.emplace(id, std::make_unique<Hmac>(key));
}
AuthVerifier::~AuthVerifier() = default;
AuthVerifier::AuthVerifier(AuthVerifier&&) noexcept = default;
AuthVerifier& AuthVerifier::operator=(AuthVerifier&&) noexcept = default;

std::optional<DropReason> AuthVerifier::check(std::span<const std::uint8_t> datagram, std::size_t& bodyEnd) {
  const std::size_t length = datagram.size();
  const bool authenticated = (datagram[6] & kFlagAuth) != 0;
  if (authenticated && length < kPreambleLength + kAuthTrailerLength) return DropReason::Truncated;
  bodyEnd = authenticated ? length - kAuthTrailerLength : length;
  if (macs_.empty()) return std::nullopt;
  if (!authenticated) return DropReason::Unauthenticated;
  const std::uint8_t* k = datagram.data() + length - kAuthTrailerLength;
  const std::uint32_t keyId =
      (std::uint32_t{k[0]} << 24) | (std::uint32_t{k[1]} << 16) | (std::uint32_t{k[2]} << 8) | std::uint32_t{k[3]};
  auto it = macs_.find(keyId);
  if (it == macs_.end()) return DropReason::UnknownKey;
  Hmac& hmac = *it->second;
  hmac.begin();
  hmac.update(datagram.first(length - kAuthMacLength));
  std::uint8_t expected[kAuthMacLength];
  hmac.finish(expected);
  if (CRYPTO_memcmp(expected, datagram.data() + length - kAuthMacLength, kAuthMacLength) != 0) return DropReason::BadMac;
  return std::nullopt;
}

}  // namespace condcast

// Small shared pieces: errors, reason names, ids, sizes, sockets.
#include <arpa/inet.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "condcast/constants.hpp"
#include "condcast/error.hpp"
#include "condcast/ids.hpp"
#include "condcast/reasons.hpp"
#include "condcast/socket.hpp"

namespace condcast {

void throwSystemError(const std::string& what) { throw Error(what + ": " + std::strerror(errno)); }

std::size_t fragmentSizeFor(std::size_t datagramSize, bool authenticated) {
  if (datagramSize < kMinDatagramSize || datagramSize > kMaxDatagramSize) {
    throw Error("datagram size must be an integer in [256, 65507], got " + std::to_string(datagramSize));
  }
  return datagramSize - kPreambleLength - kMaxFragmentHeader - (authenticated ? kAuthTrailerLength : 0);
}

std::optional<DropReason> dropReasonFromString(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kDropReasonCount; i++) {
    if (kDropReasonNames[i] == name) return static_cast<DropReason>(i);
  }
  return std::nullopt;
}

std::optional<ObjectDropReason> objectDropReasonFromString(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kObjectDropReasonCount; i++) {
    if (kObjectDropReasonNames[i] == name) return static_cast<ObjectDropReason>(i);
  }
  return std::nullopt;
}

namespace {
int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr char kHexDigits[] = "0123456789abcdef";
}  // namespace

std::string toHex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 15]);
  }
  return out;
}

std::string fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw Error("hex text of odd length");
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); i++) {
    int hi = hexValue(hex[2 * i]);
    int lo = hexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw Error("not hexadecimal text");
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

bool isUuid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (hexValue(text[i]) < 0) {
      return false;
    }
  }
  return true;
}

ObjectId parseUuid(std::string_view text) {
  if (!isUuid(text)) throw Error("not a UUID: \"" + std::string(text) + "\"");
  ObjectId id{};
  std::size_t j = 0;
  for (std::size_t i = 0; i < 36;) {
    if (text[i] == '-') {
      i++;
      continue;
    }
    id[j++] = static_cast<std::uint8_t>((hexValue(text[i]) << 4) | hexValue(text[i + 1]));
    i += 2;
  }
  return id;
}

std::string formatUuid(std::span<const std::uint8_t, 16> bytes) {
  std::string hex = toHex(bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

ObjectId randomUuid() {
  ObjectId id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) throw Error("RAND_bytes failed");
  id[6] = static_cast<std::uint8_t>((id[6] & 0x0F) | 0x40);
  id[8] = static_cast<std::uint8_t>((id[8] & 0x3F) | 0x80);
  return id;
}

std::uint64_t parseSenderId(std::string_view text) {
  if (text.empty() || text.size() > 16) throw Error("sender id must be 1 to 16 hex digits, got \"" + std::string(text) + "\"");
  std::uint64_t value = 0;
  for (char c : text) {
    int v = hexValue(c);
    if (v < 0) throw Error("sender id must be 1 to 16 hex digits, got \"" + std::string(text) + "\"");
    value = (value << 4) | static_cast<std::uint64_t>(v);
  }
  return value;
}

std::string formatSenderId(std::uint64_t id) {
  std::string out(16, '0');
  for (int i = 15; i >= 0; i--) {
    out[static_cast<std::size_t>(i)] = kHexDigits[id & 15];
    id >>= 4;
  }
  return out;
}

std::uint64_t randomSenderId() {
  std::uint64_t id = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) throw Error("RAND_bytes failed");
  return id;
}

UdpSocket::UdpSocket() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throwSystemError("socket");
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

in_addr parseIpv4(const std::string& text, const char* what) {
  in_addr address{};
  if (::inet_pton(AF_INET, text.c_str(), &address) != 1) {
    throw Error(std::string(what) + " must be an IPv4 address, got " + text);
  }
  return address;
}

bool isMulticast(in_addr address) noexcept {
  std::uint32_t host = ntohl(address.s_addr);
  return (host >> 28) == 0xE;
}

}  // namespace condcast

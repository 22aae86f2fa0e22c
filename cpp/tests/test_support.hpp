// Helpers shared by the tests: the spec's vectors, hex, ports.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "condcast/condcast.hpp"

namespace testsupport {

inline std::filesystem::path specDir() { return CONDCAST_SPEC_DIR; }
inline std::filesystem::path vectorDir() { return specDir() / "vectors"; }

/// Ports for the tests: CONDCAST_TEST_PORT_BASE + offset (offsets < 500, all within 41000-41999).
inline std::uint16_t port(int offset) { return static_cast<std::uint16_t>(CONDCAST_TEST_PORT_BASE + offset); }

inline std::vector<std::uint8_t> readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline nlohmann::json readJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return nlohmann::json::parse(in);
}

inline std::vector<std::uint8_t> hexBytes(const std::string& hex) {
  const std::string raw = condcast::fromHex(hex);
  return {raw.begin(), raw.end()};
}

inline condcast::Metadata metadataOf(const nlohmann::json& entries) {
  condcast::Metadata out;
  for (const auto& e : entries) out.emplace_back(e.at(0).get<std::string>(), e.at(1).get<std::string>());
  return out;
}

inline condcast::KeyRing keysOf(const nlohmann::json& vector) {
  condcast::KeyRing keys;
  if (vector.contains("receiver") && vector["receiver"].contains("keys")) {
    for (const auto& k : vector["receiver"]["keys"]) {
      keys[k.at("id").get<std::uint32_t>()] = condcast::parseKeyHex(k.at("keyHex").get<std::string>());
    }
  }
  return keys;
}

inline std::uint64_t maxEnvelopeOf(const nlohmann::json& vector) {
  if (vector.contains("receiver") && vector["receiver"].contains("maxEnvelopeLength")) {
    return vector["receiver"]["maxEnvelopeLength"].get<std::uint64_t>();
  }
  return condcast::kMaxEnvelopeLength;
}

/// A deterministic pseudo-random payload.
inline std::vector<std::uint8_t> pattern(std::size_t size, std::uint32_t seed = 1) {
  std::vector<std::uint8_t> out(size);
  std::uint32_t x = seed * 2654435761u + 12345;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

}  // namespace testsupport

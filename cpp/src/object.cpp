// ObjectMeta (SPEC 4.2) with the protoc-generated codec; MD5 with OpenSSL.
#include "condcast/object.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "condcast/constants.hpp"
#include "condcast/error.hpp"
#include "condcast/v1/wire.pb.h"
#include "well_formed.hpp"

namespace condcast {

bool utf8Less(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);  // memcmp compares unsigned bytes
  return c < 0 || (c == 0 && a.size() < b.size());
}

Metadata sortedMetadata(std::vector<std::pair<std::string, std::string>> entries) {
  std::vector<std::pair<std::string, std::string>> unique;
  // Last value wins for a repeated key (as a JavaScript record would).
  for (auto& entry : entries) {
    auto it = std::find_if(unique.begin(), unique.end(), [&](const auto& e) { return e.first == entry.first; });
    if (it != unique.end()) it->second = std::move(entry.second);
    else unique.push_back(std::move(entry));
  }
  std::stable_sort(unique.begin(), unique.end(), [](const auto& a, const auto& b) { return utf8Less(a.first, b.first); });
  return unique;
}

bool isChangesetId(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxNameLength) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::optional<std::string> metadataProblem(const ObjectMetadata& meta) {
  const std::string& path = meta.path;
  if (path.empty()) return "path is empty";
  if (path.front() == '/' || path.back() == '/') return "path must not start or end with '/'";
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view element(path.data() + start, (slash == std::string::npos ? path.size() : slash) - start);
    if (element.empty() || std::all_of(element.begin(), element.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return "path elements must be non-empty and not all digits";
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  const auto safe = [](std::int64_t v) {
    return v >= -static_cast<std::int64_t>(kMaxSequence) && v <= static_cast<std::int64_t>(kMaxSequence);
  };
  if (!safe(meta.validFrom) || !safe(meta.validUntil) || !safe(meta.created)) return "times must be integers (epoch ms)";
  if (!(meta.validFrom < meta.validUntil)) return "validFrom must be before validUntil";
  for (const auto& [key, value] : meta.metadata) {
    if (key.empty()) return "metadata keys must be non-empty";
  }
  if (!meta.changeset.empty() && !isChangesetId(meta.changeset)) return "changeset must be 1 to 64 bytes of [A-Za-z0-9._-]";
  return std::nullopt;
}

std::string encodeObjectMeta(const ObjectMetadata& meta) {
  if (auto problem = metadataProblem(meta)) throw Error("invalid object metadata: " + *problem);
  v1::ObjectMeta message;
  message.set_path(meta.path);
  message.set_valid_from(meta.validFrom);
  message.set_valid_until(meta.validUntil);
  message.set_created(meta.created);
  message.set_content_type(meta.contentType);
  message.set_file_name(meta.fileName);
  message.set_md5(meta.md5.data(), meta.md5.size());
  for (auto& [key, value] : sortedMetadata(meta.metadata)) {
    auto* entry = message.add_metadata();
    entry->set_key(key);
    entry->set_value(value);
  }
  message.set_changeset(meta.changeset);
  std::string out;
  if (!message.SerializeToString(&out)) throw Error("ObjectMeta does not serialize (invalid UTF-8 in a string?)");
  return out;
}

std::optional<ObjectMetadata> decodeObjectMeta(std::span<const std::uint8_t> bytes) {
  v1::ObjectMeta message;
  std::string canonical;
  if (!isWellFormed(bytes, v1::ObjectMeta::descriptor(), &canonical) || !message.ParseFromString(canonical)) {
    return std::nullopt;
  }
  if (message.md5().size() != kMd5Length) return std::nullopt;
  ObjectMetadata meta;
  meta.path = message.path();
  meta.validFrom = message.valid_from();
  meta.validUntil = message.valid_until();
  meta.created = message.created();
  meta.contentType = message.content_type();
  meta.fileName = message.file_name();
  std::memcpy(meta.md5.data(), message.md5().data(), kMd5Length);
  meta.metadata.reserve(static_cast<std::size_t>(message.metadata_size()));
  for (const auto& entry : message.metadata()) {
    if (!meta.metadata.empty() && !utf8Less(meta.metadata.back().first, entry.key())) return std::nullopt;
    meta.metadata.emplace_back(entry.key(), entry.value());
  }
  meta.changeset = message.changeset();
  if (metadataProblem(meta)) return std::nullopt;
  return meta;
}

std::array<std::uint8_t, 16> md5(std::span<const std::uint8_t> bytes) {
  std::array<std::uint8_t, 16> out{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, EVP_md5(), nullptr) != 1 || length != 16) {
    throw Error("EVP_Digest(MD5) failed");
  }
  return out;
}

}  // namespace condcast

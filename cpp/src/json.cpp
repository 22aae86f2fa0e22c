// JSON text exactly as JavaScript's JSON.stringify writes it (for the CLI's lines).
#include "condcast/json.hpp"

#include "condcast/ids.hpp"

namespace condcast {

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);  // UTF-8 passes through (strings were validated by the protobuf parser)
        }
    }
  }
  out.push_back('"');
}

std::string objectLine(const ObjectId& id, std::uint64_t senderId, std::uint64_t sequence, const ObjectMetadata& meta,
                       std::uint64_t size) {
  std::string out = "{\"id\":";
  appendJsonString(out, formatUuid(id));
  out += ",\"senderId\":";
  appendJsonString(out, formatSenderId(senderId));
  out += ",\"sequence\":" + std::to_string(sequence);
  out += ",\"path\":";
  appendJsonString(out, meta.path);
  out += ",\"size\":" + std::to_string(size);
  out += ",\"md5\":";
  appendJsonString(out, toHex(meta.md5));
  out += ",\"validFrom\":" + std::to_string(meta.validFrom);
  out += ",\"validUntil\":" + std::to_string(meta.validUntil);
  out += ",\"created\":" + std::to_string(meta.created);
  out += ",\"contentType\":";
  appendJsonString(out, meta.contentType);
  out += ",\"fileName\":";
  appendJsonString(out, meta.fileName);
  if (!meta.changeset.empty()) {
    out += ",\"changeset\":";
    appendJsonString(out, meta.changeset);
  }
  out += ",\"metadata\":{";
  bool first = true;
  for (const auto& [key, value] : sortedMetadata(meta.metadata)) {
    if (!first) out += ',';
    first = false;
    appendJsonString(out, key);
    out += ':';
    appendJsonString(out, value);
  }
  out += "}}";
  return out;
}

std::string commitFields(const CommitInfo& commit) {
  std::string out = "\"senderId\":";
  appendJsonString(out, formatSenderId(commit.senderId));
  out += ",\"sequence\":" + std::to_string(commit.sequence);
  out += ",\"keytable\":";
  appendJsonString(out, commit.keytable);
  out += ",\"key\":" + std::to_string(commit.key);
  out += ",\"parentKey\":" + std::to_string(commit.parentKey);
  out += ",\"changeset\":";
  appendJsonString(out, commit.changeset);
  out += ",\"objectCount\":" + std::to_string(commit.objectCount);
  out += ",\"objectIds\":[";
  for (std::size_t i = 0; i < commit.objectIds.size(); i++) {
    if (i > 0) out += ',';
    appendJsonString(out, formatUuid(commit.objectIds[i]));
  }
  out += "],\"removedPaths\":[";
  for (std::size_t i = 0; i < commit.removedPaths.size(); i++) {
    if (i > 0) out += ',';
    appendJsonString(out, commit.removedPaths[i]);
  }
  out += "],\"committedAt\":" + std::to_string(commit.committedAt);
  out += commit.aborted ? ",\"aborted\":true" : ",\"aborted\":false";
  return out;
}

}  // namespace condcast

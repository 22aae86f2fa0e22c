// The JSON lines of spec/CLI.md, byte for byte as the TypeScript reference's JSON.stringify writes
// them: keys in a fixed order, no spaces, metadata keys in wire order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "condcast/object.hpp"

namespace condcast {

/// Appends `text` as a JSON string (quotes included), escaped as JSON.stringify does.
void appendJsonString(std::string& out, std::string_view text);

/// The object line: {"id":…,"senderId":…,"sequence":…,"path":…,"size":…,"md5":…,"validFrom":…,
/// "validUntil":…,"created":…,"contentType":…,"fileName":…,"metadata":{…}}.
std::string objectLine(const ObjectId& id, std::uint64_t senderId, std::uint64_t sequence, const ObjectMetadata& meta,
                       std::uint64_t size);

}  // namespace condcast

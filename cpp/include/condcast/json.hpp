// The JSON lines of spec/CLI.md, byte for byte as the TypeScript reference's JSON.stringify writes
// them: keys in a fixed order, no spaces, metadata keys in wire order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "condcast/control.hpp"
#include "condcast/object.hpp"

namespace condcast {

/// Appends `text` as a JSON string (quotes included), escaped as JSON.stringify does.
void appendJsonString(std::string& out, std::string_view text);

/// The object line: {"id":…,"senderId":…,"sequence":…,"path":…,"size":…,"md5":…,"validFrom":…,
/// "validUntil":…,"created":…,"contentType":…,"fileName":…,["changeset":…,]"metadata":{…}} ("changeset"
/// only for an object of a changeset).
std::string objectLine(const ObjectId& id, std::uint64_t senderId, std::uint64_t sequence, const ObjectMetadata& meta,
                       std::uint64_t size);

/// A commit's members without braces, in the order of the vectors' `commit` JSON: "senderId",
/// "sequence", "keytable", "key", "parentKey", "changeset", "objectCount", "objectIds",
/// "removedPaths", "committedAt", "aborted" (condcast-recv's {"event":"commit",…} line).
std::string commitFields(const CommitInfo& commit);

}  // namespace condcast

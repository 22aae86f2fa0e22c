// Heartbeat (kind 2), Lifecycle (kind 3) and Commit (kind 4) datagrams: rare, so the generated codec encodes and
// decodes them. Mirrors ts/src/wire/control.ts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "condcast/auth.hpp"
#include "condcast/constants.hpp"
#include "condcast/ids.hpp"
#include "condcast/object.hpp"

namespace condcast {

/// A keytable's current key (SPEC 11).
struct KeyPosition {
  std::string keytable;
  std::uint64_t key = 0;
  bool operator==(const KeyPosition&) const = default;
};

struct HeartbeatInfo {
  std::uint64_t senderId = 0;
  std::uint64_t lastSequence = 0;
  std::int64_t sentAt = 0;
  std::uint32_t intervalMs = 0;
  std::string senderName;
  /// Each keytable's current key at the sender (wire order: by keytable); empty when it publishes none.
  std::vector<KeyPosition> keys;
  bool operator==(const HeartbeatInfo&) const = default;
};

/// A changeset committed or aborted (SPEC 4.5, 11).
struct CommitInfo {
  std::uint64_t senderId = 0;
  std::uint64_t sequence = 0;
  std::string keytable;
  std::uint64_t key = 0;
  std::uint64_t parentKey = 0;
  std::string changeset;
  std::uint32_t objectCount = 0;
  /// All objectCount ids, ascending bytewise, or empty when they did not fit the datagram.
  std::vector<ObjectId> objectIds;
  std::vector<std::string> removedPaths;
  std::int64_t committedAt = 0;
  bool aborted = false;
  bool operator==(const CommitInfo&) const = default;
};

enum class LifecycleKind : std::uint8_t { Deleted = 1, Updated = 2 };

struct LifecycleInfo {
  std::uint64_t senderId = 0;
  std::uint64_t sequence = 0;
  ObjectId objectId{};
  LifecycleKind action = LifecycleKind::Deleted;
  std::string path;
  std::int64_t validUntil = 0;  ///< for Updated: the new end of validity
  Metadata metadata;            ///< for Updated: the complete metadata after the change (wire order)
  std::int64_t changedAt = 0;
  bool operator==(const LifecycleInfo&) const = default;
};

/// A key and its HMAC context, as a sender holds them.
struct Signer {
  std::uint32_t keyId;
  Hmac& hmac;
};

/// Frames an encoded body: preamble, body, and the auth trailer when a signer is given.
std::vector<std::uint8_t> frameDatagram(DatagramKind kind, std::span<const std::uint8_t> body,
                                        const Signer* signer);
/// Keys are put in wire order (by keytable).
std::vector<std::uint8_t> encodeHeartbeat(const HeartbeatInfo& info, const Signer* signer = nullptr);
/// Encodes a Commit: object ids sorted and unique, removed paths sorted and unique; the ids are left
/// out when the datagram would exceed `datagramSize` (receivers then take the list from the
/// repository). Throws Error when it does not fit even without them. `encoded`, when given, receives
/// the commit as it went on the wire (ids and paths sorted, the ids empty when they were left out).
std::vector<std::uint8_t> encodeCommit(const CommitInfo& info, std::size_t datagramSize, const Signer* signer = nullptr,
                                       CommitInfo* encoded = nullptr);
/// Metadata is put in wire order. Throws Error for an invalid object id.
std::vector<std::uint8_t> encodeLifecycle(const LifecycleInfo& info, const Signer* signer = nullptr);

}  // namespace condcast

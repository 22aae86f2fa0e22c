// Heartbeat (kind 2) and Lifecycle (kind 3) datagrams: rare, so the generated codec encodes and
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

struct HeartbeatInfo {
  std::uint64_t senderId = 0;
  std::uint64_t lastSequence = 0;
  std::int64_t sentAt = 0;
  std::uint32_t intervalMs = 0;
  std::string senderName;
  bool operator==(const HeartbeatInfo&) const = default;
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
std::vector<std::uint8_t> encodeHeartbeat(const HeartbeatInfo& info, const Signer* signer = nullptr);
/// Metadata is put in wire order. Throws Error for an invalid object id.
std::vector<std::uint8_t> encodeLifecycle(const LifecycleInfo& info, const Signer* signer = nullptr);

}  // namespace condcast

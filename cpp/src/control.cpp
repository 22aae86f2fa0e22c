// Heartbeat, Lifecycle and Commit datagrams with the protoc-generated codec.
#include "condcast/control.hpp"

#include <algorithm>

#include "condcast/error.hpp"
#include "condcast/fragment.hpp"
#include "condcast/v1/wire.pb.h"

namespace condcast {

std::vector<std::uint8_t> frameDatagram(DatagramKind kind, std::span<const std::uint8_t> body, const Signer* signer) {
  std::vector<std::uint8_t> out(kPreambleLength + body.size() + (signer != nullptr ? kAuthTrailerLength : 0));
  writePreamble(out.data(), kind, signer != nullptr);
  std::copy(body.begin(), body.end(), out.begin() + kPreambleLength);
  if (signer != nullptr) signDatagram(out, signer->keyId, signer->hmac);
  return out;
}

namespace {
std::vector<std::uint8_t> frameMessage(DatagramKind kind, const google::protobuf::MessageLite& message,
                                       const Signer* signer) {
  std::string body;
  if (!message.SerializeToString(&body)) throw Error("message does not serialize (invalid UTF-8 in a string?)");
  return frameDatagram(kind, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}, signer);
}
}  // namespace

std::vector<std::uint8_t> encodeHeartbeat(const HeartbeatInfo& info, const Signer* signer) {
  v1::Heartbeat message;
  message.set_sender_id(info.senderId);
  message.set_last_sequence(info.lastSequence);
  message.set_sent_at(info.sentAt);
  message.set_interval_ms(info.intervalMs);
  message.set_sender_name(info.senderName);
  std::vector<KeyPosition> keys = info.keys;
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return utf8Less(a.keytable, b.keytable); });
  for (const auto& k : keys) {
    auto* entry = message.add_keys();
    entry->set_keytable(k.keytable);
    entry->set_key(k.key);
  }
  return frameMessage(DatagramKind::Heartbeat, message, signer);
}

std::vector<std::uint8_t> encodeCommit(const CommitInfo& info, std::size_t datagramSize, const Signer* signer,
                                       CommitInfo* encoded) {
  std::vector<ObjectId> ids = info.objectIds;
  std::sort(ids.begin(), ids.end());  // std::array compares bytewise (unsigned)
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::string> paths = info.removedPaths;
  std::sort(paths.begin(), paths.end(), [](const auto& a, const auto& b) { return utf8Less(a, b); });
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  const auto encode = [&](bool withIds) {
    v1::Commit message;
    message.set_sender_id(info.senderId);
    message.set_sequence(info.sequence);
    message.set_keytable(info.keytable);
    message.set_key(info.key);
    message.set_parent_key(info.parentKey);
    message.set_changeset(info.changeset);
    message.set_object_count(info.objectCount);
    if (withIds) {
      for (const auto& id : ids) message.add_object_ids(id.data(), id.size());
    }
    for (const auto& path : paths) message.add_removed_paths(path);
    message.set_committed_at(info.committedAt);
    message.set_aborted(info.aborted);
    return frameMessage(DatagramKind::Commit, message, signer);
  };
  const auto report = [&](bool withIds) {
    if (encoded == nullptr) return;
    *encoded = info;
    encoded->objectIds = withIds ? ids : std::vector<ObjectId>{};
    encoded->removedPaths = paths;
  };
  auto full = encode(!ids.empty());
  if (full.size() <= datagramSize) {
    report(true);
    return full;
  }
  auto bare = encode(false);
  if (bare.size() > datagramSize) {
    throw Error("a commit of " + info.keytable + " does not fit " + std::to_string(datagramSize) +
                " bytes even without its object ids");
  }
  report(false);
  return bare;
}

std::vector<std::uint8_t> encodeLifecycle(const LifecycleInfo& info, const Signer* signer) {
  v1::Lifecycle message;
  message.set_sender_id(info.senderId);
  message.set_sequence(info.sequence);
  message.set_object_id(info.objectId.data(), info.objectId.size());
  message.set_action(info.action == LifecycleKind::Deleted ? v1::LIFECYCLE_ACTION_DELETED : v1::LIFECYCLE_ACTION_UPDATED);
  message.set_path(info.path);
  message.set_valid_until(info.validUntil);
  for (auto& [key, value] : sortedMetadata(info.metadata)) {
    auto* entry = message.add_metadata();
    entry->set_key(key);
    entry->set_value(value);
  }
  message.set_changed_at(info.changedAt);
  return frameMessage(DatagramKind::Lifecycle, message, signer);
}

}  // namespace condcast

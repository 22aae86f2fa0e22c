// Heartbeat and Lifecycle datagrams with the protoc-generated codec.
#include "condcast/control.hpp"

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
  return frameMessage(DatagramKind::Heartbeat, message, signer);
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

// SPEC 5.1 in check order. Fragments: flyweight, in place. Heartbeat and Lifecycle: generated codec.
#include "condcast/decoder.hpp"

#include <algorithm>
#include <cstring>

#include "condcast/v1/wire.pb.h"
#include "well_formed.hpp"

namespace condcast {

namespace {
DecodeResult rejected(DropReason reason) { return {Decoded::Rejected, reason}; }
}  // namespace

DatagramDecoder::DatagramDecoder(DecodeOptions options) : options_(std::move(options)), verifier_(options_.keys) {
  options_.maxEnvelopeLength = std::min(options_.maxEnvelopeLength, kMaxEnvelopeLength);
}

DecodeResult DatagramDecoder::decode(std::span<const std::uint8_t> datagram) {
  if (auto reason = checkPreamble(datagram)) return rejected(*reason);
  std::size_t bodyEnd = datagram.size();
  if (auto reason = verifier_.check(datagram, bodyEnd)) return rejected(*reason);
  const auto body = datagram.subspan(kPreambleLength, bodyEnd - kPreambleLength);
  switch (static_cast<DatagramKind>(datagram[5])) {
    case DatagramKind::Fragment:
      if (auto reason = view_.parse(body, options_.maxEnvelopeLength)) return rejected(*reason);
      return {Decoded::Fragment, DropReason::Truncated};
    case DatagramKind::Heartbeat: {
      v1::Heartbeat message;
      std::string canonical;
      if (!isWellFormed(body, v1::Heartbeat::descriptor(), &canonical) || !message.ParseFromString(canonical)) {
        return rejected(DropReason::Malformed);
      }
      if (message.last_sequence() > kMaxSequence) return rejected(DropReason::Malformed);
      heartbeat_.senderId = message.sender_id();
      heartbeat_.lastSequence = message.last_sequence();
      heartbeat_.sentAt = message.sent_at();
      heartbeat_.intervalMs = message.interval_ms();
      heartbeat_.senderName = message.sender_name();
      return {Decoded::Heartbeat, DropReason::Truncated};
    }
    case DatagramKind::Lifecycle: {
      v1::Lifecycle message;
      std::string canonical;
      if (!isWellFormed(body, v1::Lifecycle::descriptor(), &canonical) || !message.ParseFromString(canonical)) {
        return rejected(DropReason::Malformed);
      }
      if (message.sequence() < 1 || message.sequence() > kMaxSequence) return rejected(DropReason::Malformed);
      if (message.object_id().size() != kObjectIdLength) return rejected(DropReason::BadObjectId);
      if (message.action() != v1::LIFECYCLE_ACTION_DELETED && message.action() != v1::LIFECYCLE_ACTION_UPDATED) {
        return rejected(DropReason::Malformed);
      }
      lifecycle_.senderId = message.sender_id();
      lifecycle_.sequence = message.sequence();
      std::memcpy(lifecycle_.objectId.data(), message.object_id().data(), kObjectIdLength);
      lifecycle_.action = message.action() == v1::LIFECYCLE_ACTION_DELETED ? LifecycleKind::Deleted : LifecycleKind::Updated;
      lifecycle_.path = message.path();
      lifecycle_.validUntil = message.valid_until();
      lifecycle_.metadata.clear();
      for (const auto& entry : message.metadata()) lifecycle_.metadata.emplace_back(entry.key(), entry.value());
      lifecycle_.changedAt = message.changed_at();
      return {Decoded::Lifecycle, DropReason::Truncated};
    }
  }
  return rejected(DropReason::UnknownKind);  // unreachable: checkPreamble admits kinds 1-3 only
}

}  // namespace condcast

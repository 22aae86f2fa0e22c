// SPEC 5.1 in check order. Fragments: flyweight, in place. Heartbeat and Lifecycle: generated codec.
#include "condcast/decoder.hpp"

#include <algorithm>
#include <cstring>

#include "condcast/v1/wire.pb.h"
#include "well_formed.hpp"

namespace condcast {

namespace {
DecodeResult rejected(DropReason reason) { return {Decoded::Rejected, reason}; }

/// SPEC 5.1 row 19 for a heartbeat's keys: strictly ascending by keytable, each a valid name, at most 32.
bool keysWellOrdered(const v1::Heartbeat& message) {
  if (static_cast<std::size_t>(message.keys_size()) > kMaxHeartbeatKeys) return false;
  for (int i = 0; i < message.keys_size(); i++) {
    if (!isKeytableName(message.keys(i).keytable())) return false;
    if (i > 0 && !utf8Less(message.keys(i - 1).keytable(), message.keys(i).keytable())) return false;
  }
  return true;
}

/// SPEC 5.1 row 19 for a Commit (after rows 10 and 11).
bool commitWellFormed(const v1::Commit& message) {
  const bool keysOk = message.aborted() ? message.key() == 0 && message.parent_key() == 0
                                        : message.key() >= 1 && message.parent_key() < message.key();
  if (!keysOk) return false;
  const auto& ids = message.object_ids();
  if (!ids.empty() && static_cast<std::uint64_t>(ids.size()) != message.object_count()) return false;
  for (int i = 1; i < ids.size(); i++) {
    if (!utf8Less(ids[i - 1], ids[i])) return false;  // bytewise, unsigned
  }
  const auto& paths = message.removed_paths();
  for (int i = 1; i < paths.size(); i++) {
    if (!utf8Less(paths[i - 1], paths[i])) return false;
  }
  return isKeytableName(message.keytable()) && isChangesetId(message.changeset());
}
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
      for (const auto& k : message.keys()) {
        if (k.key() > kMaxSequence) return rejected(DropReason::Malformed);
      }
      if (!keysWellOrdered(message)) return rejected(DropReason::BadCommit);
      heartbeat_.senderId = message.sender_id();
      heartbeat_.lastSequence = message.last_sequence();
      heartbeat_.sentAt = message.sent_at();
      heartbeat_.intervalMs = message.interval_ms();
      heartbeat_.senderName = message.sender_name();
      heartbeat_.keys.clear();
      for (const auto& k : message.keys()) heartbeat_.keys.push_back(KeyPosition{k.keytable(), k.key()});
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
    case DatagramKind::Commit: {
      v1::Commit message;
      std::string canonical;
      if (!isWellFormed(body, v1::Commit::descriptor(), &canonical) || !message.ParseFromString(canonical)) {
        return rejected(DropReason::Malformed);
      }
      if (message.sequence() < 1 || message.sequence() > kMaxSequence || message.key() > kMaxSequence ||
          message.parent_key() > kMaxSequence) {
        return rejected(DropReason::Malformed);
      }
      for (const auto& id : message.object_ids()) {
        if (id.size() != kObjectIdLength) return rejected(DropReason::BadObjectId);
      }
      if (!commitWellFormed(message)) return rejected(DropReason::BadCommit);
      commit_.senderId = message.sender_id();
      commit_.sequence = message.sequence();
      commit_.keytable = message.keytable();
      commit_.key = message.key();
      commit_.parentKey = message.parent_key();
      commit_.changeset = message.changeset();
      commit_.objectCount = message.object_count();
      commit_.objectIds.resize(static_cast<std::size_t>(message.object_ids_size()));
      for (int i = 0; i < message.object_ids_size(); i++) {
        std::memcpy(commit_.objectIds[static_cast<std::size_t>(i)].data(), message.object_ids(i).data(), kObjectIdLength);
      }
      commit_.removedPaths.assign(message.removed_paths().begin(), message.removed_paths().end());
      commit_.committedAt = message.committed_at();
      commit_.aborted = message.aborted();
      return {Decoded::Commit, DropReason::Truncated};
    }
  }
  return rejected(DropReason::UnknownKind);  // unreachable: checkPreamble admits kinds 1-4 only
}

}  // namespace condcast

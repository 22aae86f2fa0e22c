// Reassembly: fragments into partial objects within the caps, completion, expiry.
#include "condcast/reassembler.hpp"

#include <cstring>
#include <new>
#include <utility>

#include "condcast/constants.hpp"
#include "condcast/object.hpp"

namespace condcast {

Reassembler::Reassembler(ReceiverCounters& counters, ReceiverEvents& events, ReassemblerOptions options)
    : counters_(counters), events_(events), options_(options) {}

Reassembler::~Reassembler() = default;

std::optional<DropReason> Reassembler::accept(const FragmentView& view, std::int64_t now) {
  PartialObject* partial = nullptr;
  if (last_ != nullptr && last_->key().senderId == view.senderId() &&
      std::memcmp(last_->key().objectId.data(), view.objectId().data(), kObjectIdLength) == 0) {
    partial = last_;
  } else {
    ObjectKey key{view.senderId(), {}};
    std::memcpy(key.objectId.data(), view.objectId().data(), kObjectIdLength);
    auto it = partials_.find(key);
    if (it != partials_.end()) {
      partial = it->second.get();
    } else {
      if (completed_.contains(key)) {
        // A completed object's blocks all have their sources: its late parity fragments are not
        // needed, and not drops (SPEC 5.2, FEC); a source fragment is a duplicate.
        return view.isParity() ? std::nullopt : std::optional<DropReason>(DropReason::Duplicate);
      }
      const std::uint64_t charge =
          chargeFor(view.envelopeLength(), view.fragmentSize(), view.fecBlockLength(), view.fecParityCount());
      if (partials_.size() >= options_.maxPartialObjects) return DropReason::OverCapacity;
      // Staged changeset bytes share the cap (SPEC 11); the oldest staged changesets may make room.
      if (counters_.partialBytes + counters_.stagedBytes + charge > options_.maxPartialBytes &&
          !(reclaim_ && reclaim_(charge))) {
        return DropReason::OverCapacity;
      }
      std::unique_ptr<PartialObject> fresh;
      try {
        fresh = std::make_unique<PartialObject>(key, view.sequence(), view.envelopeLength(), view.metadataLength(),
                                                view.fragmentSize(), now, view.fecScheme(), view.fecBlockLength(),
                                                view.fecParityCount());
      } catch (const std::bad_alloc&) {
        return DropReason::OverCapacity;
      }
      partial = fresh.get();
      partials_.emplace(key, std::move(fresh));
      counters_.partialObjects = partials_.size();
      counters_.partialBytes += charge;
    }
    last_ = partial;
  }
  if (view.envelopeLength() != partial->envelopeLength() || view.metadataLength() != partial->metadataLength() ||
      view.fragmentSize() != partial->fragmentSize() || view.sequence() != partial->sequence() ||
      view.fecScheme() != partial->fecScheme() || view.fecBlockLength() != partial->fecBlockLength() ||
      view.fecParityCount() != partial->fecParityCount()) {
    return DropReason::Inconsistent;
  }
  PartialObject::Stored stored;
  try {
    stored = partial->store(view.index(), view.chunk(), now, &fecDecoder_, &counters_.fec);
  } catch (const std::bad_alloc&) {
    return DropReason::OverCapacity;  // a block's parity buffer (charged, but the allocator refused)
  }
  if (stored == PartialObject::Stored::Duplicate) return DropReason::Duplicate;
  if (stored == PartialObject::Stored::NotNeeded) return std::nullopt;
  if (partial->complete()) {
    const ObjectKey key = partial->key();
    finish(remove(key));
  }
  return std::nullopt;
}

void Reassembler::expire(std::int64_t now) {
  std::vector<ObjectKey> stale;
  for (const auto& [key, partial] : partials_) {
    if (now - partial->lastFragmentAt() >= options_.partialTimeoutMs) stale.push_back(key);
  }
  for (const auto& key : stale) {
    auto partial = remove(key);
    counters_.objectDropped(ObjectDropReason::Expired)++;
    if (events_.onObjectDropped) events_.onObjectDropped(*partial, ObjectDropReason::Expired);
  }
}

std::vector<const PartialObject*> Reassembler::incomplete() const {
  std::vector<const PartialObject*> out;
  for (const auto& [key, partial] : partials_) out.push_back(partial.get());
  return out;
}

std::unique_ptr<PartialObject> Reassembler::remove(const ObjectKey& key) {
  auto it = partials_.find(key);
  if (it == partials_.end()) return nullptr;
  std::unique_ptr<PartialObject> partial = std::move(it->second);
  partials_.erase(it);
  counters_.partialBytes -= partial->chargedBytes();
  counters_.partialObjects = partials_.size();
  if (last_ == partial.get()) last_ = nullptr;
  return partial;
}

void Reassembler::rememberCompleted(const ObjectKey& key) {
  if (!completed_.insert(key).second) return;
  completedOrder_.push_back(key);
  if (completedOrder_.size() > options_.completedMemory) {
    completed_.erase(completedOrder_.front());
    completedOrder_.pop_front();
  }
}

void Reassembler::finish(std::unique_ptr<PartialObject> partial) {
  rememberCompleted(partial->key());
  auto meta = decodeObjectMeta(partial->envelope().first(partial->metadataLength()));
  if (!meta) {
    counters_.objectDropped(ObjectDropReason::BadMetadata)++;
    if (events_.onObjectDropped) events_.onObjectDropped(*partial, ObjectDropReason::BadMetadata);
    return;
  }
  if (partial->payloadMd5() != meta->md5) {
    counters_.objectDropped(ObjectDropReason::Md5Mismatch)++;
    if (events_.onObjectDropped) events_.onObjectDropped(*partial, ObjectDropReason::Md5Mismatch);
    return;
  }
  counters_.objectsCompleted++;
  ReceivedObject object;
  object.id = partial->key().objectId;
  object.senderId = partial->key().senderId;
  object.sequence = partial->sequence();
  object.meta = std::move(*meta);
  object.envelopeLength = static_cast<std::size_t>(partial->envelopeLength());
  object.metadataLength = partial->metadataLength();
  object.envelope = partial->takeEnvelope();
  if (events_.onObject) events_.onObject(std::move(object));
}

}  // namespace condcast

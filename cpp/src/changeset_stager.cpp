// Changeset staging (SPEC 11): objects held per (sender, changeset) until their Commit delivers them.
#include "condcast/changeset_stager.hpp"

#include <algorithm>
#include <utility>

namespace condcast {

ChangesetStager::ChangesetStager(ReceiverCounters& counters, ChangesetEvents events, std::uint64_t maxPartialBytes,
                                 ChangesetStagerOptions options)
    : counters_(counters), events_(std::move(events)), maxPartialBytes_(maxPartialBytes), options_(options) {
  options_.maxStagedObjects = std::max<std::size_t>(options_.maxStagedObjects, 1);
  options_.maxChangesets = std::max<std::size_t>(options_.maxChangesets, 1);
  options_.keyMemory = std::max<std::size_t>(options_.keyMemory, 1);
}

void ChangesetStager::stage(ReceivedObject&& object, std::int64_t now) {
  auto it = findOrCreate(ChangesetKey{object.senderId, object.meta.changeset}, now);
  Changeset& changeset = it->second;
  // The same object completed twice (after the reassembler forgot it): the first copy is kept, and the
  // staged timeout still runs from the last object staged (SPEC 11.4).
  if (changeset.objects.contains(object.id)) return;
  changeset.lastActivity = now;
  const std::uint64_t bytes = object.payload().size();
  const ChangesetKey key = it->first;
  changeset.objects.emplace(object.id, std::move(object));
  changeset.bytes += bytes;
  counters_.stagedObjects++;
  counters_.stagedBytes += bytes;
  enforceBounds();
  it = changesets_.find(key);  // the bounds may have dropped it (it was the oldest)
  if (it != changesets_.end()) deliverIfComplete(it);
}

void ChangesetStager::commit(const CommitInfo& commit, std::int64_t now) {
  const ChangesetKey key{commit.senderId, commit.changeset};
  auto it = changesets_.find(key);
  if (commit.aborted) {
    if (it != changesets_.end()) drop(it);
    return;
  }
  const std::uint64_t held = heldKey(commit.senderId, commit.keytable);
  if (isResendOfHeld(commit, held)) {
    if (it != changesets_.end()) discardResend(it);
    else counters_.resendsDiscarded++;
    return;
  }
  if (commit.key <= held) {
    // Delivered to no one (SPEC 11: a keytable's key only moves forward); what it staged goes too.
    if (events_.onCommitIgnored) events_.onCommitIgnored(commit, held);
    if (it != changesets_.end()) drop(it);
    return;
  }
  it = findOrCreate(key, now);
  // A repeated Commit for the same changeset replaces the one waiting: the sender's latest word.
  it->second.commit = commit;
  it->second.lastActivity = now;
  deliverIfComplete(it);
}

void ChangesetStager::expire(std::int64_t now) {
  for (auto it = changesets_.begin(); it != changesets_.end();) {
    auto next = std::next(it);
    if (now - it->second.lastActivity >= options_.stagedTimeoutMs) drop(it);
    it = next;
  }
}

bool ChangesetStager::reclaim(std::uint64_t bytes) {
  // Nothing is dropped when even all the staged bytes would not make room.
  if (counters_.partialBytes + bytes > maxPartialBytes_) return false;
  while (counters_.partialBytes + counters_.stagedBytes + bytes > maxPartialBytes_ && counters_.stagedBytes > 0) {
    drop(oldest(true));
  }
  return counters_.partialBytes + counters_.stagedBytes + bytes <= maxPartialBytes_;
}

std::uint64_t ChangesetStager::deliveredKey(std::uint64_t senderId, const std::string& keytable) const {
  return heldKey(senderId, keytable);
}

ChangesetStager::Changesets::iterator ChangesetStager::findOrCreate(const ChangesetKey& key, std::int64_t now) {
  auto it = changesets_.find(key);
  if (it != changesets_.end()) return it;
  while (changesets_.size() >= options_.maxChangesets) drop(oldest(false));
  Changeset fresh;
  fresh.lastActivity = now;
  fresh.age = nextAge_++;
  return changesets_.emplace(key, std::move(fresh)).first;
}

void ChangesetStager::deliverIfComplete(Changesets::iterator it) {
  Changeset& changeset = it->second;
  if (!changeset.commit) return;
  const CommitInfo& commit = *changeset.commit;
  if (commit.objectIds.empty()) {
    // The ids did not fit the datagram: the objects carrying the changeset's id are counted instead.
    if (changeset.objects.size() < commit.objectCount) return;
  } else {
    for (const ObjectId& id : commit.objectIds) {
      if (!changeset.objects.contains(id)) return;
    }
  }
  const std::uint64_t held = heldKey(commit.senderId, commit.keytable);
  if (isResendOfHeld(commit, held)) {
    discardResend(it);
    return;
  }
  if (commit.key <= held) {
    // A later key of the keytable was delivered while this one waited for its objects.
    if (events_.onCommitIgnored) events_.onCommitIgnored(commit, held);
    drop(it);
    return;
  }
  moveKey(commit.senderId, commit.keytable, commit.key);
  DeliveredChangeset delivered;
  delivered.commit = std::move(*changeset.commit);
  delivered.objects.reserve(changeset.objects.size());
  const auto& ids = delivered.commit.objectIds;
  std::vector<ReceivedObject> strays;  // staged under the changeset's id but not named by its Commit
  for (auto& [id, object] : changeset.objects) {
    const bool named = ids.empty() || std::binary_search(ids.begin(), ids.end(), id);
    (named ? delivered.objects : strays).push_back(std::move(object));
  }
  counters_.stagedObjects -= changeset.objects.size();
  counters_.stagedBytes -= changeset.bytes;
  changesets_.erase(it);
  for (const ReceivedObject& stray : strays) {
    counters_.objectDropped(ObjectDropReason::Uncommitted)++;
    if (events_.onStagedObjectDropped) events_.onStagedObjectDropped(stray, ObjectDropReason::Uncommitted);
  }
  if (events_.onChangeset) events_.onChangeset(std::move(delivered));
}

bool ChangesetStager::isResendOfHeld(const CommitInfo& commit, std::uint64_t held) {
  return commit.parentKey == 0 && commit.key == held;
}

void ChangesetStager::discardResend(Changesets::iterator it) {
  // SPEC 11.6: the re-send of the key held; its copies are objects held already, so no drop.
  counters_.stagedObjects -= it->second.objects.size();
  counters_.stagedBytes -= it->second.bytes;
  changesets_.erase(it);
  counters_.resendsDiscarded++;
}

void ChangesetStager::drop(Changesets::iterator it) {
  Changeset changeset = std::move(it->second);
  changesets_.erase(it);
  counters_.stagedObjects -= changeset.objects.size();
  counters_.stagedBytes -= changeset.bytes;
  for (const auto& [id, object] : changeset.objects) {
    counters_.objectDropped(ObjectDropReason::Uncommitted)++;
    if (events_.onStagedObjectDropped) events_.onStagedObjectDropped(object, ObjectDropReason::Uncommitted);
  }
}

ChangesetStager::Changesets::iterator ChangesetStager::oldest(bool withObjects) {
  // A linear scan: it runs only when a bound is hit, over at most maxChangesets entries.
  auto best = changesets_.end();
  for (auto it = changesets_.begin(); it != changesets_.end(); ++it) {
    if (withObjects && it->second.objects.empty()) continue;
    if (best == changesets_.end() || it->second.age < best->second.age) best = it;
  }
  return best;
}

std::uint64_t ChangesetStager::heldKey(std::uint64_t senderId, const std::string& keytable) const {
  auto it = keys_.find({senderId, keytable});
  return it == keys_.end() ? 0 : it->second.key;
}

void ChangesetStager::moveKey(std::uint64_t senderId, const std::string& keytable, std::uint64_t key) {
  keys_[{senderId, keytable}] = DeliveredKey{key, nextMove_++};
  if (keys_.size() > options_.keyMemory) {
    keys_.erase(std::min_element(keys_.begin(), keys_.end(),
                                 [](const auto& a, const auto& b) { return a.second.moved < b.second.moved; }));
  }
}

void ChangesetStager::enforceBounds() {
  // Only changesets with staged objects relieve these bounds (a Commit waiting for its objects holds none).
  while (counters_.stagedObjects > 0 && (counters_.stagedObjects > options_.maxStagedObjects ||
                                         counters_.partialBytes + counters_.stagedBytes > maxPartialBytes_)) {
    drop(oldest(true));
  }
}

}  // namespace condcast

// The receiver side of changesets (SPEC 11): completed objects of a changeset are staged, not
// delivered, until their Commit and all of them are held; then the changeset goes out as one unit.
// Mirrors ts/src/receiver/changeset-stager.ts (Java: ChangesetStager).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "condcast/control.hpp"
#include "condcast/counters.hpp"
#include "condcast/object.hpp"
#include "condcast/reasons.hpp"

namespace condcast {

/// SPEC 11's staged timeout: 15 minutes.
inline constexpr std::int64_t kDefaultStagedTimeoutMs = 900'000;

struct ChangesetStagerOptions {
  /// SPEC 11.4: a changeset neither delivered nor aborted this many ms after its most recently staged
  /// object (or its Commit, when that came later) is dropped whole: its staged objects `uncommitted`.
  /// An object staged already arriving again does not restart the clock.
  std::int64_t stagedTimeoutMs = kDefaultStagedTimeoutMs;
  /// Staged objects held at most (over it the oldest changeset is dropped, `uncommitted`).
  std::size_t maxStagedObjects = 10'000;
  /// Changesets tracked at most (staged objects, or a Commit waiting for them).
  std::size_t maxChangesets = 4096;
  /// (sender, keytable) pairs whose delivered key is remembered (least recently moved forgotten first).
  std::size_t keyMemory = 4096;
};

/// A changeset delivered as one unit: its Commit and its objects in ascending order of their ids.
struct DeliveredChangeset {
  CommitInfo commit;
  std::vector<ReceivedObject> objects;
};

/// Callbacks of the stager (ReceiverEvents carries the same ones). Unset callbacks are ignored.
struct ChangesetEvents {
  std::function<void(DeliveredChangeset&&)> onChangeset;
  /// A commit whose key is not above the key delivered for its sender and keytable (`heldKey`).
  std::function<void(const CommitInfo&, std::uint64_t heldKey)> onCommitIgnored;
  /// A staged object dropped (reason `uncommitted`), already counted in objectsDropped.
  std::function<void(const ReceivedObject&, ObjectDropReason)> onStagedObjectDropped;
};

/// Staging without sockets: completed objects and Commits in, whole changesets out, within bounds.
/// Staged payload bytes (counters.stagedBytes) share the partial-bytes cap with the reassembler's
/// counters.partialBytes. Single threaded, like the Receiver that drives it.
class ChangesetStager {
 public:
  ChangesetStager(ReceiverCounters& counters, ChangesetEvents events, std::uint64_t maxPartialBytes,
                  ChangesetStagerOptions options = {});

  /// Takes a completed object whose meta names a changeset (meta.changeset non-empty).
  void stage(ReceivedObject&& object, std::int64_t now);
  /// Takes a checked Commit (SPEC 4.5: object ids ascending): delivers, drops or waits for the objects.
  void commit(const CommitInfo& commit, std::int64_t now);
  /// Drops changesets idle for the staged timeout (their objects `uncommitted`).
  void expire(std::int64_t now);
  /// Drops the oldest staged changesets until `bytes` more fit under the cap beside the partial and
  /// staged bytes; returns whether they fit then.
  bool reclaim(std::uint64_t bytes);

  std::uint64_t stagedObjects() const noexcept { return counters_.stagedObjects; }
  std::uint64_t stagedBytes() const noexcept { return counters_.stagedBytes; }
  std::size_t changesets() const noexcept { return changesets_.size(); }
  /// The key delivered last for (sender, keytable), 0 when none.
  std::uint64_t deliveredKey(std::uint64_t senderId, const std::string& keytable) const;

 private:
  struct ChangesetKey {
    std::uint64_t senderId = 0;
    std::string changeset;
    auto operator<=>(const ChangesetKey&) const = default;
  };
  struct Changeset {
    std::map<ObjectId, ReceivedObject> objects;  ///< ordered by id: bytewise, as delivered
    std::optional<CommitInfo> commit;
    std::uint64_t bytes = 0;  ///< staged payload bytes
    std::int64_t lastActivity = 0;  ///< its most recently staged object or its Commit: the timeout's start
    std::uint64_t age = 0;  ///< creation order: the smallest is the oldest
  };
  struct DeliveredKey {
    std::uint64_t key = 0;
    std::uint64_t moved = 0;  ///< when it last moved forward (a counter): the smallest is forgotten first
  };
  using Changesets = std::map<ChangesetKey, Changeset>;

  Changesets::iterator findOrCreate(const ChangesetKey& key, std::int64_t now);
  /// Delivers the changeset when its Commit is there and all its objects are held.
  void deliverIfComplete(Changesets::iterator it);
  /// SPEC 11.6: a Commit naming its whole key (parent 0) that is the key held is a re-send of it.
  static bool isResendOfHeld(const CommitInfo& commit, std::uint64_t held);
  /// Lets a re-send's staged copies go quietly (counters.resendsDiscarded; no drop).
  void discardResend(Changesets::iterator it);
  /// Drops every staged object of the changeset as `uncommitted` and forgets it.
  void drop(Changesets::iterator it);
  /// The changeset created first (among those holding staged objects when `withObjects`); end() if none.
  Changesets::iterator oldest(bool withObjects);
  std::uint64_t heldKey(std::uint64_t senderId, const std::string& keytable) const;
  void moveKey(std::uint64_t senderId, const std::string& keytable, std::uint64_t key);
  /// Drops the oldest staged changesets while the staged objects or the bytes are over their caps.
  void enforceBounds();

  ReceiverCounters& counters_;
  ChangesetEvents events_;
  std::uint64_t maxPartialBytes_;
  ChangesetStagerOptions options_;
  Changesets changesets_;
  std::map<std::pair<std::uint64_t, std::string>, DeliveredKey> keys_;
  std::uint64_t nextAge_ = 0;
  std::uint64_t nextMove_ = 0;
};

}  // namespace condcast

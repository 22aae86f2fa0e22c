// Reassembly within fixed bounds (SPEC 5.2), and the callbacks of reassembly and of the receiver.
// Mirrors ts/src/receiver/reassembler.ts (Java: Reassembler).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "condcast/changeset_stager.hpp"
#include "condcast/constants.hpp"
#include "condcast/control.hpp"
#include "condcast/counters.hpp"
#include "condcast/fec.hpp"
#include "condcast/fragment.hpp"
#include "condcast/object.hpp"
#include "condcast/partial_object.hpp"
#include "condcast/reasons.hpp"
#include "condcast/sequence_tracker.hpp"

namespace condcast {

struct ReassemblerOptions {
  std::uint64_t maxPartialBytes = kDefaultMaxPartialBytes;
  std::size_t maxPartialObjects = 10'000;
  std::int64_t partialTimeoutMs = kDefaultPartialTimeoutMs;
  /// How many completed object ids are remembered to recognise late duplicates.
  std::size_t completedMemory = 4096;
};

/// Callbacks of reassembly and of the receiver. Unset callbacks are ignored.
struct ReceiverEvents {
  std::function<void(ReceivedObject&&)> onObject;
  std::function<void(const PartialObject&, ObjectDropReason)> onObjectDropped;
  std::function<void(const HeartbeatInfo&)> onHeartbeat;
  std::function<void(const LifecycleInfo&)> onLifecycle;
  std::function<void(const SequenceGap&)> onGap;
  /// A Commit datagram as it arrives (SPEC 4.5), whatever is held of its changeset.
  std::function<void(const CommitInfo&)> onCommit;
  /// A changeset delivered as one unit (SPEC 11): its Commit and every object, in ascending id order.
  /// With staging on (ReceiverOptions::stageChangesets) objects of a changeset come only this way,
  /// never through onObject.
  std::function<void(DeliveredChangeset&&)> onChangeset;
  /// A Commit whose key is not above the key delivered for its sender and keytable (`heldKey`).
  std::function<void(const CommitInfo&, std::uint64_t heldKey)> onCommitIgnored;
  /// A staged object dropped: its changeset was aborted, ignored, timed out or pushed out by the caps.
  std::function<void(const ReceivedObject&, ObjectDropReason)> onStagedObjectDropped;
};

/// Reassembly without sockets (SPEC 5.2): checked fragments in, complete objects out, within bounds.
class Reassembler {
 public:
  Reassembler(ReceiverCounters& counters, ReceiverEvents& events, ReassemblerOptions options = {});
  ~Reassembler();

  /// Takes one checked fragment; returns why it was not used, or nullopt.
  std::optional<DropReason> accept(const FragmentView& view, std::int64_t now);
  /// Called when a first fragment does not fit the partial-bytes cap: may free `bytes` (dropping
  /// staged changesets) and returns whether they fit then.
  void setReclaim(std::function<bool(std::uint64_t bytes)> reclaim) { reclaim_ = std::move(reclaim); }
  /// Drops incomplete objects that have had no fragment for the partial timeout (counted `expired`).
  void expire(std::int64_t now);
  std::size_t partialCount() const noexcept { return partials_.size(); }
  /// Incomplete objects (for repair).
  std::vector<const PartialObject*> incomplete() const;

 private:
  void finish(std::unique_ptr<PartialObject> partial);
  std::unique_ptr<PartialObject> remove(const ObjectKey& key);
  void rememberCompleted(const ObjectKey& key);

  ReceiverCounters& counters_;
  ReceiverEvents& events_;
  ReassemblerOptions options_;
  std::unordered_map<ObjectKey, std::unique_ptr<PartialObject>, ObjectKeyHash> partials_;
  std::unordered_set<ObjectKey, ObjectKeyHash> completed_;
  std::deque<ObjectKey> completedOrder_;
  PartialObject* last_ = nullptr;  ///< where the previous fragment went: most follow their predecessor
  FecDecoder fecDecoder_;          ///< scratch reused by every block decode
  std::function<bool(std::uint64_t)> reclaim_;
};

}  // namespace condcast

// What a receiver counts (SPEC 6).
// Mirrors ts/src/receiver/counters.ts (Java: ReceiverCounters).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "condcast/reasons.hpp"

namespace condcast {

/// What a receiver counts (SPEC 6): datagrams, bytes, drops by reason, objects by outcome.
struct ReceiverCounters {
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;
  std::uint64_t fragments = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t lifecycles = 0;
  std::uint64_t commits = 0;
  /// Copies of Commits taken already (SPEC 5.4): ignored, not drops.
  std::uint64_t commitCopies = 0;
  std::uint64_t objectsCompleted = 0;
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::array<std::uint64_t, kObjectDropReasonCount> objectsDropped{};
  /// Gauges: incomplete objects and the bytes charged for them.
  std::uint64_t partialObjects = 0;
  std::uint64_t partialBytes = 0;
  /// Gauges: staged objects of changesets not yet delivered (SPEC 11) and their payload bytes, which
  /// count against the partial-bytes cap too. Not in toJson(): its keys are shared by every language.
  std::uint64_t stagedObjects = 0;
  std::uint64_t stagedBytes = 0;
  /// SPEC 11.6: re-sends of the key held whose staged copies were let go (not drops; not in toJson()).
  std::uint64_t resendsDiscarded = 0;
  /// FEC (SPEC 6, 10.5): blocks completed with parity, parity fragments those decodes consumed,
  /// source fragments rebuilt.
  struct Fec {
    std::uint64_t blocksDecoded = 0;
    std::uint64_t parityUsed = 0;
    std::uint64_t fragmentsRecovered = 0;
  } fec;

  std::uint64_t& drop(DropReason r) noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t drop(DropReason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t& objectDropped(ObjectDropReason r) noexcept { return objectsDropped[static_cast<std::size_t>(r)]; }
  std::uint64_t objectDropped(ObjectDropReason r) const noexcept {
    return objectsDropped[static_cast<std::size_t>(r)];
  }
  std::uint64_t totalDrops() const noexcept;
  /// The counters as the CLI's JSON object (same keys and order as the TypeScript reference).
  std::string toJson() const;
};

}  // namespace condcast

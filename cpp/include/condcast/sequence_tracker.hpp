// Per-sender sequence tracking and gaps (SPEC 5.3).
// Mirrors ts/src/receiver/sequence-tracker.ts (Java: SequenceTracker, SequenceGap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

namespace condcast {

/// A missed range of sequences [from, to] at one sender.
struct SequenceGap {
  std::uint64_t senderId;
  std::uint64_t from;
  std::uint64_t to;
};

/// Per-sender highest sequence (SPEC 5.3); bounded number of senders (oldest forgotten first).
class SequenceTracker {
 public:
  explicit SequenceTracker(std::size_t maxSenders = 1024) : maxSenders_(maxSenders) {}
  /// Records that a fragment or lifecycle message with `sequence` arrived from `senderId`; returns
  /// the gap before it ([highest + 1, sequence - 1]).
  std::optional<SequenceGap> observe(std::uint64_t senderId, std::uint64_t sequence);
  /// Records a heartbeat's last_sequence: every sequence up to it has been sent, so those not seen,
  /// `last` included, are missing ([highest + 1, last]; SPEC 5.3).
  std::optional<SequenceGap> observeLast(std::uint64_t senderId, std::uint64_t last);
  std::optional<std::uint64_t> highest(std::uint64_t senderId) const;

 private:
  std::optional<SequenceGap> advance(std::uint64_t senderId, std::uint64_t sequence, std::uint64_t gapEnd);
  std::size_t maxSenders_;
  std::unordered_map<std::uint64_t, std::uint64_t> highest_;
  std::deque<std::uint64_t> order_;
};

}  // namespace condcast

// Per-sender sequences and gaps (SPEC 5.3).
#include "condcast/sequence_tracker.hpp"

namespace condcast {

std::optional<SequenceGap> SequenceTracker::observe(std::uint64_t senderId, std::uint64_t sequence) {
  return advance(senderId, sequence, sequence - 1);
}

std::optional<SequenceGap> SequenceTracker::observeLast(std::uint64_t senderId, std::uint64_t last) {
  return advance(senderId, last, last);
}

std::optional<SequenceGap> SequenceTracker::advance(std::uint64_t senderId, std::uint64_t sequence, std::uint64_t gapEnd) {
  auto it = highest_.find(senderId);
  if (it == highest_.end()) {
    if (highest_.size() >= maxSenders_ && !order_.empty()) {
      highest_.erase(order_.front());
      order_.pop_front();
    }
    highest_.emplace(senderId, sequence);
    order_.push_back(senderId);
    return std::nullopt;
  }
  const std::uint64_t highest = it->second;
  if (sequence <= highest) return std::nullopt;
  it->second = sequence;
  if (gapEnd > highest) return SequenceGap{senderId, highest + 1, gapEnd};
  return std::nullopt;
}

std::optional<std::uint64_t> SequenceTracker::highest(std::uint64_t senderId) const {
  auto it = highest_.find(senderId);
  if (it == highest_.end()) return std::nullopt;
  return it->second;
}

}  // namespace condcast

// The receive side (SPEC 5): the multicast Receiver that drives counters, per-sender sequence
// tracking and reassembly within fixed bounds from recvmmsg batches. Those pieces have their own
// headers (counters.hpp, sequence_tracker.hpp, partial_object.hpp, reassembler.hpp), included here.
// Mirrors ts/src/receiver/receiver.ts (Java: Receiver).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "condcast/auth.hpp"
#include "condcast/changeset_stager.hpp"
#include "condcast/constants.hpp"
#include "condcast/counters.hpp"
#include "condcast/decoder.hpp"
#include "condcast/partial_object.hpp"
#include "condcast/reassembler.hpp"
#include "condcast/sequence_tracker.hpp"
#include "condcast/socket.hpp"

namespace condcast {

struct ReceiverOptions {
  std::string group = kDefaultGroup;
  std::uint16_t port = kDefaultPort;
  /// IPv4 address of the interface to join the group on (explicit; default loopback).
  std::string interface = kDefaultInterface;
  /// Keys to require; when non-empty, unauthenticated datagrams are dropped.
  KeyRing keys;
  std::uint64_t maxEnvelopeLength = kMaxEnvelopeLength;
  /// SO_RCVBUF to request; the kernel caps it at net.core.rmem_max (see ListeningInfo).
  int receiveBufferSize = kDefaultReceiveBufferSize;
  /// Datagrams per recvmmsg call.
  unsigned batchSize = 64;
  ReassemblerOptions reassembly;
  /// Stage objects of a changeset until it is delivered as a unit (SPEC 11, onChangeset). False: every
  /// object goes to onObject as it completes (meta.changeset set) and Commits only to onCommit.
  bool stageChangesets = true;
  /// The staged timeout and bounds (staged bytes share reassembly.maxPartialBytes).
  ChangesetStagerOptions staging;
};

struct ListeningInfo {
  std::string group;
  std::uint16_t port;
  std::string interface;
  int receiveBufferRequested;
  /// SO_RCVBUF granted, in the terms it was requested: half of what getsockopt reports on Linux
  /// (the kernel doubles the figure for its bookkeeping); capped by net.core.rmem_max.
  int receiveBufferGranted;
};

/// The multicast receiver: binds the group's port, joins the group on an explicit interface, reads
/// recvmmsg batches into reused buffers and checks / reassembles each datagram in place. Single
/// threaded: the caller drives it with poll(). Constructor throws Error on socket setup failures.
class Receiver {
 public:
  Receiver(ReceiverOptions options, ReceiverEvents events);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  const ListeningInfo& listening() const noexcept { return listening_; }

  /// Waits up to timeoutMs for datagrams, then drains what is queued (bounded number of batches),
  /// and expires stale partial objects. Returns the number of datagrams processed.
  std::size_t poll(int timeoutMs);

  /// Processes one datagram as if it had arrived at `now` (ms, steady clock); the entry point for
  /// in-process tests.
  void handleDatagram(std::span<const std::uint8_t> datagram, std::int64_t now);
  /// Expires stale partial objects and staged changesets at `now`.
  void expire(std::int64_t now);

  const ReceiverCounters& counters() const noexcept { return counters_; }
  const SequenceTracker& sequences() const noexcept { return sequences_; }
  std::vector<const PartialObject*> incomplete() const { return reassembler_.incomplete(); }
  const ChangesetStager& stager() const noexcept { return stager_; }

  /// Milliseconds of the steady clock the receiver uses for `now`.
  static std::int64_t nowMs() noexcept;

  /// Creates a receiver without a socket (for in-process tests and fuzzing).
  struct NoSocket {};
  Receiver(NoSocket, ReceiverOptions options, ReceiverEvents events);

 private:
  void report(const std::optional<SequenceGap>& gap);
  /// Whether this Commit was taken already (a copy, SPEC 5.4); remembers it when not.
  bool isCommitCopy(const CommitInfo& commit);
  /// What tells a Commit's copies from other Commits (SPEC 5.4).
  using CommitTaken = std::tuple<std::uint64_t, std::uint64_t, std::string, std::uint64_t, std::int64_t>;
  /// Where the reassembler's complete objects go: to the stager when they name a changeset.
  void onComplete(ReceivedObject&& object);

  ReceiverOptions options_;
  ReceiverEvents events_;
  ReceiverEvents reassemblyEvents_;  ///< events_ with onObject routed through onComplete
  ReceiverCounters counters_;
  SequenceTracker sequences_;
  DatagramDecoder decoder_;
  ChangesetStager stager_;
  Reassembler reassembler_;
  std::int64_t now_ = 0;  ///< the current datagram's time (the stager's clock for completed objects)
  std::optional<UdpSocket> socket_;
  ListeningInfo listening_{};
  struct Batch;
  std::unique_ptr<Batch> batch_;
  std::int64_t lastExpiry_ = 0;
  bool haveLast_ = false;
  std::uint64_t lastSequence_ = 0;
  std::uint64_t lastSender_ = 0;
  /// The Commits taken recently (sender, sequence), and their order for forgetting the oldest.
  std::set<CommitTaken> commitsTaken_;
  std::deque<CommitTaken> commitsTakenOrder_;
};

}  // namespace condcast

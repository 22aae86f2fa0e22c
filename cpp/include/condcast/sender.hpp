// The multicast sender (mirrors ts/src/sender/sender.ts): cuts objects into datagrams, paces them,
// hands them to the kernel in sendmmsg batches (UDP GSO when the kernel offers it) with iovecs that
// point into the caller's payload, and announces itself with heartbeats on a timer thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "condcast/auth.hpp"
#include "condcast/constants.hpp"
#include "condcast/control.hpp"
#include "condcast/fec.hpp"
#include "condcast/object.hpp"
#include "condcast/socket.hpp"

namespace condcast {

enum class GsoMode : std::uint8_t {
  Auto,  ///< use UDP_SEGMENT when the kernel accepts it; fall back to one datagram per message
  Off,   ///< never use UDP_SEGMENT
};

struct SenderOptions {
  std::string group = kDefaultGroup;
  std::uint16_t port = kDefaultPort;
  /// IPv4 address of the interface to send on (explicit; default loopback).
  std::string interface = kDefaultInterface;
  int ttl = kDefaultTtl;
  std::size_t datagramSize = kDefaultDatagramSize;
  /// Pacing in bytes per second; 0 = unpaced.
  double rate = kDefaultRate;
  std::optional<AuthKey> key;
  /// Random when absent; a repository keeps it stable across restarts.
  std::optional<std::uint64_t> senderId;
  /// The sequence number the next object or change takes.
  std::uint64_t firstSequence = 1;
  /// 0 disables heartbeats.
  std::uint32_t heartbeatIntervalMs = kDefaultHeartbeatIntervalMs;
  std::string senderName;
  /// SPEC 4.5: identical copies of each Commit (at least 1), `commitCopyIntervalMs` apart.
  unsigned commitCopies = kDefaultCommitCopies;
  std::uint32_t commitCopyIntervalMs = kDefaultCommitCopyIntervalMs;
  GsoMode gso = GsoMode::Auto;
  /// Forward error correction (SPEC 10): parity ratio (default 0.05; 0 = none), block length B
  /// (default: the largest allowed), interleave depth D (default 16).
  FecParams fec;
  /// Testing: called with each fragment index in send order; true = do not send it (loss injection).
  std::function<bool(std::uint32_t index)> dropFragment;
};

/// What a caller supplies for one object; the sender computes the MD5.
struct OutgoingObject {
  std::span<const std::uint8_t> payload;  ///< read in place while send() runs
  std::string path;
  std::int64_t validFrom = 0;
  std::int64_t validUntil = 0;
  std::optional<ObjectId> id;          ///< random when absent
  std::optional<std::int64_t> created;  ///< now when absent
  std::string contentType = "application/octet-stream";
  std::string fileName;
  Metadata metadata;  ///< any order; sent sorted (a repeated key keeps its last value)
  /// The changeset it belongs to (SPEC 11); receivers stage it until sendCommit names it. Empty: none.
  std::string changeset;
};

/// The Commit (or abort) of a changeset whose objects were sent before it (SPEC 4.5); the sender adds
/// its id and the sequence.
struct OutgoingCommit {
  std::string keytable;
  std::uint64_t key = 0;        ///< >= 1; 0 when aborted
  std::uint64_t parentKey = 0;  ///< < key; 0 for a keytable's first key and when aborted
  std::string changeset;
  std::uint32_t objectCount = 0;
  std::vector<ObjectId> objectIds;  ///< any order; sent sorted (left out when they do not fit)
  std::vector<std::string> removedPaths;  ///< any order; sent sorted and unique
  std::optional<std::int64_t> committedAt;  ///< epoch ms; now when absent
  bool aborted = false;
};

struct SentObject {
  ObjectId id{};
  std::uint64_t sequence = 0;
  ObjectMetadata meta;
  std::uint32_t datagrams = 0;        ///< datagrams sent (source and parity)
  std::uint32_t parityDatagrams = 0;  ///< parity fragments among them (N · m; 0 without FEC)
  std::uint64_t bytes = 0;
};

struct LifecycleChange {
  ObjectId objectId{};
  LifecycleKind action = LifecycleKind::Deleted;
  std::string path;
  std::int64_t validUntil = 0;
  Metadata metadata;
};

struct SenderStats {
  std::uint64_t datagrams = 0;
  std::uint64_t sendCalls = 0;     ///< sendmmsg / sendmsg system calls
  std::uint64_t gsoMessages = 0;   ///< messages that carried UDP_SEGMENT
  std::uint64_t heartbeats = 0;
};

class Sender {
 public:
  /// Opens the socket and starts heartbeats (the first one at once). Throws Error on bad options or
  /// socket setup failures.
  explicit Sender(SenderOptions options);
  ~Sender();  ///< stops heartbeats and closes the socket
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  std::uint64_t senderId() const noexcept { return senderId_; }
  /// Highest sequence whose object or change has been sent completely (0 when none): what heartbeats
  /// announce (SPEC 4.3; an object still in flight is not announced).
  std::uint64_t lastSequence() const noexcept { return completedSequence_.load(); }
  /// True while UDP GSO is in use (false after a fallback or with GsoMode::Off).
  bool gsoActive() const noexcept { return gso_.load(); }
  SenderStats stats() const;
  /// The socket's file descriptor, for extra socket options (the Sender keeps ownership).
  int nativeHandle() const noexcept { return socket_.fd(); }

  /// Sends one object; returns when its last datagram has been handed to the kernel. Objects and
  /// changes go out one at a time, in sequence order (calls are serialised). Throws Error.
  SentObject send(const OutgoingObject& object);
  /// Announces a deletion or an update; returns its sequence. Throws Error when it does not fit.
  std::uint64_t sendLifecycle(const LifecycleChange& change);
  /// Sends the Commit of a changeset after every object sent before it, in `commitCopies` identical
  /// copies (SPEC 4.5; returns after the last, which heartbeats announce); returns it as it went on the
  /// wire (sender id, sequence, ids sorted or empty when they did not fit). Throws Error when it
  /// breaks SPEC 4.5 (names, keys, ids not objectCount) or does not fit the datagram size.
  CommitInfo sendCommit(const OutgoingCommit& commit);
  /// The keytables' current keys that heartbeats announce from now on (SPEC 4.3; the first 32).
  void setKeys(std::vector<KeyPosition> keys);
  /// Sends a heartbeat now.
  void heartbeat();

 private:
  void sendDatagram(std::span<const std::uint8_t> datagram);
  /// Runs a heartbeat / lifecycle encoder with the sender's signer (none without a key).
  std::vector<std::uint8_t> encodeControl(const std::function<std::vector<std::uint8_t>(const Signer*)>& encode);
  void heartbeatLoop();
  struct Batcher;

  SenderOptions options_;
  FecConfig fec_;
  std::uint64_t senderId_;
  std::atomic<std::uint64_t> nextSequence_;
  std::atomic<std::uint64_t> completedSequence_;
  std::atomic<bool> gso_{false};
  UdpSocket socket_;
  sockaddr_in destination_{};
  std::unique_ptr<Hmac> controlHmac_;  // heartbeats, lifecycle and commits (guarded by controlMutex_)
  std::vector<KeyPosition> keys_;      // what heartbeats announce (guarded by controlMutex_)
  std::mutex sendMutex_;               // one object or change at a time
  std::mutex controlMutex_;
  mutable std::mutex statsMutex_;
  SenderStats stats_;
  std::unique_ptr<Batcher> batcher_;
  std::mutex timerMutex_;
  std::condition_variable timerCv_;
  bool stopping_ = false;
  std::thread heartbeatThread_;
};

}  // namespace condcast

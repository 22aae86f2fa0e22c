// The receiver: the multicast socket, recvmmsg batches, and each datagram's checks and bookkeeping.
#include "condcast/receiver.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "condcast/error.hpp"

namespace condcast {

namespace {
constexpr std::size_t kSlotSize = 65536;  // larger than any IPv4 UDP payload (65507)
constexpr int kMaxBatchesPerPoll = 64;
}  // namespace

struct Receiver::Batch {
  explicit Batch(unsigned n) : buffers(std::size_t{n} * kSlotSize), iovecs(n), headers(n) {
    for (unsigned i = 0; i < n; i++) {
      iovecs[i].iov_base = buffers.data() + std::size_t{i} * kSlotSize;
      iovecs[i].iov_len = kSlotSize;
      headers[i].msg_hdr.msg_iov = &iovecs[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
  }
  std::vector<std::uint8_t> buffers;
  std::vector<iovec> iovecs;
  std::vector<mmsghdr> headers;
};

std::int64_t Receiver::nowMs() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
ReceiverEvents routedEvents(const ReceiverEvents& events, std::function<void(ReceivedObject&&)> onObject) {
  ReceiverEvents routed = events;
  routed.onObject = std::move(onObject);
  return routed;
}

ChangesetEvents changesetEvents(const ReceiverEvents& events) {
  return ChangesetEvents{events.onChangeset, events.onCommitIgnored, events.onStagedObjectDropped};
}
}  // namespace

Receiver::Receiver(NoSocket, ReceiverOptions options, ReceiverEvents events)
    : options_(std::move(options)),
      events_(std::move(events)),
      reassemblyEvents_(routedEvents(events_, [this](ReceivedObject&& object) { onComplete(std::move(object)); })),
      decoder_(DecodeOptions{options_.keys, options_.maxEnvelopeLength}),
      stager_(counters_, changesetEvents(events_), options_.reassembly.maxPartialBytes, options_.staging),
      reassembler_(counters_, reassemblyEvents_, options_.reassembly) {
  if (options_.stageChangesets) reassembler_.setReclaim([this](std::uint64_t bytes) { return stager_.reclaim(bytes); });
}

void Receiver::onComplete(ReceivedObject&& object) {
  if (options_.stageChangesets && !object.meta.changeset.empty()) {
    stager_.stage(std::move(object), now_);
  } else if (events_.onObject) {
    events_.onObject(std::move(object));
  }
}

void Receiver::expire(std::int64_t now) {
  reassembler_.expire(now);
  stager_.expire(now);
}

Receiver::Receiver(ReceiverOptions options, ReceiverEvents events) : Receiver(NoSocket{}, std::move(options), std::move(events)) {
  const in_addr group = parseIpv4(options_.group, "group");
  if (!isMulticast(group)) throw Error("group must be an IPv4 multicast address, got " + options_.group);
  const in_addr iface = parseIpv4(options_.interface, "interface");
  if (options_.batchSize == 0) options_.batchSize = 1;
  socket_.emplace();
  const int fd = socket_->fd();
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) throwSystemError("SO_REUSEADDR");
  int requested = options_.receiveBufferSize;
  // The kernel caps the request at net.core.rmem_max; what it granted is read back and reported.
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &requested, sizeof requested);
  int granted = 0;
  socklen_t grantedLength = sizeof granted;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &grantedLength) != 0) throwSystemError("SO_RCVBUF");
  // Binding to the group address keeps other traffic to the port out of this socket.
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  address.sin_addr = group;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throwSystemError("bind " + options_.group + ":" + std::to_string(options_.port));
  }
  ip_mreq membership{};
  membership.imr_multiaddr = group;
  membership.imr_interface = iface;
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership) != 0) {
    throwSystemError("join " + options_.group + " on " + options_.interface);
  }
  int zero = 0;
  (void)::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
  batch_ = std::make_unique<Batch>(options_.batchSize);
  // CLI.md: "granted" in the terms it was requested; Linux reports twice that (its bookkeeping).
  listening_ = ListeningInfo{options_.group, options_.port, options_.interface, requested, granted / 2};
  lastExpiry_ = nowMs();
}

Receiver::~Receiver() = default;

std::size_t Receiver::poll(int timeoutMs) {
  std::size_t processed = 0;
  if (socket_) {
    pollfd pfd{socket_->fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeoutMs);
    if (ready < 0 && errno != EINTR) throwSystemError("poll");
    if (ready > 0) {
      Batch& batch = *batch_;
      for (int round = 0; round < kMaxBatchesPerPoll; round++) {
        const int n = ::recvmmsg(socket_->fd(), batch.headers.data(), options_.batchSize, MSG_DONTWAIT, nullptr);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          throwSystemError("recvmmsg");
        }
        const std::int64_t now = nowMs();
        for (int i = 0; i < n; i++) {
          handleDatagram({static_cast<const std::uint8_t*>(batch.iovecs[static_cast<std::size_t>(i)].iov_base),
                          batch.headers[static_cast<std::size_t>(i)].msg_len},
                         now);
        }
        processed += static_cast<std::size_t>(n);
        if (static_cast<unsigned>(n) < options_.batchSize) break;
      }
    }
  }
  const std::int64_t now = nowMs();
  const std::int64_t timeout = std::min(options_.reassembly.partialTimeoutMs, options_.staging.stagedTimeoutMs);
  const std::int64_t every = std::max<std::int64_t>(10, std::min<std::int64_t>(1000, timeout / 4));
  if (now - lastExpiry_ >= every) {
    lastExpiry_ = now;
    expire(now);
  }
  return processed;
}

void Receiver::handleDatagram(std::span<const std::uint8_t> datagram, std::int64_t now) {
  counters_.datagrams++;
  counters_.bytes += datagram.size();
  now_ = now;
  const DecodeResult result = decoder_.decode(datagram);
  switch (result.kind) {
    case Decoded::Fragment: {
      const FragmentView& view = decoder_.fragment();
      counters_.fragments++;
      // Sequence bookkeeping runs once per object, not once per datagram.
      if (!haveLast_ || view.sequence() != lastSequence_ || view.senderId() != lastSender_) {
        haveLast_ = true;
        lastSequence_ = view.sequence();
        lastSender_ = view.senderId();
        report(sequences_.observe(view.senderId(), view.sequence()));
      }
      if (auto reason = reassembler_.accept(view, now)) counters_.drop(*reason)++;
      return;
    }
    case Decoded::Heartbeat: {
      counters_.heartbeats++;
      const HeartbeatInfo& heartbeat = decoder_.heartbeat();
      if (heartbeat.lastSequence > 0) report(sequences_.observeLast(heartbeat.senderId, heartbeat.lastSequence));
      if (events_.onHeartbeat) events_.onHeartbeat(heartbeat);
      return;
    }
    case Decoded::Lifecycle: {
      counters_.lifecycles++;
      const LifecycleInfo& lifecycle = decoder_.lifecycle();
      report(sequences_.observe(lifecycle.senderId, lifecycle.sequence));
      if (events_.onLifecycle) events_.onLifecycle(lifecycle);
      return;
    }
    case Decoded::Commit: {
      const CommitInfo& commit = decoder_.commit();
      if (isCommitCopy(commit)) {
        counters_.commitCopies++;  // SPEC 5.4: a copy of a Commit taken already goes nowhere, no drop
        return;
      }
      counters_.commits++;
      report(sequences_.observe(commit.senderId, commit.sequence));
      if (events_.onCommit) events_.onCommit(commit);
      if (options_.stageChangesets) stager_.commit(commit, now);
      return;
    }
    case Decoded::Rejected:
      counters_.drop(result.reason)++;
      return;
  }
}

bool Receiver::isCommitCopy(const CommitInfo& commit) {
  const CommitTaken taken{commit.senderId, commit.sequence, commit.changeset, commit.key, commit.committedAt};
  if (!commitsTaken_.insert(taken).second) return true;
  commitsTakenOrder_.push_back(taken);
  if (commitsTakenOrder_.size() > kCommitCopyMemory) {
    commitsTaken_.erase(commitsTakenOrder_.front());
    commitsTakenOrder_.pop_front();
  }
  return false;
}

void Receiver::report(const std::optional<SequenceGap>& gap) {
  if (gap && events_.onGap) events_.onGap(*gap);
}

}  // namespace condcast

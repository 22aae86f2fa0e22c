// The multicast sender: sendmmsg batches, UDP GSO when available, iovecs into the payload, pacing,
// heartbeats on a timer thread.
#include "condcast/sender.hpp"

#include <arpa/inet.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "condcast/error.hpp"
#include "condcast/object_encoder.hpp"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace condcast {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t epochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Token-bucket pacing in bytes per second (mirrors ts/src/sender/pacer.ts).
class Pacer {
 public:
  Pacer(double rate, double burstBytes) : rate_(rate), burstBytes_(burstBytes) {}
  void take(std::size_t bytes) {
    if (rate_ <= 0) return;
    const auto now = Clock::now();
    const auto burst = std::chrono::duration<double>(burstBytes_ / rate_);
    const auto floor = now - std::chrono::duration_cast<Clock::duration>(burst);
    if (nextFreeAt_ < floor) nextFreeAt_ = floor;
    nextFreeAt_ += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(bytes) / rate_));
    const auto sendAt = nextFreeAt_ - std::chrono::duration_cast<Clock::duration>(burst);
    if (sendAt > now) std::this_thread::sleep_until(sendAt);
  }

 private:
  double rate_;
  double burstBytes_;
  Clock::time_point nextFreeAt_{};
};

constexpr std::size_t kMaxSlots = 256;            // datagrams prepared per round
constexpr std::size_t kRoundBytes = 256 * 1024;   // and at most this many bytes (the pacing burst)
constexpr std::size_t kMaxGsoSegments = 64;       // UDP_MAX_SEGMENTS
constexpr std::size_t kMaxGsoBytes = 65000;       // one GSO message stays below the IPv4 length limit
constexpr std::size_t kIovPerDatagram = 4;        // header, two chunk pieces, trailer

bool isGsoFailure(int error) {
  return error == EIO || error == EINVAL || error == EOPNOTSUPP || error == ENOPROTOOPT || error == EMSGSIZE ||
         error == ENOTSUP;
}

}  // namespace

/// Buffers reused for every round: header and trailer slots per datagram, iovecs, message headers.
struct Sender::Batcher {
  explicit Batcher(std::size_t datagramSize)
      : slots(std::max<std::size_t>(1, std::min(kMaxSlots, kRoundBytes / datagramSize))),
        headers(slots * kDatagramHeaderRoom),
        trailers(slots * kAuthTrailerLength),
        pieces(slots),
        iovecs(slots * kIovPerDatagram),
        messages(slots),
        control(slots * CMSG_SPACE(sizeof(std::uint16_t))),
        firstDatagram(slots),
        pacer(0, 0) {}
  std::size_t slots;
  std::vector<std::uint8_t> headers;
  std::vector<std::uint8_t> trailers;
  std::vector<ObjectEncoder::Pieces> pieces;
  std::vector<iovec> iovecs;
  std::vector<mmsghdr> messages;
  std::vector<std::uint8_t> control;
  std::vector<std::size_t> firstDatagram;  // per message: its first datagram in the round
  std::vector<std::uint8_t> parity;        // parity symbols of one interleave group (FEC)
  Pacer pacer;
};

Sender::Sender(SenderOptions options) : options_(std::move(options)) {
  fragmentSizeFor(options_.datagramSize, options_.key.has_value());  // validates the size
  if (options_.rate < 0) throw Error("rate must be >= 0");
  if (options_.ttl < 0 || options_.ttl > 255) throw Error("ttl must be in [0, 255]");
  fec_ = FecConfig::from(options_.fec);
  if (options_.firstSequence < 1 || options_.firstSequence > kMaxSequence) throw Error("first sequence out of range");
  const in_addr group = parseIpv4(options_.group, "group");
  if (!isMulticast(group)) throw Error("group must be an IPv4 multicast address, got " + options_.group);
  const in_addr iface = parseIpv4(options_.interface, "interface");
  if (options_.key) {
    if (options_.key->key.size() < kMinKeyLength) throw Error("key must be at least 16 bytes");
    controlHmac_ = std::make_unique<Hmac>(options_.key->key);
  }
  senderId_ = options_.senderId ? *options_.senderId : randomSenderId();
  nextSequence_ = options_.firstSequence;
  completedSequence_ = options_.firstSequence - 1;

  const int fd = socket_.fd();
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = iface;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) throwSystemError("bind " + options_.interface);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0) throwSystemError("IP_MULTICAST_IF");
  const unsigned char ttl = static_cast<unsigned char>(options_.ttl);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0) throwSystemError("IP_MULTICAST_TTL");
  const unsigned char loop = 1;
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0) throwSystemError("IP_MULTICAST_LOOP");
  int sendBuffer = 4 * 1024 * 1024;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof sendBuffer);
  if (options_.gso == GsoMode::Auto) {
    // Runtime detection: kernels without UDP GSO (< 4.18) do not know the option.
    int segment = 0;
    socklen_t length = sizeof segment;
    gso_ = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &length) == 0;
  }
  destination_.sin_family = AF_INET;
  destination_.sin_port = htons(options_.port);
  destination_.sin_addr = group;

  batcher_ = std::make_unique<Batcher>(options_.datagramSize);
  const double roundBytes = static_cast<double>(batcher_->slots * options_.datagramSize);
  batcher_->pacer = Pacer(options_.rate, roundBytes);

  if (options_.heartbeatIntervalMs > 0) {
    heartbeat();
    heartbeatThread_ = std::thread([this] { heartbeatLoop(); });
  }
}

Sender::~Sender() {
  {
    std::lock_guard lock(timerMutex_);
    stopping_ = true;
  }
  timerCv_.notify_all();
  if (heartbeatThread_.joinable()) heartbeatThread_.join();
}

SenderStats Sender::stats() const {
  std::lock_guard lock(statsMutex_);
  return stats_;
}

void Sender::heartbeatLoop() {
  std::unique_lock lock(timerMutex_);
  while (!stopping_) {
    if (timerCv_.wait_for(lock, std::chrono::milliseconds(options_.heartbeatIntervalMs), [this] { return stopping_; })) break;
    lock.unlock();
    try {
      heartbeat();
    } catch (const Error&) {
      // a failed heartbeat is not fatal; the next one follows
    }
    lock.lock();
  }
}

void Sender::heartbeat() {
  HeartbeatInfo info{senderId_, lastSequence(), epochMs(), options_.heartbeatIntervalMs, options_.senderName, {}};
  sendDatagram(encodeControl([&](const Signer* signer) {
    info.keys = keys_;  // encodeControl holds controlMutex_, which guards keys_
    return encodeHeartbeat(info, signer);
  }));
  std::lock_guard lock(statsMutex_);
  stats_.heartbeats++;
}

std::vector<std::uint8_t> Sender::encodeControl(
    const std::function<std::vector<std::uint8_t>(const Signer*)>& encode) {
  std::lock_guard lock(controlMutex_);
  if (!controlHmac_) return encode(nullptr);
  Signer signer{options_.key->id, *controlHmac_};
  return encode(&signer);
}

void Sender::sendDatagram(std::span<const std::uint8_t> datagram) {
  while (::sendto(socket_.fd(), datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&destination_),
                  sizeof destination_) < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    throwSystemError("sendto");
  }
}

std::uint64_t Sender::sendLifecycle(const LifecycleChange& change) {
  std::lock_guard sendLock(sendMutex_);
  const std::uint64_t sequence = nextSequence_.load();
  LifecycleInfo info{senderId_, sequence, change.objectId, change.action, change.path, change.validUntil,
                     change.metadata, epochMs()};
  const std::vector<std::uint8_t> datagram =
      encodeControl([&](const Signer* signer) { return encodeLifecycle(info, signer); });
  if (datagram.size() > options_.datagramSize) {
    throw Error("lifecycle message of " + std::to_string(datagram.size()) + " bytes exceeds the datagram size");
  }
  nextSequence_++;
  sendDatagram(datagram);
  completedSequence_ = sequence;
  return sequence;
}

CommitInfo Sender::sendCommit(const OutgoingCommit& commit) {
  if (!isKeytableName(commit.keytable)) throw Error("commit keytable must be 1-64 of [A-Za-z0-9._-], got \"" + commit.keytable + "\"");
  if (!isChangesetId(commit.changeset)) throw Error("commit changeset must be 1-64 of [A-Za-z0-9._-], got \"" + commit.changeset + "\"");
  const bool keysOk = commit.aborted ? commit.key == 0 && commit.parentKey == 0
                                     : commit.key >= 1 && commit.key <= kMaxSequence && commit.parentKey < commit.key;
  if (!keysOk) throw Error("commit keys break SPEC 4.5: key >= 1 and parent key < key (both 0 when aborted)");
  std::vector<ObjectId> ids = commit.objectIds;
  std::sort(ids.begin(), ids.end());
  if (!ids.empty() && (std::adjacent_find(ids.begin(), ids.end()) != ids.end() || ids.size() != commit.objectCount)) {
    throw Error("commit object ids must be objectCount unique ids");
  }
  std::lock_guard sendLock(sendMutex_);
  CommitInfo info{senderId_,          nextSequence_.load(), commit.keytable,      commit.key,
                  commit.parentKey,   commit.changeset,     commit.objectCount,   std::move(ids),
                  commit.removedPaths, commit.committedAt ? *commit.committedAt : epochMs(), commit.aborted};
  CommitInfo sent;
  const std::vector<std::uint8_t> datagram =
      encodeControl([&](const Signer* signer) { return encodeCommit(info, options_.datagramSize, signer, &sent); });
  nextSequence_++;
  // SPEC 4.5: the same datagram again (same sequence, no gap), nothing else of the sequence between.
  for (unsigned copy = 0; copy < std::max(options_.commitCopies, 1u); copy++) {
    if (copy > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options_.commitCopyIntervalMs));
    sendDatagram(datagram);
  }
  completedSequence_ = info.sequence;
  return sent;
}

void Sender::setKeys(std::vector<KeyPosition> keys) {
  if (keys.size() > kMaxHeartbeatKeys) keys.resize(kMaxHeartbeatKeys);
  std::lock_guard lock(controlMutex_);
  keys_ = std::move(keys);
}

SentObject Sender::send(const OutgoingObject& object) {
  std::lock_guard sendLock(sendMutex_);
  SentObject sent;
  sent.id = object.id ? *object.id : randomUuid();
  sent.meta.path = object.path;
  sent.meta.validFrom = object.validFrom;
  sent.meta.validUntil = object.validUntil;
  sent.meta.created = object.created ? *object.created : epochMs();
  sent.meta.contentType = object.contentType;
  sent.meta.fileName = object.fileName;
  sent.meta.md5 = md5(object.payload);
  sent.meta.metadata = sortedMetadata(object.metadata);
  sent.meta.changeset = object.changeset;
  sent.sequence = nextSequence_.load();
  const AuthKey* key = options_.key ? &*options_.key : nullptr;
  ObjectEncoder encoder({senderId_, sent.sequence, sent.id, sent.meta, object.payload}, options_.datagramSize, key, fec_);
  nextSequence_++;

  Batcher& b = *batcher_;
  const int fd = socket_.fd();
  std::uint64_t calls = 0;
  std::uint64_t gsoMessages = 0;
  if (encoder.fecEnabled()) {
    // Parity of one interleave group at a time, in a buffer that grows to the largest group seen and
    // is reused from then on.
    if (b.parity.size() < encoder.parityWorkspaceSize()) b.parity.resize(encoder.parityWorkspaceSize());
    encoder.useParityWorkspace(b.parity);
  }
  SendOrder order = encoder.sendOrder();
  std::uint32_t skipped = 0;
  while (!order.done()) {
    // A round: up to `slots` datagrams in send order, all of one interleave group (the parity chunks
    // of a group live in the workspace until the next group is encoded).
    const std::uint32_t group = order.group();
    std::size_t n = 0;
    std::size_t roundBytes = 0;
    while (n < b.slots && !order.done() && order.group() == group) {
      const std::uint32_t index = order.index();
      order.advance();
      if (options_.dropFragment && options_.dropFragment(index)) {
        skipped++;
        continue;
      }
      b.pieces[n] = encoder.prepare(index, &b.headers[n * kDatagramHeaderRoom], &b.trailers[n * kAuthTrailerLength]);
      roundBytes += b.pieces[n].length();
      n++;
    }
    if (n == 0) continue;
    b.pacer.take(roundBytes);
    sent.bytes += roundBytes;

    std::size_t next = 0;  // first datagram of the round not yet handed to the kernel
    while (next < n) {
      // Group datagrams into messages: with GSO, runs of equal-length datagrams (the last of a run
      // may be shorter) become one message with UDP_SEGMENT; otherwise one datagram per message.
      const bool useGso = gso_.load();
      std::size_t messageCount = 0;
      std::size_t iov = 0;
      for (std::size_t d = next; d < n;) {
        mmsghdr& m = b.messages[messageCount];
        std::memset(&m, 0, sizeof m);
        m.msg_hdr.msg_name = &destination_;
        m.msg_hdr.msg_namelen = sizeof destination_;
        m.msg_hdr.msg_iov = &b.iovecs[iov];
        b.firstDatagram[messageCount] = d;
        const std::size_t segment = b.pieces[d].length();
        std::size_t segments = 0;
        std::size_t bytes = 0;
        while (d < n) {
          const std::size_t length = b.pieces[d].length();
          if (segments > 0 && (!useGso || length > segment || segments == kMaxGsoSegments || bytes + length > kMaxGsoBytes)) {
            break;
          }
          const auto& p = b.pieces[d];
          b.iovecs[iov++] = {&b.headers[d * kDatagramHeaderRoom], p.headerLength};
          for (const auto& chunk : p.chunk) {
            if (!chunk.empty()) b.iovecs[iov++] = {const_cast<std::uint8_t*>(chunk.data()), chunk.size()};
          }
          if (p.trailerLength > 0) b.iovecs[iov++] = {&b.trailers[d * kAuthTrailerLength], p.trailerLength};
          segments++;
          bytes += length;
          d++;
          if (length < segment) break;  // a shorter segment ends a GSO message
        }
        m.msg_hdr.msg_iovlen = static_cast<std::size_t>(&b.iovecs[iov] - m.msg_hdr.msg_iov);
        if (segments > 1) {
          auto* buffer = &b.control[messageCount * CMSG_SPACE(sizeof(std::uint16_t))];
          m.msg_hdr.msg_control = buffer;
          m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(std::uint16_t));
          cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
          const auto gsoSize = static_cast<std::uint16_t>(segment);
          std::memcpy(CMSG_DATA(c), &gsoSize, sizeof gsoSize);
        }
        messageCount++;
      }
      // Hand the messages to the kernel; on a GSO failure, switch GSO off and rebuild from there.
      std::size_t done = 0;
      bool rebuild = false;
      while (done < messageCount) {
        const int sentCount = ::sendmmsg(fd, &b.messages[done], static_cast<unsigned>(messageCount - done), 0);
        calls++;
        if (sentCount < 0) {
          const int error = errno;
          if (error == EINTR || error == EAGAIN || error == ENOBUFS) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            continue;
          }
          if (useGso && b.messages[done].msg_hdr.msg_control != nullptr && isGsoFailure(error)) {
            gso_ = false;
            next = b.firstDatagram[done];
            rebuild = true;
            break;
          }
          errno = error;
          throwSystemError("sendmmsg");
        }
        for (int k = 0; k < sentCount; k++) {
          if (b.messages[done + static_cast<std::size_t>(k)].msg_hdr.msg_control != nullptr) gsoMessages++;
        }
        done += static_cast<std::size_t>(sentCount);
      }
      if (!rebuild) next = n;
    }
  }
  sent.datagrams = encoder.count() - skipped;
  sent.parityDatagrams = encoder.count() - encoder.sourceCount();
  completedSequence_ = sent.sequence;
  {
    std::lock_guard lock(statsMutex_);
    stats_.datagrams += sent.datagrams;
    stats_.sendCalls += calls;
    stats_.gsoMessages += gsoMessages;
  }
  return sent;
}

}  // namespace condcast

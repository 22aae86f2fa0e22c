// The receive side (SPEC 5): counters, sequences, partial objects, reassembly, the multicast socket.
#include "condcast/receiver.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>

#include "condcast/error.hpp"

namespace condcast {

// ---- counters --------------------------------------------------------------------------------------

std::uint64_t ReceiverCounters::totalDrops() const noexcept {
  std::uint64_t total = 0;
  for (auto n : drops) total += n;
  return total;
}

std::string ReceiverCounters::toJson() const {
  std::string out = "{\"datagrams\":" + std::to_string(datagrams) + ",\"bytes\":" + std::to_string(bytes) +
                    ",\"fragments\":" + std::to_string(fragments) + ",\"heartbeats\":" + std::to_string(heartbeats) +
                    ",\"lifecycles\":" + std::to_string(lifecycles) +
                    ",\"objectsCompleted\":" + std::to_string(objectsCompleted) + ",\"drops\":{";
  for (std::size_t i = 0; i < kDropReasonCount; i++) {
    if (i > 0) out += ',';
    out += '"';
    out += kDropReasonNames[i];
    out += "\":" + std::to_string(drops[i]);
  }
  out += "},\"objectsDropped\":{";
  for (std::size_t i = 0; i < kObjectDropReasonCount; i++) {
    if (i > 0) out += ',';
    out += '"';
    out += kObjectDropReasonNames[i];
    out += "\":" + std::to_string(objectsDropped[i]);
  }
  out += "},\"partialObjects\":" + std::to_string(partialObjects) + ",\"partialBytes\":" + std::to_string(partialBytes) +
         ",\"fec\":{\"blocksDecoded\":" + std::to_string(fec.blocksDecoded) +
         ",\"parityUsed\":" + std::to_string(fec.parityUsed) +
         ",\"fragmentsRecovered\":" + std::to_string(fec.fragmentsRecovered) + "}}";
  return out;
}

// ---- sequences -------------------------------------------------------------------------------------

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

// ---- partial objects -------------------------------------------------------------------------------

std::uint64_t chargeFor(std::uint64_t envelopeLength, std::uint64_t fragmentSize, std::uint32_t fecBlockLength,
                        std::uint32_t fecParityCount) noexcept {
  const std::uint64_t count = fragmentCount(envelopeLength, fragmentSize);
  std::uint64_t charge = envelopeLength + count + kPartialOverheadBytes;
  if (fecBlockLength > 0 && fecParityCount > 0) {
    const std::uint64_t parity = (count + fecBlockLength - 1) / fecBlockLength * fecParityCount;
    charge += parity * (std::min(fragmentSize, envelopeLength) + 1);
  }
  return charge;
}

std::size_t ObjectKeyHash::operator()(const ObjectKey& k) const noexcept {
  std::uint64_t a;
  std::uint64_t b;
  std::memcpy(&a, k.objectId.data(), 8);
  std::memcpy(&b, k.objectId.data() + 8, 8);
  std::uint64_t h = k.senderId * 0x9E3779B97F4A7C15ULL;
  h ^= a + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  h ^= b + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return static_cast<std::size_t>(h);
}

PartialObject::PartialObject(const ObjectKey& key, std::uint64_t sequence, std::uint64_t envelopeLength,
                             std::uint32_t metadataLength, std::uint32_t fragmentSize, std::int64_t now,
                             std::uint32_t fecScheme, std::uint32_t fecBlockLength, std::uint32_t fecParityCount)
    : key_(key),
      sequence_(sequence),
      envelopeLength_(envelopeLength),
      metadataLength_(metadataLength),
      fragmentSize_(fragmentSize),
      count_(static_cast<std::uint32_t>(fragmentCount(envelopeLength, fragmentSize))),
      lastFragmentAt_(now),
      envelope_(std::make_unique_for_overwrite<std::uint8_t[]>(static_cast<std::size_t>(envelopeLength))),
      received_(count_, 0),
      fecScheme_(fecScheme),
      fecBlockLength_(fecScheme == 1 ? fecBlockLength : 0) {
  if (fecScheme_ == 1) {
    layout_ = condcast::fecLayout(count_, fecBlockLength, fecParityCount);
    symbolSize_ = static_cast<std::size_t>(std::min<std::uint64_t>(fragmentSize, envelopeLength));
    blocks_.resize(layout_.blockCount);
    parityState_.assign(static_cast<std::size_t>(std::uint64_t{layout_.blockCount} * layout_.parityCount), 0);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::bad_alloc();
  }
  md5_ = ctx;
}

PartialObject::~PartialObject() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(md5_)); }

std::uint64_t PartialObject::chunkLength(std::uint32_t index) const noexcept {
  const std::uint64_t start = std::uint64_t{index} * fragmentSize_;
  return std::min<std::uint64_t>(fragmentSize_, envelopeLength_ - start);
}

std::uint32_t PartialObject::parityHeld(std::uint32_t block) const noexcept {
  return block < blocks_.size() ? blocks_[block].parity : 0;
}

PartialObject::Stored PartialObject::store(std::uint32_t index, std::span<const std::uint8_t> chunk, std::int64_t now,
                                           FecDecoder* decoder, ReceiverCounters::Fec* fec) {
  if (index >= count_) {
    // A parity fragment (scheme 1; the decoder checked index < T + N·m and the chunk's length).
    const std::uint32_t p = index - count_;
    if (p >= parityState_.size()) return Stored::Duplicate;  // not reachable after the checks of SPEC 5.1
    if (parityState_[p] != 0) return Stored::Duplicate;
    const std::uint32_t b = p / layout_.parityCount;
    const std::uint32_t row = p % layout_.parityCount;
    Block& block = blocks_[b];
    lastFragmentAt_ = now;
    if (block.sources == layout_.blockSourceCount(b)) {
      parityState_[p] = 2;
      return Stored::NotNeeded;
    }
    auto& buffer = parityBuffers_[b];
    if (!buffer) buffer = std::make_unique_for_overwrite<std::uint8_t[]>(std::size_t{layout_.parityCount} * symbolSize_);
    std::memcpy(buffer.get() + std::size_t{row} * symbolSize_, chunk.data(), chunk.size());
    parityState_[p] = 1;
    block.parity++;
    if (decoder != nullptr) tryDecode(b, *decoder, fec);
    return Stored::Stored;
  }
  if (received_[index] != 0) return Stored::Duplicate;
  std::memcpy(envelope_.get() + std::uint64_t{index} * fragmentSize_, chunk.data(), chunk.size());
  received_[index] = 1;
  receivedCount_++;
  lastFragmentAt_ = now;
  if (fecScheme_ == 1) {
    const std::uint32_t b = layout_.blockOfSource(index);
    Block& block = blocks_[b];
    block.sources++;
    if (block.sources == layout_.blockSourceCount(b)) {
      if (block.parity > 0) parityBuffers_.erase(b);  // parity no longer needed
    } else if (block.parity > 0 && decoder != nullptr) {
      tryDecode(b, *decoder, fec);
    }
  }
  advanceHash();
  return Stored::Stored;
}

void PartialObject::tryDecode(std::uint32_t b, FecDecoder& decoder, ReceiverCounters::Fec* fec) {
  Block& block = blocks_[b];
  const std::uint32_t k = layout_.blockSourceCount(b);
  if (block.sources == k || block.sources + block.parity < k) return;
  const auto found = parityBuffers_.find(b);
  if (found == parityBuffers_.end()) return;
  const std::uint8_t* buffer = found->second.get();
  const std::uint32_t start = layout_.blockStart(b);
  const std::uint32_t m = layout_.parityCount;
  std::array<SourceSymbol, 255> sources;
  std::array<RecoveredSymbol, 255> out;
  std::array<ParitySymbol, 255> parity;
  std::uint32_t e = 0;
  for (std::uint32_t j = 0; j < k; j++) {
    const std::uint32_t index = start + j;
    std::uint8_t* at = envelope_.get() + std::uint64_t{index} * fragmentSize_;
    const auto length = static_cast<std::size_t>(chunkLength(index));
    if (received_[index] != 0) {
      sources[j] = {at, length};
    } else {
      sources[j] = {};
      out[e++] = {j, at, length};
    }
  }
  std::uint32_t held = 0;
  const std::size_t first = std::size_t{b} * m;
  for (std::uint32_t row = 0; row < m && held < e; row++) {
    if (parityState_[first + row] == 1) parity[held++] = {row, buffer + std::size_t{row} * symbolSize_};
  }
  if (!decoder.decode({sources.data(), k}, {parity.data(), held}, {out.data(), e}, symbolSize_)) return;
  for (std::uint32_t c = 0; c < e; c++) received_[start + out[c].position] = 1;
  receivedCount_ += e;
  block.sources = static_cast<std::uint8_t>(k);
  parityBuffers_.erase(found);
  if (fec != nullptr) {
    fec->blocksDecoded++;
    fec->parityUsed += e;
    fec->fragmentsRecovered += e;
  }
  advanceHash();
}

void PartialObject::advanceHash() {
  auto* ctx = static_cast<EVP_MD_CTX*>(md5_);
  while (hashedFragments_ < count_ && received_[hashedFragments_] != 0) {
    const std::uint64_t start = std::max<std::uint64_t>(std::uint64_t{hashedFragments_} * fragmentSize_, metadataLength_);
    const std::uint64_t end = std::min<std::uint64_t>((std::uint64_t{hashedFragments_} + 1) * fragmentSize_, envelopeLength_);
    if (end > start) EVP_DigestUpdate(ctx, envelope_.get() + start, static_cast<std::size_t>(end - start));
    hashedFragments_++;
  }
}

std::array<std::uint8_t, 16> PartialObject::payloadMd5() {
  if (!complete()) throw Error("object is incomplete");
  advanceHash();
  std::array<std::uint8_t, 16> out{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(md5_), out.data(), &length);
  return out;
}

std::vector<ByteRange> PartialObject::missingEnvelopeRanges() const {
  std::vector<ByteRange> ranges;
  auto add = [&](std::uint32_t index) {
    const std::uint64_t start = std::uint64_t{index} * fragmentSize_;
    const std::uint64_t end = start + chunkLength(index);
    if (!ranges.empty() && ranges.back().end == start) {
      ranges.back().end = end;
    } else {
      ranges.push_back({start, end});
    }
  };
  if (fecScheme_ != 1) {
    for (std::uint32_t i = 0; i < count_; i++) {
      if (received_[i] == 0) add(i);
    }
    return ranges;
  }
  // SPEC 5.2: a block holding h < k fragments needs k − h more: its first k − h missing sources.
  for (std::uint32_t b = 0; b < layout_.blockCount; b++) {
    const std::uint32_t k = layout_.blockSourceCount(b);
    const std::uint32_t held = std::uint32_t{blocks_[b].sources} + blocks_[b].parity;
    if (held >= k) continue;
    std::uint32_t needed = k - held;
    const std::uint32_t start = layout_.blockStart(b);
    for (std::uint32_t i = start; i < start + k && needed > 0; i++) {
      if (received_[i] == 0) {
        add(i);
        needed--;
      }
    }
  }
  return ranges;
}

std::vector<ByteRange> PartialObject::missingPayloadRanges() const {
  std::vector<ByteRange> out;
  for (const auto& r : missingEnvelopeRanges()) {
    const std::uint64_t start = r.start > metadataLength_ ? r.start - metadataLength_ : 0;
    const std::uint64_t end = r.end > metadataLength_ ? r.end - metadataLength_ : 0;
    if (end > start) out.push_back({start, end});
  }
  return out;
}

bool PartialObject::metadataMissing() const {
  const std::uint32_t lastMetadataFragment = (metadataLength_ - 1) / fragmentSize_;
  for (std::uint32_t i = 0; i <= lastMetadataFragment; i++) {
    if (received_[i] == 0) return true;
  }
  return false;
}

// ---- reassembly ------------------------------------------------------------------------------------

Reassembler::Reassembler(ReceiverCounters& counters, ReceiverEvents& events, ReassemblerOptions options)
    : counters_(counters), events_(events), options_(options) {}

Reassembler::~Reassembler() = default;

std::optional<DropReason> Reassembler::accept(const FragmentView& view, std::int64_t now) {
  PartialObject* partial = nullptr;
  if (last_ != nullptr && last_->key().senderId == view.senderId() &&
      std::memcmp(last_->key().objectId.data(), view.objectId().data(), kObjectIdLength) == 0) {
    partial = last_;
  } else {
    ObjectKey key{view.senderId(), {}};
    std::memcpy(key.objectId.data(), view.objectId().data(), kObjectIdLength);
    auto it = partials_.find(key);
    if (it != partials_.end()) {
      partial = it->second.get();
    } else {
      if (completed_.contains(key)) {
        // A completed object's blocks all have their sources: its late parity fragments are not
        // needed, and not drops (SPEC 5.2, FEC); a source fragment is a duplicate.
        return view.isParity() ? std::nullopt : std::optional<DropReason>(DropReason::Duplicate);
      }
      const std::uint64_t charge =
          chargeFor(view.envelopeLength(), view.fragmentSize(), view.fecBlockLength(), view.fecParityCount());
      if (partials_.size() >= options_.maxPartialObjects || counters_.partialBytes + charge > options_.maxPartialBytes) {
        return DropReason::OverCapacity;
      }
      std::unique_ptr<PartialObject> fresh;
      try {
        fresh = std::make_unique<PartialObject>(key, view.sequence(), view.envelopeLength(), view.metadataLength(),
                                                view.fragmentSize(), now, view.fecScheme(), view.fecBlockLength(),
                                                view.fecParityCount());
      } catch (const std::bad_alloc&) {
        return DropReason::OverCapacity;
      }
      partial = fresh.get();
      partials_.emplace(key, std::move(fresh));
      counters_.partialObjects = partials_.size();
      counters_.partialBytes += charge;
    }
    last_ = partial;
  }
  if (view.envelopeLength() != partial->envelopeLength() || view.metadataLength() != partial->metadataLength() ||
      view.fragmentSize() != partial->fragmentSize() || view.sequence() != partial->sequence() ||
      view.fecScheme() != partial->fecScheme() || view.fecBlockLength() != partial->fecBlockLength() ||
      view.fecParityCount() != partial->fecParityCount()) {
    return DropReason::Inconsistent;
  }
  PartialObject::Stored stored;
  try {
    stored = partial->store(view.index(), view.chunk(), now, &fecDecoder_, &counters_.fec);
  } catch (const std::bad_alloc&) {
    return DropReason::OverCapacity;  // a block's parity buffer (charged, but the allocator refused)
  }
  if (stored == PartialObject::Stored::Duplicate) return DropReason::Duplicate;
  if (stored == PartialObject::Stored::NotNeeded) return std::nullopt;
  if (partial->complete()) {
    const ObjectKey key = partial->key();
    finish(remove(key));
  }
  return std::nullopt;
}

void Reassembler::expire(std::int64_t now) {
  std::vector<ObjectKey> stale;
  for (const auto& [key, partial] : partials_) {
    if (now - partial->lastFragmentAt() >= options_.partialTimeoutMs) stale.push_back(key);
  }
  for (const auto& key : stale) {
    auto partial = remove(key);
    counters_.objectDropped(ObjectDropReason::Expired)++;
    if (events_.onObjectDropped) events_.onObjectDropped(*partial, ObjectDropReason::Expired);
  }
}

std::vector<const PartialObject*> Reassembler::incomplete() const {
  std::vector<const PartialObject*> out;
  for (const auto& [key, partial] : partials_) out.push_back(partial.get());
  return out;
}

std::unique_ptr<PartialObject> Reassembler::remove(const ObjectKey& key) {
  auto it = partials_.find(key);
  if (it == partials_.end()) return nullptr;
  std::unique_ptr<PartialObject> partial = std::move(it->second);
  partials_.erase(it);
  counters_.partialBytes -= partial->chargedBytes();
  counters_.partialObjects = partials_.size();
  if (last_ == partial.get()) last_ = nullptr;
  return partial;
}

void Reassembler::rememberCompleted(const ObjectKey& key) {
  if (!completed_.insert(key).second) return;
  completedOrder_.push_back(key);
  if (completedOrder_.size() > options_.completedMemory) {
    completed_.erase(completedOrder_.front());
    completedOrder_.pop_front();
  }
}

void Reassembler::finish(std::unique_ptr<PartialObject> partial) {
  rememberCompleted(partial->key());
  auto meta = decodeObjectMeta(partial->envelope().first(partial->metadataLength()));
  if (!meta) {
    counters_.objectDropped(ObjectDropReason::BadMetadata)++;
    if (events_.onObjectDropped) events_.onObjectDropped(*partial, ObjectDropReason::BadMetadata);
    return;
  }
  if (partial->payloadMd5() != meta->md5) {
    counters_.objectDropped(ObjectDropReason::Md5Mismatch)++;
    if (events_.onObjectDropped) events_.onObjectDropped(*partial, ObjectDropReason::Md5Mismatch);
    return;
  }
  counters_.objectsCompleted++;
  ReceivedObject object;
  object.id = partial->key().objectId;
  object.senderId = partial->key().senderId;
  object.sequence = partial->sequence();
  object.meta = std::move(*meta);
  object.envelopeLength = static_cast<std::size_t>(partial->envelopeLength());
  object.metadataLength = partial->metadataLength();
  object.envelope = partial->takeEnvelope();
  if (events_.onObject) events_.onObject(std::move(object));
}

// ---- the receiver ----------------------------------------------------------------------------------

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

Receiver::Receiver(NoSocket, ReceiverOptions options, ReceiverEvents events)
    : options_(std::move(options)),
      events_(std::move(events)),
      decoder_(DecodeOptions{options_.keys, options_.maxEnvelopeLength}),
      reassembler_(counters_, events_, options_.reassembly) {}

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
  const std::int64_t every = std::max<std::int64_t>(10, std::min<std::int64_t>(1000, options_.reassembly.partialTimeoutMs / 4));
  if (now - lastExpiry_ >= every) {
    lastExpiry_ = now;
    reassembler_.expire(now);
  }
  return processed;
}

void Receiver::handleDatagram(std::span<const std::uint8_t> datagram, std::int64_t now) {
  counters_.datagrams++;
  counters_.bytes += datagram.size();
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
    case Decoded::Rejected:
      counters_.drop(result.reason)++;
      return;
  }
}

void Receiver::report(const std::optional<SequenceGap>& gap) {
  if (gap && events_.onGap) events_.onGap(*gap);
}

}  // namespace condcast

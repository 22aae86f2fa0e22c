// libFuzzer target for the datagram decoder and reassembly: any input is either decoded or rejected
// with a reason; a decoded fragment views only bytes inside the input; reassembly stays in its bounds.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "condcast/condcast.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

condcast::Receiver& receiver() {
  static condcast::Receiver r = [] {
    condcast::ReceiverOptions options;
    options.reassembly.maxPartialBytes = 8 * 1024 * 1024;
    options.reassembly.maxPartialObjects = 64;
    return condcast::Receiver(condcast::Receiver::NoSocket{}, options, condcast::ReceiverEvents{});
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static condcast::DatagramDecoder open;
  static condcast::DatagramDecoder keyed(condcast::DecodeOptions{
      condcast::KeyRing{{7, std::vector<std::uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}}, 4096});
  const std::span<const std::uint8_t> datagram(data, size);
  for (condcast::DatagramDecoder* decoder : {&open, &keyed}) {
    const condcast::DecodeResult r = decoder->decode(datagram);
    if (r.kind == condcast::Decoded::Fragment) {
      const condcast::FragmentView& f = decoder->fragment();
      check(f.chunk().data() >= data && f.chunk().data() + f.chunk().size() <= data + size);
      check(f.objectId().data() >= data && f.objectId().data() + 16 <= data + size);
      check(f.sequence() >= 1 && f.sequence() <= condcast::kMaxSequence);
      check(f.envelopeLength() >= 1 && f.envelopeLength() <= condcast::kMaxEnvelopeLength);
      check(f.fragmentSize() >= 1 && f.index() < condcast::fragmentCount(f.envelopeLength(), f.fragmentSize()));
      check(std::uint64_t{f.index()} * f.fragmentSize() + f.chunk().size() <= f.envelopeLength());
    }
  }
  condcast::Receiver& r = receiver();
  static std::int64_t now = 0;
  r.handleDatagram(datagram, now++);
  if (now % 1000 == 0) r.expire(now);
  check(r.counters().partialBytes <= 8 * 1024 * 1024);
  check(r.counters().partialObjects <= 64);
  return 0;
}

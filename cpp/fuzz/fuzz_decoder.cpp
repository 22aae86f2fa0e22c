// libFuzzer target for the datagram decoder and reassembly: any input is either decoded or rejected
// with a reason; a decoded fragment views only bytes inside the input and reads exactly what the
// protoc-generated parser reads (a differential check of the hand-written flyweight); reassembly
// stays in its bounds.
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "condcast/condcast.hpp"
#include "condcast/v1/wire.pb.h"
#include "well_formed.hpp"

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
      const std::uint64_t sources = condcast::fragmentCount(f.envelopeLength(), f.fragmentSize());
      check(f.fragmentSize() >= 1 && f.sourceCount() == sources && f.fecScheme() <= 1);
      if (f.index() < sources) {
        check(!f.isParity());
        check(std::uint64_t{f.index()} * f.fragmentSize() + f.chunk().size() <= f.envelopeLength());
      } else {
        // A parity fragment (SPEC 10.2): index < T + N·m, chunk of symbol_size bytes.
        check(f.fecScheme() == 1 && f.isParity() && f.fecBlockLength() >= 1 && f.fecParityCount() >= 1 &&
              f.fecBlockLength() + f.fecParityCount() <= 255);
        const condcast::FecLayout layout =
            condcast::fecLayout(f.sourceCount(), f.fecBlockLength(), f.fecParityCount());
        check(f.index() < layout.totalCount());
        check(f.chunk().size() == std::min<std::uint64_t>(f.fragmentSize(), f.envelopeLength()));
      }
      // Differential: the generated parser reads the same body to the same values.
      const std::size_t bodyEnd = (data[6] & condcast::kFlagAuth) != 0 ? size - condcast::kAuthTrailerLength : size;
      // (protobuf's parser refuses tags over 5 bytes, which the spec accepts: compare canonical forms.)
      std::string canonical;
      check(condcast::isWellFormed({data + condcast::kPreambleLength, bodyEnd - condcast::kPreambleLength},
                                   condcast::v1::Fragment::descriptor(), &canonical));
      condcast::v1::Fragment message;
      check(message.ParseFromString(canonical));
      check(message.sender_id() == f.senderId() && message.sequence() == f.sequence());
      check(message.object_id() == std::string(f.objectId().begin(), f.objectId().end()));
      check(message.envelope_length() == f.envelopeLength() && message.metadata_length() == f.metadataLength());
      check(message.fragment_size() == f.fragmentSize() && message.index() == f.index());
      check(message.fec_scheme() == f.fecScheme() && message.fec_block_length() == f.fecBlockLength() &&
            message.fec_parity_count() == f.fecParityCount());
      check(message.chunk() == std::string(f.chunk().begin(), f.chunk().end()));
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

// The receiver's counters (SPEC 6) and their JSON form.
#include "condcast/counters.hpp"

#include <string>

namespace condcast {

std::uint64_t ReceiverCounters::totalDrops() const noexcept {
  std::uint64_t total = 0;
  for (auto n : drops) total += n;
  return total;
}

std::string ReceiverCounters::toJson() const {
  std::string out = "{\"datagrams\":" + std::to_string(datagrams) + ",\"bytes\":" + std::to_string(bytes) +
                    ",\"fragments\":" + std::to_string(fragments) + ",\"heartbeats\":" + std::to_string(heartbeats) +
                    ",\"lifecycles\":" + std::to_string(lifecycles) + ",\"commits\":" + std::to_string(commits) +
                    ",\"commitCopies\":" + std::to_string(commitCopies) +
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

}  // namespace condcast

#include "well_formed.hpp"

#include "condcast/fragment.hpp"

namespace condcast {

namespace {
using google::protobuf::FieldDescriptor;

unsigned wireTypeOf(const FieldDescriptor* field) {
  switch (field->type()) {
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      return 1;
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      return 5;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
      return 2;
    case FieldDescriptor::TYPE_GROUP:
      return 3;
    default:
      return 0;
  }
}

void appendVarint(std::string* out, std::uint64_t value) {
  std::uint8_t buffer[10];
  const std::uint8_t* end = writeVarint(buffer, value);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(end - buffer));
}

void appendBytes(std::string* out, const std::uint8_t* from, std::size_t n) {
  out->append(reinterpret_cast<const char*>(from), n);
}
}  // namespace

bool isWellFormed(std::span<const std::uint8_t> bytes, const google::protobuf::Descriptor* message,
                  std::string* canonical) {
  const std::uint8_t* pos = bytes.data();
  const std::uint8_t* const end = bytes.data() + bytes.size();
  while (pos < end) {
    std::uint64_t tag;
    const std::uint8_t* const tagStart = pos;
    if (!readVarint(pos, end, tag) || pos - tagStart > kMaxTagLength) return false;
    const std::uint64_t number = tag >> 3;
    const auto wireType = static_cast<unsigned>(tag & 7);
    if (number == 0 || number > kMaxFieldNumber) return false;
    const FieldDescriptor* field = message->FindFieldByNumber(static_cast<int>(number));
    if (field != nullptr && wireTypeOf(field) != wireType) return false;
    if (canonical != nullptr) appendVarint(canonical, tag);
    switch (wireType) {
      case 0: {
        std::uint64_t value;
        if (!readVarint(pos, end, value)) return false;
        if (canonical != nullptr) appendVarint(canonical, value);
        break;
      }
      case 1:
      case 5: {
        const std::size_t n = wireType == 1 ? 8 : 4;
        if (static_cast<std::size_t>(end - pos) < n) return false;
        if (canonical != nullptr) appendBytes(canonical, pos, n);
        pos += n;
        break;
      }
      case 2: {
        std::uint64_t length;
        if (!readVarint(pos, end, length) || length > static_cast<std::uint64_t>(end - pos)) return false;
        const std::span<const std::uint8_t> value(pos, static_cast<std::size_t>(length));
        if (field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE) {
          std::string nested;
          if (!isWellFormed(value, field->message_type(), canonical != nullptr ? &nested : nullptr)) return false;
          if (canonical != nullptr) {
            appendVarint(canonical, nested.size());
            canonical->append(nested);
          }
        } else if (canonical != nullptr) {
          appendVarint(canonical, length);
          appendBytes(canonical, value.data(), value.size());
        }
        pos += length;
        break;
      }
      default:
        return false;  // groups (3, 4) and the undefined wire types 6, 7
    }
  }
  return true;
}

}  // namespace condcast

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
}  // namespace

bool isWellFormed(std::span<const std::uint8_t> bytes, const google::protobuf::Descriptor* message) {
  const std::uint8_t* pos = bytes.data();
  const std::uint8_t* const end = bytes.data() + bytes.size();
  while (pos < end) {
    std::uint64_t tag;
    if (!readVarint(pos, end, tag)) return false;
    const std::uint64_t number = tag >> 3;
    const auto wireType = static_cast<unsigned>(tag & 7);
    if (number == 0 || number > kMaxFieldNumber) return false;
    const FieldDescriptor* field = message->FindFieldByNumber(static_cast<int>(number));
    if (field != nullptr && wireTypeOf(field) != wireType) return false;
    if (field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE) {
      std::uint64_t length;
      if (!readVarint(pos, end, length) || length > static_cast<std::uint64_t>(end - pos)) return false;
      if (!isWellFormed({pos, static_cast<std::size_t>(length)}, field->message_type())) return false;
      pos += length;
    } else if (!skipField(pos, end, wireType)) {
      return false;
    }
  }
  return true;
}

}  // namespace condcast

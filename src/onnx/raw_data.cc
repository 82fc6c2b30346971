#include "onnx/raw_data.h"

namespace qclip {

namespace {

// Field numbers in onnx.proto.
constexpr uint32_t kModelGraph = 7;         // ModelProto.graph
constexpr uint32_t kGraphInitializer = 5;   // GraphProto.initializer
constexpr uint32_t kTensorRawData = 9;      // TensorProto.raw_data
constexpr uint32_t kLengthDelimited = 2;    // wire type of messages and bytes

// A cursor over wire-format bytes [pos, end). Every read checks its bounds.
struct Reader {
  const uint8_t* base;
  size_t pos;
  size_t end;

  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= end) return false;
      const uint8_t byte = base[pos++];
      *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Skips the value of a field of `wire_type` after its tag; for length-delimited fields,
  // [*begin, *end) is the payload.
  bool Skip(uint32_t wire_type, size_t* begin, size_t* payload_end) {
    uint64_t n = 0;
    switch (wire_type) {
      case 0:
        return Varint(&n);
      case 1:
        n = 8;
        break;
      case 5:
        n = 4;
        break;
      case kLengthDelimited:
        if (!Varint(&n)) return false;
        break;
      default:  // groups (3, 4) are not used by onnx.proto
        return false;
    }
    if (n > end - pos) return false;
    *begin = pos;
    pos += static_cast<size_t>(n);
    *payload_end = pos;
    return true;
  }
};

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Copies the message [begin, end) to `out`, recursing into the fields on the path
// Model.graph -> Graph.initializer -> Tensor.raw_data (depth 0, 1, 2) and dropping raw_data.
bool CopyMessage(const uint8_t* data, size_t begin, size_t end, int depth, SplitModel* split,
                 std::string* out) {
  Reader r{data, begin, end};
  while (r.pos < r.end) {
    const size_t field_begin = r.pos;
    uint64_t tag = 0;
    if (!r.Varint(&tag)) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    size_t payload = 0, payload_end = 0;
    if (!r.Skip(wire_type, &payload, &payload_end)) return false;
    const bool length_delimited = wire_type == kLengthDelimited;
    if (depth == 2 && length_delimited && field == kTensorRawData) {
      split->raw_data.back() = {payload, payload_end - payload};  // the last one wins
      continue;
    }
    const bool descend = length_delimited && ((depth == 0 && field == kModelGraph) ||
                                              (depth == 1 && field == kGraphInitializer));
    if (!descend) {
      out->append(reinterpret_cast<const char*>(data + field_begin), r.pos - field_begin);
      continue;
    }
    if (depth == 1) split->raw_data.emplace_back();
    std::string inner;
    if (!CopyMessage(data, payload, payload_end, depth + 1, split, &inner)) return false;
    PutVarint(tag, out);
    PutVarint(inner.size(), out);
    out->append(inner);
  }
  return true;
}

}  // namespace

bool SplitRawData(const uint8_t* data, size_t size, SplitModel* out) {
  out->stripped.clear();
  out->raw_data.clear();
  return CopyMessage(data, 0, size, 0, out, &out->stripped);
}

}  // namespace qclip

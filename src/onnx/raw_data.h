// Loading initializer bytes in place. Protobuf copies every `bytes` field it parses, so parsing a
// 440 MB single-file model copies 440 MB of weights into fresh memory before qclip even looks at
// them. SplitRawData walks the protobuf wire format first and cuts the initializers' raw_data
// out: protobuf then parses only the small remainder, and the loader views the weights where
// they lie in the mapped file, as it does for ONNX external data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qclip {

struct SplitModel {
  std::string stripped;  // the ModelProto without its initializers' raw_data fields
  // Per graph.initializer, in file order: where its raw_data lies in the original bytes
  // (offset, size), or size == SIZE_MAX when it has none.
  struct Span {
    size_t offset = 0;
    size_t size = SIZE_MAX;
  };
  std::vector<Span> raw_data;
};

// Splits `size` bytes of a serialized onnx.ModelProto. Returns false (leaving `out` unspecified)
// when the bytes are not well-formed wire format; the caller then parses them as they are and
// reports protobuf's error.
bool SplitRawData(const uint8_t* data, size_t size, SplitModel* out);

}  // namespace qclip

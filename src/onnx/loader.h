// Reads an ONNX model file into the plain Graph of graph/ir.h.
#pragma once

#include <cstddef>
#include <string>

#include "graph/ir.h"

namespace qclip {

// Float32 initializers of at least this many bytes whose data is misaligned in the mapped file
// (raw_data starts wherever protobuf put it) are viewed there, not copied: they are weights,
// which the packers read at any alignment, so a copy would only fault in fresh memory (most of
// an FP32 model's load time on a VM). Whatever else reads one aligns it first (AlignConstant);
// smaller or other misaligned tensors are copied here, so passes may read them as typed values.
inline constexpr size_t kInPlaceMisalignedBytes = size_t{64} << 10;

// Parses `path` (ModelProto), resolves ONNX external data (mapped, not copied; locations must
// stay inside the model's folder and within the data file), turns initializers and Constant
// nodes into constant values, and sorts the nodes topologically. Every problem with the file
// throws qclip::Error naming the file and, where known, the node or tensor.
Graph LoadOnnxModel(const std::string& path);

// The same from bytes already in memory; external data is looked up relative to `dir`.
Graph ParseOnnxModel(const void* data, size_t size, const std::string& name,
                     const std::string& dir);

}  // namespace qclip

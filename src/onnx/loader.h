// Reads an ONNX model file into the plain Graph of graph/ir.h.
#pragma once

#include <string>

#include "graph/ir.h"

namespace qclip {

// Parses `path` (ModelProto), resolves ONNX external data (mapped, not copied; locations must
// stay inside the model's folder and within the data file), turns initializers and Constant
// nodes into constant values, and sorts the nodes topologically. Every problem with the file
// throws qclip::Error naming the file and, where known, the node or tensor.
Graph LoadOnnxModel(const std::string& path);

// The same from bytes already in memory; external data is looked up relative to `dir`.
Graph ParseOnnxModel(const void* data, size_t size, const std::string& name,
                     const std::string& dir);

}  // namespace qclip

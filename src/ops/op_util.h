// Small helpers shared by the op families: axis normalisation, broadcasting, reading constant
// int tensors, dtype checks. Each throws qclip::Error with a plain message; the graph layer adds
// the node context.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qclip/error.h"
#include "qclip/tensor.h"

namespace qclip {

// Maps axis in [-rank, rank) to [0, rank); throws otherwise.
int NormalizeAxis(int64_t axis, int rank);

// Numpy/ONNX multidirectional broadcasting of two shapes; throws if incompatible.
Shape BroadcastShapes(const Shape& a, const Shape& b);

// Row-major strides of `shape` as the broadcast operand of an output of rank `out_rank`:
// dims of size 1 (and missing leading dims) get stride 0.
std::vector<int64_t> BroadcastStrides(const Shape& shape, int out_rank);

// The values of a constant int32/int64 tensor as int64 (for shape, axes, starts... inputs).
// Throws if `t` is null, has no data (is not constant) or has another dtype; `what` names the
// input in the message ("Reshape's shape input").
std::vector<int64_t> ReadInts(const Tensor* t, const char* what);

// Throws unless t's dtype is one of `allowed`; `what` names the tensor.
void RequireDType(const Tensor& t, std::initializer_list<DType> allowed, const char* what);

// Throws unless in.size() is within [min_inputs, max_inputs] and required inputs are present.
void RequireInputs(const std::vector<const Tensor*>& in, size_t min_inputs, size_t max_inputs);

}  // namespace qclip

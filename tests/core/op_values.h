// Shorthands for op unit tests: build small typed tensors and read outputs back as vectors.
#pragma once

#include <cstdint>
#include <vector>

#include "op_test_util.h"

namespace qclip::test {

inline Tensor F32(Shape shape, const std::vector<float>& v) {
  return MakeTensor<float>(DType::kFloat32, std::move(shape), v);
}
inline Tensor I64(Shape shape, const std::vector<int64_t>& v) {
  return MakeTensor<int64_t>(DType::kInt64, std::move(shape), v);
}
inline Tensor I32(Shape shape, const std::vector<int32_t>& v) {
  return MakeTensor<int32_t>(DType::kInt32, std::move(shape), v);
}
inline Tensor Bool(Shape shape, const std::vector<uint8_t>& v) {
  return MakeTensor<uint8_t>(DType::kBool, std::move(shape), v);
}
// A 1-D int64 tensor, e.g. a shape or axes input.
inline Tensor Ints(const std::vector<int64_t>& v) {
  return I64({static_cast<int64_t>(v.size())}, v);
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

// 0, 1, 2, ... as float32 of `shape`.
inline Tensor Iota(Shape shape) {
  Tensor t(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

// Runs a one-output op whose inputs are all runtime values except those marked constant.
inline Tensor Run1(const std::string& op, std::vector<Tensor> inputs,
                   std::map<std::string, Attribute> attrs = {}, int opset = 18) {
  OpCall c;
  c.op_type = op;
  c.opset = opset;
  c.attrs = std::move(attrs);
  c.inputs = std::move(inputs);
  return RunOp(c)[0];
}

}  // namespace qclip::test

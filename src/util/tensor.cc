#include "qclip/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/aligned_alloc.h"
#include "qclip/error.h"

namespace qclip {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kFloat32:
      return 4;
    case DType::kUInt8:
      return 1;
    case DType::kInt8:
      return 1;
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kBool:
      return 1;
    case DType::kFloat16:
      return 2;
    case DType::kUndefined:
      return 0;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kFloat32:
      return "float32";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kBool:
      return "bool";
    case DType::kFloat16:
      return "float16";
    case DType::kUndefined:
      return "undefined";
  }
  return "unknown";
}

std::string ShapeToString(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t NumElements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error("negative dimension in shape " + ShapeToString(s));
    if (d != 0 && n > INT64_MAX / d) throw Error("shape " + ShapeToString(s) + " overflows int64");
    n *= d;
  }
  return n;
}

namespace {

// Largest tensor we allocate: 16 GiB, far above any BiomedCLIP activation; beyond it a shape
// computed from a hostile file would only exhaust memory. Fuzzing builds set a lower limit
// (QCLIP_MAX_TENSOR_BYTES), so that models asking for huge tensors meet this same check instead
// of the fuzzer's memory and time limits.
#ifndef QCLIP_MAX_TENSOR_BYTES
#define QCLIP_MAX_TENSOR_BYTES (size_t{16} << 30)
#endif
constexpr size_t kMaxTensorBytes = QCLIP_MAX_TENSOR_BYTES;

// "the 16 GiB limit"
std::string LimitText() {
  const bool gib = kMaxTensorBytes % (size_t{1} << 30) == 0;
  return "the " + std::to_string(kMaxTensorBytes >> (gib ? 30 : 20)) + (gib ? " GiB" : " MiB") +
         " limit";
}

std::shared_ptr<void> AllocateAligned(size_t bytes) {
  if (bytes > kMaxTensorBytes) {
    throw Error("tensor of " + std::to_string(bytes) + " bytes exceeds " + LimitText());
  }
  void* p = AllocateAligned64(bytes);
  if (p == nullptr) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  size_ = NumElements(shape_);
  const size_t elem = DTypeSize(dtype_);
  if (elem != 0 && static_cast<uint64_t>(size_) > kMaxTensorBytes / elem) {
    throw Error("tensor " + ShapeToString(shape_) + " of " + DTypeName(dtype_) + " exceeds " +
                LimitText());
  }
  owner_ = AllocateAligned(bytes());
  data_ = owner_.get();
}

Tensor Tensor::View(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.size_ = NumElements(t.shape_);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::Meta(DType dtype, Shape shape) { return View(dtype, std::move(shape), nullptr); }

Tensor Tensor::Clone() const {
  Tensor t(dtype_, shape_);
  if (bytes() != 0) std::memcpy(t.data_, data_, bytes());
  return t;
}

}  // namespace qclip

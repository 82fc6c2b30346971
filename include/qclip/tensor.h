// qclip::Tensor: a dense, row-major, typed n-d array with shared ownership.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qclip {

// Element types. Values match onnx.TensorProto.DataType so conversion is a cast.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
};

size_t DTypeSize(DType t);       // bytes per element; 0 for kUndefined
const char* DTypeName(DType t);  // "float32", "int64", ...

using Shape = std::vector<int64_t>;
std::string ShapeToString(const Shape& s);  // "[2, 197, 768]"

// Number of elements of `s`; throws qclip::Error on negative dims or int64 overflow.
int64_t NumElements(const Shape& s);

// A tensor either owns its buffer (64-byte aligned) or views memory kept alive by `owner`
// (a memory-mapped file, an arena). Copying a Tensor copies the reference, not the data.
// A Tensor with a null data pointer describes dtype and shape only (used while planning).
class Tensor {
 public:
  Tensor() = default;
  // Allocates an uninitialised buffer for `shape`.
  Tensor(DType dtype, Shape shape);
  // A view of `data`; `owner` (may be null) keeps it alive.
  static Tensor View(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner = {});
  // Describes dtype and shape without data.
  static Tensor Meta(DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t size() const { return size_; }  // number of elements
  size_t bytes() const { return static_cast<size_t>(size_) * DTypeSize(dtype_); }
  bool has_data() const { return data_ != nullptr || size_ == 0; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }

  // Deep copy into an owned buffer.
  Tensor Clone() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t size_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

}  // namespace qclip

// The Gather family: Gather, GatherElements, GatherND. Data of any dtype, indices int32/int64,
// negative indices count from the end of their axis.
//
// Out-of-range indices are an error in ONNX. When the indices are constant Infer throws; indices
// only known at run time cannot make Run throw, so an out-of-range index yields zeros in its
// output slot instead of reading outside the data.
#include <cstring>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"

namespace qclip {
namespace {

// Index i of an axis of `size`, or -1 if it is out of range; negatives count from the end.
int64_t ResolveIndex(int64_t i, int64_t size) {
  if (i < 0) i += size;
  return i >= 0 && i < size ? i : -1;
}

// Reads element i of an int32 or int64 indices tensor.
int64_t IndexAt(const Tensor& indices, int64_t i) {
  return indices.dtype() == DType::kInt64 ? indices.data<int64_t>()[i] : indices.data<int32_t>()[i];
}

// Throws if constant `indices` has a value out of range: index i addresses an axis of size
// axis_sizes[i % axis_sizes.size()] (one size for Gather, the k indexed dims for GatherND).
void CheckConstantIndices(const Tensor& indices, const Shape& axis_sizes) {
  if (!indices.has_data()) return;
  for (int64_t i = 0; i < indices.size(); ++i) {
    const int64_t size = axis_sizes[static_cast<size_t>(i) % axis_sizes.size()];
    if (ResolveIndex(IndexAt(indices, i), size) < 0) {
      throw Error("index " + std::to_string(IndexAt(indices, i)) +
                  " is out of range for an axis of size " + std::to_string(size));
    }
  }
}

void RequireIndices(const Tensor& indices) {
  RequireDType(indices, {DType::kInt32, DType::kInt64}, "indices");
}

// Copies `bytes` from src to dst, or zeroes dst when src is null (an out-of-range index).
void CopyOrZero(const char* src, char* dst, size_t bytes) {
  if (src != nullptr) {
    std::memcpy(dst, src, bytes);
  } else {
    std::memset(dst, 0, bytes);
  }
}

// Gather: out = data[:axis] x indices x data[axis+1:]; each index picks a slab of the inner dims.
class GatherKernel final : public OpKernel {
 public:
  explicit GatherKernel(const KernelInit& init) : axis_(init.node.GetInt("axis", 0)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    RequireIndices(*in[1]);
    const Shape& data = in[0]->shape();
    const size_t axis = static_cast<size_t>(NormalizeAxis(axis_, in[0]->rank()));
    CheckConstantIndices(*in[1], {data[axis]});
    Shape shape(data.begin(), data.begin() + axis);
    shape.insert(shape.end(), in[1]->shape().begin(), in[1]->shape().end());
    shape.insert(shape.end(), data.begin() + axis + 1, data.end());
    (*out)[0] = Tensor::Meta(in[0]->dtype(), shape);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& data = *in[0];
    const Tensor& indices = *in[1];
    const size_t axis = static_cast<size_t>(NormalizeAxis(axis_, data.rank()));
    const int64_t axis_size = data.shape()[axis];
    const int64_t inner = DimProduct(data.shape(), axis + 1, data.shape().size());
    const size_t slab = static_cast<size_t>(inner) * DTypeSize(data.dtype());
    const int64_t n = indices.size();
    const char* src = static_cast<const char*>(data.raw());
    char* dst = static_cast<char*>(out[0]->raw());
    // One item per (outer index, index) pair: a slab of `inner` elements.
    const int64_t items = DimProduct(data.shape(), 0, axis) * n;
    ParallelChunks(*ctx.pool, items, kParallelChunk / std::max<int64_t>(inner, 1),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t item = begin; item < end; ++item) {
                       const int64_t outer = item / n;
                       const int64_t i = ResolveIndex(IndexAt(indices, item % n), axis_size);
                       const char* from =
                           i < 0 ? nullptr
                                 : src + (outer * axis_size + i) * static_cast<int64_t>(slab);
                       CopyOrZero(from, dst + item * static_cast<int64_t>(slab), slab);
                     }
                   });
  }

 private:
  int64_t axis_;
};

// GatherElements: out[i_0, ..., i_n] = data[i_0, ..., indices[i_0, ..., i_n], ..., i_n] with the
// index replacing coordinate `axis`; the output has the indices' shape.
class GatherElementsKernel final : public OpKernel {
 public:
  explicit GatherElementsKernel(const KernelInit& init) : axis_(init.node.GetInt("axis", 0)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    RequireIndices(*in[1]);
    const Tensor& data = *in[0];
    const Tensor& indices = *in[1];
    const int axis = NormalizeAxis(axis_, data.rank());
    bool fits = indices.rank() == data.rank();
    for (int d = 0; d < data.rank() && fits; ++d) fits = d == axis || indices.dim(d) <= data.dim(d);
    if (!fits) {
      throw Error("indices " + ShapeToString(indices.shape()) + " do not fit data " +
                  ShapeToString(data.shape()) + " for axis " + std::to_string(axis));
    }
    CheckConstantIndices(indices, {data.dim(axis)});
    (*out)[0] = Tensor::Meta(data.dtype(), indices.shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    VisitBits(DTypeSize(in[0]->dtype()),
              [&](auto zero) { RunTyped<decltype(zero)>(*in[0], *in[1], *out[0], ctx); });
  }

 private:
  // Walks the indices' shape with two operands: the data (stride 0 along `axis`, the index adds
  // it) and the indices themselves.
  template <typename T>
  void RunTyped(const Tensor& data, const Tensor& indices, Tensor& out, RunContext& ctx) const {
    const int axis = NormalizeAxis(axis_, data.rank());
    std::vector<int64_t> data_strides = DenseStrides(data.shape());
    const int64_t axis_stride = data_strides[static_cast<size_t>(axis)];
    const int64_t axis_size = data.dim(axis);
    data_strides[static_cast<size_t>(axis)] = 0;
    const StridedLoop loop =
        MakeStridedLoop(indices.shape(), {data_strides, DenseStrides(indices.shape())});
    const T* src = data.data<T>();
    T* dst = out.data<T>();
    ForEachRun(loop, *ctx.pool, [&](const int64_t* offsets, int64_t out_offset, int64_t n) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t i =
            ResolveIndex(IndexAt(indices, offsets[1] + j * loop.inner_stride[1]), axis_size);
        dst[out_offset + j] =
            i < 0 ? T{0} : src[offsets[0] + j * loop.inner_stride[0] + i * axis_stride];
      }
    });
  }

  int64_t axis_;
};

// GatherND with batch_dims b: the last indices dim (k) holds coordinates into data dims
// [b, b + k); each tuple picks the slab of data dims [b + k, rank).
// out shape = indices.shape[:-1] + data.shape[b + k:].
class GatherNDKernel final : public OpKernel {
 public:
  explicit GatherNDKernel(const KernelInit& init)
      : batch_dims_(init.node.GetInt("batch_dims", 0)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    RequireIndices(*in[1]);
    const Shape& data = in[0]->shape();
    const Shape& indices = in[1]->shape();
    const int64_t b = batch_dims_;
    if (indices.empty() || b < 0 ||
        b >= static_cast<int64_t>(std::min(data.size(), indices.size()))) {
      throw Error("batch_dims " + std::to_string(b) + " does not fit data " + ShapeToString(data) +
                  " and indices " + ShapeToString(indices));
    }
    const int64_t k = indices.back();
    if (k < 1 || b + k > static_cast<int64_t>(data.size()) ||
        !std::equal(data.begin(), data.begin() + b, indices.begin())) {
      throw Error("indices " + ShapeToString(indices) + " do not index data " +
                  ShapeToString(data) + " with batch_dims " + std::to_string(b));
    }
    CheckConstantIndices(*in[1], Shape(data.begin() + b, data.begin() + b + k));
    Shape shape(indices.begin(), indices.end() - 1);
    shape.insert(shape.end(), data.begin() + b + k, data.end());
    (*out)[0] = Tensor::Meta(in[0]->dtype(), shape);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& data = *in[0];
    const Tensor& indices = *in[1];
    const size_t b = static_cast<size_t>(batch_dims_);
    const int64_t k = indices.shape().back();
    const std::vector<int64_t> strides = DenseStrides(data.shape());
    const int64_t batch_size = DimProduct(data.shape(), b, data.shape().size());
    const int64_t tuples_per_batch = DimProduct(indices.shape(), b, indices.shape().size() - 1);
    const int64_t slab = DimProduct(data.shape(), b + static_cast<size_t>(k), data.shape().size());
    const size_t elem = DTypeSize(data.dtype());
    const size_t slab_bytes = static_cast<size_t>(slab) * elem;
    const char* src = static_cast<const char*>(data.raw());
    char* dst = static_cast<char*>(out[0]->raw());
    const int64_t tuples = indices.size() / k;
    ParallelChunks(
        *ctx.pool, tuples, kParallelChunk / std::max<int64_t>(slab, 1),
        [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t) {
            int64_t offset = t / tuples_per_batch * batch_size;
            for (int64_t j = 0; j < k && offset >= 0; ++j) {
              const size_t d = b + static_cast<size_t>(j);
              const int64_t i = ResolveIndex(IndexAt(indices, t * k + j), data.shape()[d]);
              offset = i < 0 ? -1 : offset + i * strides[d];
            }
            const char* from = offset < 0 ? nullptr : src + offset * static_cast<int64_t>(elem);
            CopyOrZero(from, dst + t * static_cast<int64_t>(slab_bytes), slab_bytes);
          }
        });
  }

 private:
  int64_t batch_dims_;
};

}  // namespace

void RegisterGatherOps(OpRegistry& r) {
  r.Add({"", "Gather", 1, &MakeKernel<GatherKernel>});
  r.Add({"", "GatherElements", 11, &MakeKernel<GatherElementsKernel>});
  r.Add({"", "GatherND", 11, &MakeKernel<GatherNDKernel>});
}

}  // namespace qclip

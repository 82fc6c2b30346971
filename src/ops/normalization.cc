// LayerNormalization and Softmax on float32, over kernels/norm.
//
// LayerNormalization-17: X is viewed as [outer, inner] with inner = prod(X.shape[axis:]); every
// row is normalised on its own (mean, biased variance, 1 / sqrt(var + epsilon)), then scaled by
// Scale and shifted by B, both broadcast to X.shape[axis:]. The optional outputs Mean and
// InvStdDev have shape X.shape[:axis] + [1] * (rank - axis). stash_type asks for the precision
// of the statistics: qclip computes them in float32 (stash_type 1, the default, and what every
// exporter writes).
//
// qclip.AddLayerNorm (FuseAddLayerNorm): the sum of two tensors and its LayerNormalization over
// the last axis, in one pass where their shapes are equal.
//
// Softmax-13 normalises along one axis (default -1). Softmax-1/11 flatten X to 2-D at `axis`
// (default 1) and normalise each row of that matrix.
//
// Rows are spread over the pool in fixed chunks, so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "kernels/norm.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

// Rows per task: about kParallelChunk elements.
int64_t RowsPerTask(int64_t cols) {
  return std::max<int64_t>(1, kParallelChunk / std::max<int64_t>(cols, 1));
}

// Scale (in[first]) and the optional B (in[first + 1]): float32, broadcast to `normalized`.
void CheckLayerNormParams(const std::vector<const Tensor*>& in, size_t first,
                          const Shape& normalized) {
  for (size_t i = first; i < in.size(); ++i) {
    if (in[i] == nullptr) continue;
    const char* what = i == first ? "LayerNormalization's Scale" : "LayerNormalization's B";
    RequireDType(*in[i], {DType::kFloat32}, what);
    const Shape& shape = in[i]->shape();
    bool fits = shape.size() <= normalized.size();
    for (size_t d = 0; fits && d < shape.size(); ++d) {
      const int64_t want = normalized[normalized.size() - shape.size() + d];
      fits = shape[d] == 1 || shape[d] == want;
    }
    if (!fits) {
      throw Error(std::string(what) + " " + ShapeToString(in[i]->shape()) +
                  " does not broadcast to the normalized shape " + ShapeToString(normalized));
    }
  }
}

// t's values as a dense row of the normalized shape, dims [axis, rank) of `shape`: t itself when
// it already is one (no allocation: the case of exported models), else broadcast into *storage.
// nullptr for an omitted input.
const float* FullRow(const Tensor* t, const Shape& shape, int axis, std::vector<float>* storage) {
  if (t == nullptr) return nullptr;
  const int64_t n = DimProduct(shape, static_cast<size_t>(axis), shape.size());
  if (t->size() == n) return t->data<float>();
  const Shape normalized(shape.begin() + axis, shape.end());
  const int rank = static_cast<int>(normalized.size());
  const std::vector<int64_t> strides = BroadcastStrides(t->shape(), rank);
  storage->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t offset = 0;
    for (int64_t d = rank - 1, rest = i; d >= 0; --d) {
      offset += rest % normalized[d] * strides[d];
      rest /= normalized[d];
    }
    (*storage)[i] = t->data<float>()[offset];
  }
  return storage->data();
}

class LayerNormKernel final : public OpKernel {
 public:
  explicit LayerNormKernel(const KernelInit& init)
      : axis_(init.node.GetInt("axis", -1)), epsilon_(init.node.GetFloat("epsilon", 1e-5f)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 3);
    RequireDType(*in[0], {DType::kFloat32}, "LayerNormalization's X");
    const Shape& x = in[0]->shape();
    const int axis = NormalizeAxis(axis_, static_cast<int>(x.size()));
    CheckLayerNormParams(in, 1, Shape(x.begin() + axis, x.end()));
    (*out)[0] = Tensor::Meta(DType::kFloat32, x);
    Shape stats(x.begin(), x.begin() + axis);
    stats.resize(x.size(), 1);
    for (size_t i = 1; i < out->size(); ++i) (*out)[i] = Tensor::Meta(DType::kFloat32, stats);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Shape& shape = in[0]->shape();
    const int axis = NormalizeAxis(axis_, static_cast<int>(shape.size()));
    const int64_t cols = DimProduct(shape, static_cast<size_t>(axis), shape.size());
    const int64_t rows = cols == 0 ? 0 : in[0]->size() / cols;
    // Scale and B as full rows; a copy only when they are broadcast (never in exported models).
    std::vector<float> scale_row, bias_row;
    const float* scale = FullRow(in[1], shape, axis, &scale_row);
    const float* bias = FullRow(in.size() > 2 ? in[2] : nullptr, shape, axis, &bias_row);
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    float* mean = out.size() > 1 && out[1] != nullptr ? out[1]->data<float>() : nullptr;
    float* inv_std_dev = out.size() > 2 && out[2] != nullptr ? out[2]->data<float>() : nullptr;
    ParallelChunks(*ctx.pool, rows, RowsPerTask(cols), [&](int64_t begin, int64_t end) {
      LayerNormF32(x + begin * cols, scale, bias, static_cast<size_t>(end - begin),
                   static_cast<size_t>(cols), epsilon_, y + begin * cols,
                   mean != nullptr ? mean + begin : nullptr,
                   inv_std_dev != nullptr ? inv_std_dev + begin : nullptr);
    });
  }

 private:
  int64_t axis_;
  float epsilon_;
};

// qclip.AddLayerNorm (FuseAddLayerNorm, src/graph/passes.h): inputs A, B (float32, broadcast as
// by Add-7+), Scale and optional B of LayerNormalization over the last axis; attribute epsilon;
// outputs Y = LayerNormalization(Sum) and Sum = A + B, the same bits as the two nodes. With A
// and B of one shape each row is added and normalised in one pass (AddLayerNormF32); else the
// sum is made first.
class AddLayerNormKernel final : public OpKernel {
 public:
  explicit AddLayerNormKernel(const KernelInit& init)
      : epsilon_(init.node.GetFloat("epsilon", 1e-5f)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 3, 4);
    RequireDType(*in[0], {DType::kFloat32}, "AddLayerNorm's A");
    RequireDType(*in[1], {DType::kFloat32}, "AddLayerNorm's B");
    const Shape sum = BroadcastShapes(in[0]->shape(), in[1]->shape());
    if (sum.empty()) throw Error("AddLayerNorm needs a sum of rank >= 1, got a scalar");
    CheckLayerNormParams(in, 2, Shape{sum.back()});
    for (Tensor& t : *out) t = Tensor::Meta(DType::kFloat32, sum);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    Tensor& sum = *out[1];
    const int64_t cols = sum.shape().back();
    const int64_t rows = cols == 0 ? 0 : sum.size() / cols;
    std::vector<float> scale_row, bias_row;
    const int last = sum.rank() - 1;
    const float* scale = FullRow(in[2], sum.shape(), last, &scale_row);
    const float* bias = FullRow(in.size() > 3 ? in[3] : nullptr, sum.shape(), last, &bias_row);
    float* y = out[0]->data<float>();
    float* s = sum.data<float>();
    if (a.shape() == b.shape()) {
      const float* pa = a.data<float>();
      const float* pb = b.data<float>();
      ParallelChunks(*ctx.pool, rows, RowsPerTask(cols), [&](int64_t begin, int64_t end) {
        const int64_t first = begin * cols;
        AddLayerNormF32(pa + first, pb + first, scale, bias, static_cast<size_t>(end - begin),
                        static_cast<size_t>(cols), epsilon_, s + first, y + first);
      });
      return;
    }
    const StridedLoop loop = MakeBroadcastLoop(sum.shape(), {&a.shape(), &b.shape()});
    ForEachRun(loop, *ctx.pool, [&](const int64_t* offsets, int64_t out_offset, int64_t n) {
      const float* pa = a.data<float>() + offsets[0];
      const float* pb = b.data<float>() + offsets[1];
      for (int64_t i = 0; i < n; ++i) {
        s[out_offset + i] = pa[i * loop.inner_stride[0]] + pb[i * loop.inner_stride[1]];
      }
    });
    ParallelChunks(*ctx.pool, rows, RowsPerTask(cols), [&](int64_t begin, int64_t end) {
      LayerNormF32(s + begin * cols, scale, bias, static_cast<size_t>(end - begin),
                   static_cast<size_t>(cols), epsilon_, y + begin * cols, nullptr, nullptr);
    });
  }

 private:
  float epsilon_;
};

class SoftmaxKernel final : public OpKernel {
 public:
  explicit SoftmaxKernel(const KernelInit& init)
      : flatten_(init.since_version < 13),
        axis_(init.node.GetInt("axis", init.since_version < 13 ? 1 : -1)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kFloat32}, "Softmax's input");
    NormalizeAxis(axis_, in[0]->rank());
    (*out)[0] = Tensor::Meta(DType::kFloat32, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    // X as [outer, len, inner]: softmax over len, elements of one softmax `inner` apart.
    const Shape& shape = in[0]->shape();
    const int axis = NormalizeAxis(axis_, static_cast<int>(shape.size()));
    const int64_t len = flatten_ ? NumElements(Shape(shape.begin() + axis, shape.end()))
                                 : shape[static_cast<size_t>(axis)];
    const int64_t inner = flatten_ ? 1 : NumElements(Shape(shape.begin() + axis + 1, shape.end()));
    const int64_t outer = len * inner == 0 ? 0 : in[0]->size() / (len * inner);
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    if (inner == 1) {  // the last axis: contiguous rows
      ParallelChunks(*ctx.pool, outer, RowsPerTask(len), [&](int64_t begin, int64_t end) {
        SoftmaxF32(x + begin * len, static_cast<size_t>(end - begin), static_cast<size_t>(len),
                   y + begin * len);
      });
      return;
    }
    // Another axis: gather each strided row into a buffer, normalise it, scatter it back.
    ParallelChunks(*ctx.pool, outer * inner, RowsPerTask(len), [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(len));
      for (int64_t r = begin; r < end; ++r) {
        const int64_t start = r / inner * len * inner + r % inner;
        for (int64_t i = 0; i < len; ++i) row[i] = x[start + i * inner];
        SoftmaxF32(row.data(), 1, static_cast<size_t>(len), row.data());
        for (int64_t i = 0; i < len; ++i) y[start + i * inner] = row[i];
      }
    });
  }

 private:
  bool flatten_;  // Softmax-1/11: normalise X.shape[axis:] as one row
  int64_t axis_;
};

}  // namespace

void RegisterNormalizationOps(OpRegistry& r) {
  r.Add({"", "LayerNormalization", 17, &MakeKernel<LayerNormKernel>});
  r.Add({"qclip", "AddLayerNorm", 1, &MakeKernel<AddLayerNormKernel>});
  r.Add({"", "Softmax", 1, &MakeKernel<SoftmaxKernel>});
  r.Add({"", "Softmax", 13, &MakeKernel<SoftmaxKernel>});
}

}  // namespace qclip

// The ONNX quantization ops: DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear,
// MatMulInteger and ConvInteger, plus the fused qclip.QuantizedLinear (quantized_linear.cc).
// The int8 products run on the packed-weight GEMM of quantized_linear.h; quantization uses
// ORT's arithmetic (kernels/quantize.h) so outputs match ORT bit for bit.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/quantize.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/quantized_linear.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

// True when node input i is given (it may still be a runtime value).
bool HasInput(const KernelInit& init, size_t i) {
  return i < init.node.inputs.size() && init.node.inputs[i] >= 0;
}

const Tensor* Optional(const std::vector<const Tensor*>& in, size_t i) {
  return i < in.size() ? in[i] : nullptr;
}

// Throws unless the optional zero point `zp` has the dtype of the tensor it belongs to.
void RequireZeroPointDType(const Tensor* zp, const Tensor& of, const char* what) {
  if (zp != nullptr && zp->dtype() != of.dtype()) {
    throw Error(std::string(what) + " has dtype " + DTypeName(zp->dtype()) + ", expected " +
                DTypeName(of.dtype()));
  }
}

// An int8 tensor's data as uint8 (x + 128) into u, and its zero points shifted alike, so that
// the differences x - zp are unchanged: the GEMM takes unsigned activations.
void ShiftToUnsigned(const int8_t* x, size_t n, int32_t* zps, size_t n_zps, uint8_t* u) {
  for (size_t i = 0; i < n; ++i) u[i] = static_cast<uint8_t>(x[i]) ^ 0x80;
  for (size_t i = 0; i < n_zps; ++i) zps[i] += 128;
}

// ------------------------------ DynamicQuantizeLinear

// y, y_scale, y_zero_point = DynamicQuantizeLinear(x): uint8, parameters from x's range.
class DynamicQuantizeLinearKernel final : public OpKernel {
 public:
  explicit DynamicQuantizeLinearKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kFloat32}, "x");
    (*out)[0] = Tensor::Meta(DType::kUInt8, in[0]->shape());
    if (out->size() > 1) (*out)[1] = Tensor::Meta(DType::kFloat32, {});
    if (out->size() > 2) (*out)[2] = Tensor::Meta(DType::kUInt8, {});
  }

  size_t ScratchBytes(const std::vector<const Tensor*>& in, int) const override {
    return DynamicQuantizeRanges(static_cast<size_t>(in[0]->size())) * sizeof(float);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& x = *in[0];
    const QuantParams p =
        DynamicQuantize(x.data<float>(), static_cast<size_t>(x.size()), *ctx.pool,
                        out[0]->data<uint8_t>(), static_cast<float*>(ctx.scratch));
    if (out.size() > 1 && out[1] != nullptr) out[1]->data<float>()[0] = p.scale;
    if (out.size() > 2 && out[2] != nullptr) {
      out[2]->data<uint8_t>()[0] = static_cast<uint8_t>(p.zero_point);
    }
  }
};

// ------------------------------ QuantizeLinear, DequantizeLinear

// How a scale (and zero point) of size 1 or x.shape[axis] maps onto x: x is cut into runs of
// `inner` elements (the last may be shorter), run r using parameter r % count.
struct ParamLayout {
  int64_t size = 0;   // elements of x
  int64_t inner = 1;  // elements per run
  int64_t count = 1;  // number of parameters
};

ParamLayout MakeParamLayout(const Tensor& x, const Tensor& scale, int64_t axis_attr,
                            int since_version) {
  ParamLayout l;
  l.size = x.size();
  const int64_t size = scale.size();
  if (size == 1 && scale.rank() <= 1) {  // per tensor: runs are just work chunks
    l.inner = kParallelChunk;
    return l;
  }
  if (since_version < 13 || scale.rank() != 1) {
    throw Error("scale has shape " + ShapeToString(scale.shape()) +
                (since_version < 13 ? ", expected a scalar" : ", expected a scalar or 1-D"));
  }
  const int axis = NormalizeAxis(axis_attr, x.rank());
  if (x.dim(axis) != size) {
    throw Error("scale has " + std::to_string(size) + " values but axis " + std::to_string(axis) +
                " of x has " + std::to_string(x.dim(axis)));
  }
  l.count = size;
  for (int d = axis + 1; d < x.rank(); ++d) l.inner *= x.dim(d);
  return l;
}

// Calls fn(begin, n, parameter index) for every run, in fixed chunks over the pool.
template <typename Fn>
void ForEachRunOf(const ParamLayout& l, ThreadPool& pool, const Fn& fn) {
  if (l.inner == 0) return;
  const int64_t runs = (l.size + l.inner - 1) / l.inner;
  ParallelChunks(pool, runs, std::max<int64_t>(1, kParallelChunk / l.inner),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t run = begin; run < end; ++run) {
                     const int64_t first = run * l.inner;
                     fn(first, std::min(l.inner, l.size - first), run % l.count);
                   }
                 });
}

void CheckScaleAndZeroPoint(const std::vector<const Tensor*>& in, const Tensor& x, int64_t axis,
                            int since_version) {
  RequireDType(*in[1], {DType::kFloat32}, "scale");
  MakeParamLayout(x, *in[1], axis, since_version);
  const Tensor* zp = Optional(in, 2);
  if (zp != nullptr && zp->size() != in[1]->size()) {
    throw Error("zero point shape " + ShapeToString(zp->shape()) + " differs from scale shape " +
                ShapeToString(in[1]->shape()));
  }
}

// y = saturate(round_half_even(x / scale) + zero_point); uint8 unless the zero point is int8.
class QuantizeLinearKernel final : public OpKernel {
 public:
  explicit QuantizeLinearKernel(const KernelInit& init)
      : axis_(init.node.GetInt("axis", 1)), since_version_(init.since_version) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 3);
    RequireDType(*in[0], {DType::kFloat32}, "x");
    CheckScaleAndZeroPoint(in, *in[0], axis_, since_version_);
    const Tensor* zp = Optional(in, 2);
    if (zp != nullptr) RequireDType(*zp, {DType::kUInt8, DType::kInt8}, "y_zero_point");
    (*out)[0] = Tensor::Meta(zp != nullptr ? zp->dtype() : DType::kUInt8, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& x = *in[0];
    const ParamLayout l = MakeParamLayout(x, *in[1], axis_, since_version_);
    const std::vector<int32_t> zps =
        ReadZeroPoints(Optional(in, 2), static_cast<size_t>(l.count), "y_zero_point");
    const float* scales = in[1]->data<float>();
    Tensor& y = *out[0];
    ForEachRunOf(l, *ctx.pool, [&](int64_t begin, int64_t n, int64_t p) {
      const float* from = x.data<float>() + begin;
      if (y.dtype() == DType::kInt8) {
        QuantizeS8(from, static_cast<size_t>(n), scales[p], zps[p], y.data<int8_t>() + begin);
      } else {
        QuantizeU8(from, static_cast<size_t>(n), scales[p], zps[p], y.data<uint8_t>() + begin);
      }
    });
  }

 private:
  int64_t axis_;
  int since_version_;
};

// y = float(x - zero_point) * scale, as ORT computes it: the difference in int32, then one
// float multiply.
class DequantizeLinearKernel final : public OpKernel {
 public:
  explicit DequantizeLinearKernel(const KernelInit& init)
      : axis_(init.node.GetInt("axis", 1)), since_version_(init.since_version) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 3);
    RequireDType(*in[0], {DType::kInt8, DType::kUInt8, DType::kInt32}, "x");
    CheckScaleAndZeroPoint(in, *in[0], axis_, since_version_);
    RequireZeroPointDType(Optional(in, 2), *in[0], "x_zero_point");
    (*out)[0] = Tensor::Meta(DType::kFloat32, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& x = *in[0];
    const ParamLayout l = MakeParamLayout(x, *in[1], axis_, since_version_);
    const Tensor* zp = Optional(in, 2);
    std::vector<int32_t> zps(static_cast<size_t>(l.count), 0);
    if (zp != nullptr && x.dtype() == DType::kInt32) {
      std::copy(zp->data<int32_t>(), zp->data<int32_t>() + l.count, zps.begin());
    } else {
      zps = ReadZeroPoints(zp, static_cast<size_t>(l.count), "x_zero_point");
    }
    const float* scales = in[1]->data<float>();
    float* y = out[0]->data<float>();
    ForEachRunOf(l, *ctx.pool, [&](int64_t begin, int64_t n, int64_t p) {
      const auto dequantize = [&](const auto* from) {
        for (int64_t i = begin; i < begin + n; ++i) {
          y[i] = static_cast<float>(static_cast<int32_t>(from[i]) - zps[p]) * scales[p];
        }
      };
      if (x.dtype() == DType::kInt8) dequantize(x.data<int8_t>());
      if (x.dtype() == DType::kUInt8) dequantize(x.data<uint8_t>());
      if (x.dtype() == DType::kInt32) dequantize(x.data<int32_t>());
    });
  }

 private:
  int64_t axis_;
  int since_version_;
};

// ------------------------------ MatMulInteger

// numpy matmul shapes: A [..., M, K] x B [..., K, N] -> [..., M, N], batch dims broadcast; a
// 1-D A is a row [1, K] and a 1-D B a column [K, 1], their unit dim dropped from the output.
struct MatMulShape final : OpState {
  int64_t M = 0, K = 0, N = 0;
  Shape out;
  int64_t batches = 1;
  std::vector<int64_t> a_batch, b_batch;  // per output batch: the A / B matrix index
};

MatMulShape MakeMatMulShape(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) throw Error("MatMulInteger inputs must have rank >= 1");
  const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  MatMulShape s;
  s.M = a2[a2.size() - 2];
  s.K = a2.back();
  s.N = b2.back();
  if (b2[b2.size() - 2] != s.K) {
    throw Error("A " + ShapeToString(a) + " and B " + ShapeToString(b) + " do not multiply");
  }
  const Shape a_batch(a2.begin(), a2.end() - 2), b_batch(b2.begin(), b2.end() - 2);
  const Shape batch = BroadcastShapes(a_batch, b_batch);
  s.out = batch;
  if (a.size() > 1) s.out.push_back(s.M);
  if (b.size() > 1) s.out.push_back(s.N);
  s.batches = NumElements(batch);
  const int rank = static_cast<int>(batch.size());
  const std::vector<int64_t> a_strides = BroadcastStrides(a_batch, rank);
  const std::vector<int64_t> b_strides = BroadcastStrides(b_batch, rank);
  for (int64_t i = 0; i < s.batches; ++i) {
    int64_t rest = i, a_index = 0, b_index = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t coord = rest % batch[static_cast<size_t>(d)];
      rest /= batch[static_cast<size_t>(d)];
      a_index += coord * a_strides[static_cast<size_t>(d)];
      b_index += coord * b_strides[static_cast<size_t>(d)];
    }
    s.a_batch.push_back(a_index);
    s.b_batch.push_back(b_index);
  }
  return s;
}

// Y = (A - a_zero_point) (B - b_zero_point) in int32. a_zero_point: scalar or per row [M];
// b_zero_point: scalar or per column [N]. A constant 2-D B is packed once at load.
class MatMulIntegerKernel final : public OpKernel {
 public:
  explicit MatMulIntegerKernel(const KernelInit& init) {
    const Tensor* b = init.constants.size() > 1 ? init.constants[1] : nullptr;
    const Tensor* b_zp = init.constants.size() > 3 ? init.constants[3] : nullptr;
    if (b == nullptr || b->rank() != 2 || (HasInput(init, 3) && b_zp == nullptr)) return;
    RequireDType(*b, {DType::kInt8, DType::kUInt8}, "B");
    RequireZeroPointDType(b_zp, *b, "b_zero_point");
    const size_t K = static_cast<size_t>(b->dim(0)), N = static_cast<size_t>(b->dim(1));
    packed_b_ =
        QuantizedWeights::Pack(b->dtype(), b->raw(), K, N, N, 1,
                               ReadZeroPoints(b_zp, N, "b_zero_point"), false, init.weights);
    packed_at_load_ = true;
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 4);
    RequireDType(*in[0], {DType::kInt8, DType::kUInt8}, "A");
    RequireDType(*in[1], {DType::kInt8, DType::kUInt8}, "B");
    RequireZeroPointDType(Optional(in, 2), *in[0], "a_zero_point");
    RequireZeroPointDType(Optional(in, 3), *in[1], "b_zero_point");
    const MatMulShape s = MakeMatMulShape(in[0]->shape(), in[1]->shape());
    CheckZeroPointSize(Optional(in, 2), s.M, "a_zero_point");
    CheckZeroPointSize(Optional(in, 3), s.N, "b_zero_point");
    (*out)[0] = Tensor::Meta(DType::kInt32, s.out);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return std::make_shared<MatMulShape>(MakeMatMulShape(in[0]->shape(), in[1]->shape()));
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    const MatMulShape& s = PreparedState<MatMulShape>(ctx);
    const size_t M = static_cast<size_t>(s.M), K = static_cast<size_t>(s.K),
                 N = static_cast<size_t>(s.N);
    int32_t* y = out[0]->data<int32_t>();
    if (s.K == 0 || M * N == 0) {  // empty sums, or nothing to compute
      std::fill(y, y + out[0]->size(), 0);
      return;
    }
    ScratchCarver carver(ctx.scratch);
    const Scratch scratch = Carve(carver, a, M);
    ReadZeroPoints(Optional(in, 2), M, "a_zero_point", scratch.a_zps);
    const uint8_t* a_data = a.data<uint8_t>();
    if (a.dtype() == DType::kInt8) {
      ShiftToUnsigned(a.data<int8_t>(), static_cast<size_t>(a.size()), scratch.a_zps, M,
                      scratch.a_shifted);
      a_data = scratch.a_shifted;
    }
    // Each distinct B matrix packed once, unless packed at load.
    std::vector<QuantizedWeights> packed;
    if (!packed_at_load_) {
      const std::vector<int32_t> b_zps = ReadZeroPoints(Optional(in, 3), N, "b_zero_point");
      for (int64_t i = 0; i * s.K * s.N < b.size(); ++i) {
        const char* data = static_cast<const char*>(b.raw()) + i * s.K * s.N;
        packed.push_back(QuantizedWeights::Pack(b.dtype(), data, K, N, N, 1, b_zps));
      }
    }
    for (int64_t i = 0; i < s.batches; ++i) {
      const QuantizedWeights& w = packed_at_load_ ? packed_b_ : packed[s.b_batch[i]];
      const QuantizedActivations qa{a_data + s.a_batch[i] * M * K, M, K, scratch.a_zps,
                                    scratch.row_sums};
      MatMulQuantized(qa, w, *ctx.pool, y + i * M * N, N);
    }
  }

  size_t ScratchBytes(const std::vector<const Tensor*>& in, int) const override {
    ScratchCarver carver(nullptr);
    Carve(carver, *in[0], static_cast<size_t>(MakeMatMulShape(in[0]->shape(), in[1]->shape()).M));
    return carver.bytes();
  }

 private:
  // A's zero points and row sums, and an int8 A shifted to uint8.
  struct Scratch {
    int32_t* a_zps;
    int32_t* row_sums;
    uint8_t* a_shifted;
  };
  static Scratch Carve(ScratchCarver& carver, const Tensor& a, size_t M) {
    Scratch s;
    s.a_zps = carver.Take<int32_t>(M);
    s.row_sums = carver.Take<int32_t>(M);
    s.a_shifted =
        carver.Take<uint8_t>(a.dtype() == DType::kInt8 ? static_cast<size_t>(a.size()) : 0);
    return s;
  }

  static void CheckZeroPointSize(const Tensor* zp, int64_t n, const char* what) {
    if (zp != nullptr && zp->size() != 1 && !(zp->rank() == 1 && zp->size() == n)) {
      throw Error(std::string(what) + " has shape " + ShapeToString(zp->shape()) +
                  ", expected a scalar or [" + std::to_string(n) + "]");
    }
  }

  bool packed_at_load_ = false;  // B is a constant 2-D matrix, packed into packed_b_
  QuantizedWeights packed_b_;
};

// ------------------------------ ConvInteger

// 2-D ConvInteger: Y[n, m] = sum over c, i, j of (X - x_zero_point)(W - w_zero_point[m]) as
// im2col + the int8 GEMM: each output pixel is a row of A (patch values, padding = the zero
// point, so padded taps add 0), each output channel of a group a column of B = W^T.
class ConvIntegerKernel final : public OpKernel {
 public:
  explicit ConvIntegerKernel(const KernelInit& init)
      : auto_pad_(init.node.GetString("auto_pad", "NOTSET")),
        dilations_(init.node.GetInts("dilations", {1, 1})),
        strides_(init.node.GetInts("strides", {1, 1})),
        pads_(init.node.GetInts("pads", {0, 0, 0, 0})),
        kernel_shape_(init.node.GetInts("kernel_shape", {})),
        group_(init.node.GetInt("group", 1)) {
    if (dilations_.size() != 2 || strides_.size() != 2 || pads_.size() != 4 ||
        (!kernel_shape_.empty() && kernel_shape_.size() != 2)) {
      throw Error("ConvInteger: only 2-D convolutions are supported");
    }
    if (group_ < 1) throw Error("group must be >= 1");
    for (int64_t v : dilations_) {
      if (v < 1) throw Error("dilations must be >= 1");
    }
    for (int64_t v : strides_) {
      if (v < 1) throw Error("strides must be >= 1");
    }
    if (auto_pad_ != "NOTSET" && auto_pad_ != "VALID" && auto_pad_ != "SAME_UPPER" &&
        auto_pad_ != "SAME_LOWER") {
      throw Error("unknown auto_pad '" + auto_pad_ + "'");
    }
    const Tensor* w = init.constants.size() > 1 ? init.constants[1] : nullptr;
    const Tensor* w_zp = init.constants.size() > 3 ? init.constants[3] : nullptr;
    if (w != nullptr && w->rank() == 4 && (!HasInput(init, 3) || w_zp != nullptr)) {
      RequireDType(*w, {DType::kInt8, DType::kUInt8}, "w");
      RequireZeroPointDType(w_zp, *w, "w_zero_point");
      if (w->dim(0) % group_ != 0) throw Error("output channels are not divisible by group");
      packed_w_ = PackGroups(*w, w_zp);
    }
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 4);
    const Geometry g = MakeGeometry(*in[0], *in[1]);
    const Tensor* x_zp = Optional(in, 2);
    const Tensor* w_zp = Optional(in, 3);
    RequireZeroPointDType(x_zp, *in[0], "x_zero_point");
    RequireZeroPointDType(w_zp, *in[1], "w_zero_point");
    if (x_zp != nullptr && x_zp->size() != 1) throw Error("x_zero_point must be a scalar");
    if (w_zp != nullptr && w_zp->size() != 1 && w_zp->size() != g.M) {
      throw Error("w_zero_point must be a scalar or have one value per output channel");
    }
    (*out)[0] = Tensor::Meta(DType::kInt32, {g.batch, g.M, g.out_h, g.out_w});
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& x = *in[0];
    const Geometry g = MakeGeometry(x, *in[1]);
    std::vector<QuantizedWeights> runtime_w;
    if (packed_w_.empty()) runtime_w = PackGroups(*in[1], Optional(in, 3));
    const std::vector<QuantizedWeights>& weights = packed_w_.empty() ? runtime_w : packed_w_;

    // The zero point of an int8 x moves with x to the uint8 scale (see ShiftToUnsigned).
    int32_t x_zp = 0;
    ReadZeroPoints(Optional(in, 2), 1, "x_zero_point", &x_zp);
    const bool is_signed = x.dtype() == DType::kInt8;
    if (is_signed) x_zp += 128;
    const size_t pixels = static_cast<size_t>(g.out_h * g.out_w);
    const size_t patch = static_cast<size_t>(g.C / group_ * g.kernel_h * g.kernel_w);
    const size_t Mg = static_cast<size_t>(g.M / group_);
    int32_t* y = out[0]->data<int32_t>();
    if (patch == 0) {
      std::fill(y, y + out[0]->size(), 0);
      return;
    }
    ScratchCarver carver(ctx.scratch);
    const Scratch s = Carve(carver, g);
    std::fill(s.pixel_zps, s.pixel_zps + pixels, x_zp);
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t group = 0; group < group_; ++group) {
        Im2Col(x, g, n, group, static_cast<uint8_t>(x_zp), is_signed, *ctx.pool, s.columns);
        const QuantizedActivations a{s.columns, pixels, patch, s.pixel_zps, s.row_sums};
        MatMulQuantized(a, weights[static_cast<size_t>(group)], *ctx.pool, s.product, Mg);
        // [pixels, Mg] -> Y[n, group * Mg + m, pixels]
        int32_t* y_group = y + (n * g.M + group * static_cast<int64_t>(Mg)) * pixels;
        ParallelChunks(*ctx.pool, static_cast<int64_t>(Mg), 1, [&](int64_t begin, int64_t end) {
          for (int64_t m = begin; m < end; ++m) {
            for (size_t p = 0; p < pixels; ++p) y_group[m * pixels + p] = s.product[p * Mg + m];
          }
        });
      }
    }
  }

  size_t ScratchBytes(const std::vector<const Tensor*>& in, int) const override {
    ScratchCarver carver(nullptr);
    Carve(carver, MakeGeometry(*in[0], *in[1]));
    return carver.bytes();
  }

 private:
  struct Geometry {
    int64_t batch, C, H, W;         // x
    int64_t M, kernel_h, kernel_w;  // w: [M, C / group, kernel_h, kernel_w]
    int64_t pad_top, pad_left;
    int64_t out_h, out_w;
  };

  // One (image, group) at a time: its im2col matrix [pixels, patch], its product [pixels, M /
  // group], and the activations' zero points and row sums per pixel.
  struct Scratch {
    uint8_t* columns;
    int32_t* product;
    int32_t* pixel_zps;
    int32_t* row_sums;
  };
  Scratch Carve(ScratchCarver& carver, const Geometry& g) const {
    // Checked products: a hostile model's kernel and output sizes can be anything.
    const int64_t pixels = NumElements({g.out_h, g.out_w});
    Scratch s;
    s.columns = carver.Take<uint8_t>(
        static_cast<size_t>(NumElements({pixels, g.C / group_, g.kernel_h, g.kernel_w})));
    s.product = carver.Take<int32_t>(static_cast<size_t>(NumElements({pixels, g.M / group_})));
    s.pixel_zps = carver.Take<int32_t>(static_cast<size_t>(pixels));
    s.row_sums = carver.Take<int32_t>(static_cast<size_t>(pixels));
    return s;
  }

  // Output size and leading pad of one spatial dim (ONNX Conv, auto_pad included).
  void OutputDim(int64_t in, int64_t kernel, int d, int64_t* out, int64_t* pad_begin) const {
    const int64_t stride = strides_[static_cast<size_t>(d)];
    const int64_t extent = (kernel - 1) * dilations_[static_cast<size_t>(d)] + 1;
    if (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER") {
      *out = (in + stride - 1) / stride;
      const int64_t total = std::max<int64_t>(0, (*out - 1) * stride + extent - in);
      *pad_begin = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
      return;
    }
    const bool valid = auto_pad_ == "VALID";
    *pad_begin = valid ? 0 : pads_[static_cast<size_t>(d)];
    const int64_t pad_end = valid ? 0 : pads_[static_cast<size_t>(d) + 2];
    const int64_t span = in + *pad_begin + pad_end - extent;
    if (span < 0) throw Error("ConvInteger: the kernel is larger than the padded input");
    *out = span / stride + 1;
  }

  Geometry MakeGeometry(const Tensor& x, const Tensor& w) const {
    RequireDType(x, {DType::kInt8, DType::kUInt8}, "x");
    RequireDType(w, {DType::kInt8, DType::kUInt8}, "w");
    if (x.rank() != 4 || w.rank() != 4) {
      throw Error("ConvInteger: only 2-D convolutions (4-D x and w) are supported, got x " +
                  ShapeToString(x.shape()) + ", w " + ShapeToString(w.shape()));
    }
    Geometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), 0, 0, 0, 0};
    if (g.C != w.dim(1) * group_ || g.M % group_ != 0) {
      throw Error("ConvInteger: x " + ShapeToString(x.shape()) + " and w " +
                  ShapeToString(w.shape()) + " do not match group " + std::to_string(group_));
    }
    if (!kernel_shape_.empty() &&
        (kernel_shape_[0] != g.kernel_h || kernel_shape_[1] != g.kernel_w)) {
      throw Error("kernel_shape does not match w " + ShapeToString(w.shape()));
    }
    OutputDim(g.H, g.kernel_h, 0, &g.out_h, &g.pad_top);
    OutputDim(g.W, g.kernel_w, 1, &g.out_w, &g.pad_left);
    return g;
  }

  // Per group: B = W[group]^T, [C/group * kh * kw, M/group].
  std::vector<QuantizedWeights> PackGroups(const Tensor& w, const Tensor* w_zp) const {
    const size_t M = static_cast<size_t>(w.dim(0));
    const size_t Mg = M / static_cast<size_t>(group_);
    const size_t patch = static_cast<size_t>(w.dim(1) * w.dim(2) * w.dim(3));
    const std::vector<int32_t> zps = ReadZeroPoints(w_zp, M, "w_zero_point");
    std::vector<QuantizedWeights> groups;
    for (size_t group = 0; group < static_cast<size_t>(group_); ++group) {
      const char* data = static_cast<const char*>(w.raw()) + group * Mg * patch;
      const std::vector<int32_t> group_zps(zps.begin() + group * Mg,
                                           zps.begin() + (group + 1) * Mg);
      groups.push_back(QuantizedWeights::Pack(w.dtype(), data, patch, Mg, 1, patch, group_zps));
    }
    return groups;
  }

  // columns[p][(c, i, j)] = x[n, group * C/group + c, y_p + i * dilation, x_p + j * dilation]
  // (uint8; int8 x shifted by 128), or `pad` outside the image.
  void Im2Col(const Tensor& x, const Geometry& g, int64_t n, int64_t group, uint8_t pad,
              bool is_signed, ThreadPool& pool, uint8_t* columns) const {
    const int64_t Cg = g.C / group_;
    const int64_t patch = Cg * g.kernel_h * g.kernel_w;
    const uint8_t* image =
        static_cast<const uint8_t*>(x.raw()) + (n * g.C + group * Cg) * g.H * g.W;
    const uint8_t flip = is_signed ? 0x80 : 0;
    ParallelChunks(pool, g.out_h * g.out_w, std::max<int64_t>(1, kParallelChunk / patch),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t p = begin; p < end; ++p) {
                       const int64_t top = p / g.out_w * strides_[0] - g.pad_top;
                       const int64_t left = p % g.out_w * strides_[1] - g.pad_left;
                       uint8_t* row = columns + p * patch;
                       for (int64_t c = 0; c < Cg; ++c) {
                         for (int64_t i = 0; i < g.kernel_h; ++i) {
                           const int64_t in_y = top + i * dilations_[0];
                           for (int64_t j = 0; j < g.kernel_w; ++j) {
                             const int64_t in_x = left + j * dilations_[1];
                             const bool inside = in_y >= 0 && in_y < g.H && in_x >= 0 && in_x < g.W;
                             *row++ = inside ? image[(c * g.H + in_y) * g.W + in_x] ^ flip : pad;
                           }
                         }
                       }
                     }
                   });
  }

  std::string auto_pad_;
  std::vector<int64_t> dilations_, strides_, pads_, kernel_shape_;
  int64_t group_;
  std::vector<QuantizedWeights> packed_w_;  // per group; empty unless w is constant
};

}  // namespace

void RegisterQuantOps(OpRegistry& r) {
  r.Add({"", "DynamicQuantizeLinear", 11, &MakeKernel<DynamicQuantizeLinearKernel>});
  for (int version : {10, 13, 19}) {
    r.Add({"", "QuantizeLinear", version, &MakeKernel<QuantizeLinearKernel>});
    r.Add({"", "DequantizeLinear", version, &MakeKernel<DequantizeLinearKernel>});
  }
  r.Add({"", "MatMulInteger", 10, &MakeKernel<MatMulIntegerKernel>});
  r.Add({"", "ConvInteger", 10, &MakeKernel<ConvIntegerKernel>});
  RegisterQuantizedLinear(r);
}

}  // namespace qclip

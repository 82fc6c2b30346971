// MatMul and Gemm on float32, over kernels/gemm_f32.
//
// MatMul (ONNX MatMul-1/9/13, numpy.matmul): a rank-1 A is a row [1, K] and a rank-1 B a column
// [K, 1], the added dim dropped from the output; dims before the last two broadcast. A weight B
// (constant, rank <= 2) is packed once at load; then A's leading dims fold into M, so a
// [batch, 197, 768] x [768, 3072] product is one GEMM. Other products (attention's Q·Kᵀ, P·V)
// pack B panel by panel as they go, one GEMM per broadcast batch index.
//
// Gemm (ONNX Gemm-7/11/13): Y = alpha * A' · B' + beta * C with A' = transA ? Aᵀ : A, likewise
// B', and C broadcast unidirectionally to [M, N] (optional since Gemm-11). alpha is folded into
// B's packing; with beta = 1, a C of shape [N] or [1, N] (torch's Linear) is the GEMM's bias
// and one of shape [M, N] its addend.
//
// qclip.Linear(X, W, bias) [activation]: what FuseLinear makes of MatMul(X, W) -> Add(., bias)
// with W a constant [K, N] and bias a constant [N]: act(X · W + bias) in one GEMM, the bias and
// the activation (FuseLinearActivation) applied to each output tile while it is in cache.
//
// Work is split into GEMM output tiles (per batch index); every output sums in the same order
// whatever the tiles, so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "kernels/gemm_f32.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

// The weight when it is constant and rank <= 2, packed once (on the pool's threads when there
// is one: a ViT-B/16's 345 MB of float weights fill as many fresh pages); else null.
std::shared_ptr<const PackedGemmB> PackConstantWeight(const Tensor* b, bool transposed, float scale,
                                                      ThreadPool* pool) {
  if (b == nullptr || b->dtype() != DType::kFloat32 || b->rank() > 2) return nullptr;
  // As stored, [rows, cols]; MatMul's rank-1 [K] is a column [K, 1].
  const int64_t rows = b->rank() == 2 ? b->dim(0) : b->size();
  const int64_t cols = b->rank() == 2 ? b->dim(1) : 1;
  GemmBView view;
  view.data = b->data<float>();
  view.ld = cols;
  view.k = transposed ? cols : rows;
  view.n = transposed ? rows : cols;
  view.transposed = transposed;
  view.scale = scale;
  auto packed = std::make_shared<PackedGemmB>(view.k, view.n);
  const auto pack = [&](int64_t first, int64_t end) { packed->PackPanels(view, first, end); };
  if (pool != nullptr) {
    ParallelChunks(*pool, packed->panels(), 1, pack);
  } else {
    pack(0, packed->panels());
  }
  packed->AdviseHugePages();
  return packed;
}

class MatMulKernel final : public OpKernel {
 public:
  explicit MatMulKernel(const KernelInit& init)
      : packed_b_(PackConstantWeight(init.constants.size() > 1 ? init.constants[1] : nullptr, false,
                                     1.0f, init.pool)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    RequireDType(*in[0], {DType::kFloat32}, "MatMul's A");
    RequireDType(*in[1], {DType::kFloat32}, "MatMul's B");
    (*out)[0] = Tensor::Meta(DType::kFloat32, Describe(in[0]->shape(), in[1]->shape()).out_shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return std::make_shared<Product>(Describe(in[0]->shape(), in[1]->shape()));
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Product& p = PreparedState<Product>(ctx);
    const float* a = in[0]->data<float>();
    const float* b = in[1]->data<float>();
    float* c = out[0]->data<float>();
    if (p.b_is_matrix) {  // one GEMM with A's leading dims folded into M
      const int64_t rows = p.m * p.batch;
      if (packed_b_ != nullptr) {
        ParallelGemm(*ctx.pool, a, p.k, *packed_b_, p.n, c, p.n, rows, GemmEpilogue());
      } else {
        ParallelGemm(*ctx.pool, a, p.k, GemmBView{b, p.n, p.k, p.n}, p.n, c, p.n, rows,
                     GemmEpilogue());
      }
      return;
    }
    // One GEMM per batch index; tasks are (batch index, tile) pairs.
    const GemmTiles tiles(p.m, p.n, ctx.pool->size());
    ctx.pool->ParallelFor(p.batch * tiles.count(), [&](int64_t task, int) {
      const int64_t i = task / tiles.count();
      const GemmBView b_i{b + p.BatchOffset(p.b_strides, i) * p.k * p.n, p.n, p.k, p.n};
      GemmF32Tile(a + p.BatchOffset(p.a_strides, i) * p.m * p.k, p.k, b_i, c + i * p.m * p.n, p.n,
                  tiles, GemmEpilogue(), task % tiles.count());
    });
  }

  bool PackedInput(size_t i) const override { return i == 1 && packed_b_ != nullptr; }

 private:
  // The product's dims after numpy's rank-1 promotion and batch broadcasting (made once per plan).
  struct Product final : OpState {
    int64_t m = 1, k = 1, n = 1;
    int64_t batch = 1;                          // output batch indices (product of batch_dims)
    Shape batch_dims;                           // broadcast batch dims of the output
    std::vector<int64_t> a_strides, b_strides;  // per batch dim, in matrices (0: broadcast)
    bool b_is_matrix = false;  // B has no batch dims: fold A's batch into M instead
    Shape out_shape;

    // Matrix index into A or B of output batch index i.
    int64_t BatchOffset(const std::vector<int64_t>& strides, int64_t i) const {
      int64_t offset = 0;
      for (int d = static_cast<int>(batch_dims.size()) - 1; d >= 0; --d) {
        offset += (i % batch_dims[d]) * strides[d];
        i /= batch_dims[d];
      }
      return offset;
    }
  };

  static Product Describe(const Shape& a_shape, const Shape& b_shape) {
    if (a_shape.empty() || b_shape.empty()) throw Error("MatMul inputs must have rank >= 1");
    Shape a = a_shape, b = b_shape;
    if (a.size() == 1) a.insert(a.begin(), 1);  // [K] -> [1, K]
    if (b.size() == 1) b.push_back(1);          // [K] -> [K, 1]
    Product p;
    p.m = a[a.size() - 2];
    p.k = a.back();
    p.n = b.back();
    if (b[b.size() - 2] != p.k) {
      throw Error("MatMul inner dimensions differ: A " + ShapeToString(a_shape) + " and B " +
                  ShapeToString(b_shape));
    }
    const Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
    p.batch_dims = BroadcastShapes(a_batch, b_batch);
    p.batch = NumElements(p.batch_dims);
    const int rank = static_cast<int>(p.batch_dims.size());
    p.a_strides = BroadcastStrides(a_batch, rank);
    p.b_strides = BroadcastStrides(b_batch, rank);
    p.b_is_matrix = NumElements(b_batch) == 1;

    p.out_shape = p.batch_dims;
    if (a_shape.size() > 1) p.out_shape.push_back(p.m);
    if (b_shape.size() > 1) p.out_shape.push_back(p.n);
    return p;
  }

  std::shared_ptr<const PackedGemmB> packed_b_;  // null unless B is a constant matrix
};

class GemmKernel final : public OpKernel {
 public:
  explicit GemmKernel(const KernelInit& init)
      : trans_a_(init.node.GetInt("transA", 0) != 0),
        trans_b_(init.node.GetInt("transB", 0) != 0),
        alpha_(init.node.GetFloat("alpha", 1.0f)),
        beta_(init.node.GetFloat("beta", 1.0f)) {
    const Tensor* b = init.constants.size() > 1 ? init.constants[1] : nullptr;
    if (b != nullptr && b->rank() == 2)
      packed_b_ = PackConstantWeight(b, trans_b_, alpha_, init.pool);
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 3);
    RequireDType(*in[0], {DType::kFloat32}, "Gemm's A");
    RequireDType(*in[1], {DType::kFloat32}, "Gemm's B");
    const Dims dims = GetDims(in);
    if (HasC(in)) {
      RequireDType(*in[2], {DType::kFloat32}, "Gemm's C");
      const Shape& c = in[2]->shape();
      if (c.size() > 2 || BroadcastShapes(c, {dims.m, dims.n}) != Shape{dims.m, dims.n}) {
        throw Error("Gemm's C " + ShapeToString(c) + " does not broadcast to [" +
                    std::to_string(dims.m) + ", " + std::to_string(dims.n) + "]");
      }
    }
    (*out)[0] = Tensor::Meta(DType::kFloat32, {dims.m, dims.n});
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Dims dims = GetDims(in);
    float* y = out[0]->data<float>();

    // transA: the GEMM reads A row by row, so transpose it first (rare in exported models).
    const float* a = in[0]->data<float>();
    std::vector<float> a_transposed;
    if (trans_a_) {
      a_transposed.resize(static_cast<size_t>(dims.m * dims.k));
      for (int64_t i = 0; i < dims.m; ++i) {
        for (int64_t kk = 0; kk < dims.k; ++kk) a_transposed[i * dims.k + kk] = a[kk * dims.m + i];
      }
      a = a_transposed.data();
    }

    GemmEpilogue epilogue;
    if (HasC(in) && beta_ != 0.0f) {
      const Tensor& c = *in[2];
      const bool row_vector = c.size() == dims.n && (c.rank() == 1 || c.dim(0) == 1);
      if (row_vector && beta_ == 1.0f) {
        epilogue.bias = c.data<float>();
      } else if (c.shape() == Shape{dims.m, dims.n} && beta_ == 1.0f) {
        epilogue.addend = c.data<float>();
        epilogue.ld_addend = dims.n;
      } else {  // Y = beta * C broadcast, then Y += A' · B'
        const std::vector<int64_t> strides = BroadcastStrides(c.shape(), 2);
        for (int64_t i = 0; i < dims.m; ++i) {
          for (int64_t j = 0; j < dims.n; ++j) {
            y[i * dims.n + j] = beta_ * c.data<float>()[i * strides[0] + j * strides[1]];
          }
        }
        epilogue.addend = y;
        epilogue.ld_addend = dims.n;
      }
    }

    if (packed_b_ != nullptr) {
      ParallelGemm(*ctx.pool, a, dims.k, *packed_b_, dims.n, y, dims.n, dims.m, epilogue);
    } else {
      const GemmBView b{in[1]->data<float>(), in[1]->dim(1), dims.k, dims.n, trans_b_, alpha_};
      ParallelGemm(*ctx.pool, a, dims.k, b, dims.n, y, dims.n, dims.m, epilogue);
    }
  }

  bool PackedInput(size_t i) const override { return i == 1 && packed_b_ != nullptr; }

 private:
  struct Dims {
    int64_t m, k, n;
  };

  static bool HasC(const std::vector<const Tensor*>& in) {
    return in.size() > 2 && in[2] != nullptr;
  }

  Dims GetDims(const std::vector<const Tensor*>& in) const {
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    if (a.rank() != 2 || b.rank() != 2) {
      throw Error("Gemm's A and B must be matrices, got " + ShapeToString(a.shape()) + " and " +
                  ShapeToString(b.shape()));
    }
    const Dims dims{trans_a_ ? a.dim(1) : a.dim(0), trans_a_ ? a.dim(0) : a.dim(1),
                    trans_b_ ? b.dim(0) : b.dim(1)};
    if ((trans_b_ ? b.dim(1) : b.dim(0)) != dims.k) {
      throw Error("Gemm inner dimensions differ: A " + ShapeToString(a.shape()) +
                  (trans_a_ ? " (transposed)" : "") + " and B " + ShapeToString(b.shape()) +
                  (trans_b_ ? " (transposed)" : ""));
    }
    return dims;
  }

  bool trans_a_, trans_b_;
  float alpha_, beta_;
  std::shared_ptr<const PackedGemmB> packed_b_;  // null unless B is constant
};

class LinearKernel final : public OpKernel {
 public:
  explicit LinearKernel(const KernelInit& init) : activation_(ReadActivation(init.node)) {
    const std::vector<const Tensor*>& c = init.constants;
    const Tensor* w = c.size() > 1 ? c[1] : nullptr;
    const Tensor* bias = c.size() > 2 ? c[2] : nullptr;
    if (c.size() != 3 || w == nullptr || w->rank() != 2 || w->dtype() != DType::kFloat32) {
      throw Error("expects X, a constant float [K, N] weight and a constant bias");
    }
    if (bias == nullptr || bias->dtype() != DType::kFloat32 || bias->shape() != Shape{w->dim(1)}) {
      throw Error("the bias must be a constant float [" + std::to_string(w->dim(1)) + "]");
    }
    weights_ = PackConstantWeight(w, false, 1.0f, init.pool);
    bias_.assign(bias->data<float>(), bias->data<float>() + bias->size());
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 3, 3);
    RequireDType(*in[0], {DType::kFloat32}, "X");
    const Shape& x = in[0]->shape();
    if (x.empty() || x.back() != weights_->k()) {
      throw Error("X " + ShapeToString(x) +
                  " does not end in the weight's K = " + std::to_string(weights_->k()));
    }
    Shape y = x;
    y.back() = weights_->n();
    (*out)[0] = Tensor::Meta(DType::kFloat32, y);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const int64_t k = weights_->k(), n = weights_->n();
    GemmEpilogue epilogue;
    epilogue.bias = bias_.data();
    epilogue.activation = activation_;
    ParallelGemm(*ctx.pool, in[0]->data<float>(), k, *weights_, n, out[0]->data<float>(), n,
                 k == 0 ? 0 : in[0]->size() / k, epilogue);
  }

  bool PackedInput(size_t i) const override { return i == 1 || i == 2; }

 private:
  UnaryOp activation_;
  std::shared_ptr<const PackedGemmB> weights_;
  std::vector<float> bias_;
};

}  // namespace

void RegisterMatMulOps(OpRegistry& r) {
  // Each packs its constant weight (input 1) with PackConstantWeight.
  r.Add({"", "MatMul", 1, &MakeKernel<MatMulKernel>, 1});
  r.Add({"qclip", "Linear", 1, &MakeKernel<LinearKernel>, 1});
  r.Add({"", "Gemm", 7, &MakeKernel<GemmKernel>, 1});
}

}  // namespace qclip

// qclip.Attention: scaled dot-product attention in one pass per (head, block of query rows), made
// by the FuseAttention graph pass (src/graph/fuse_attention.cc) from the MatMul -> [scale] ->
// [+ mask] -> Softmax -> MatMul chains that exporters write. The scores of a block of rows stay
// in cache between the two products and the softmax, and the Transpose/Split/Squeeze nodes
// around the chain become strides: Q, Kᵀ and V are read, and the output written, in place.
//
// Inputs: q, kt, v (float32, the *sources* of the traced views below), optional mask (float32,
// broadcast to the scores' shape), optional q_scale, kt_scale, score_scale (float32, one
// element each; known when the plan is made: constants or shape-derived values).
// Attributes: q_views, kt_views, v_views: the view ops that turn each source into the operand
//   the original MatMul read, as records [kind, n, n ints]: kind 0 Transpose(perm), 1
//   Split(axis, index, outputs, sizes...) (sizes empty: equal split), 2 Squeeze(axes; none = all
//   ones), 3 Unsqueeze(axes);
//   divide_scores: score_scale divides (Div) instead of multiplying (Mul);
//   nan_to_zero: probabilities that are NaN become 0 (the IsNaN/Where guard of torch's SDPA);
//   out_perm: the Transpose applied to the product, if it was fused (else empty).
// Semantics, with Q = view(q) * q_scale, Kᵀ = view(kt) * kt_scale ([..., S, D] and [..., D, T]):
//   out = perm(softmax(Q·Kᵀ (* or /) score_scale + mask) · view(v)).
// The scales are folded into one factor on Kᵀ and the softmax's division is applied to the rows
// of the product (E values each, not T), so results differ from the unfused chain by float
// rounding only. Every row is computed the same way whichever task runs it, so results do not
// depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/gemm_f32.h"
#include "kernels/norm.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

// Query rows per task: a multiple of the GEMM microkernel's 6 rows; the scores of a block
// (kBlockRows x T floats) stay in L1/L2.
constexpr int64_t kBlockRows = 48;

// A strided view: element i of dim k at offset + sum_k i_k * strides[k].
struct View {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;
};

View DenseView(const Shape& shape) { return View{shape, DenseStrides(shape), 0}; }

// Applies the encoded view ops (see the header comment) to `v`; throws on ops that do not fit the
// shape (the file disagrees with itself: the original nodes would have failed too).
View ApplyViews(View v, const std::vector<int64_t>& ops) {
  size_t i = 0;
  while (i < ops.size()) {
    if (i + 2 > ops.size() || ops[i + 1] < 0 ||
        static_cast<uint64_t>(ops[i + 1]) > ops.size() - (i + 2)) {
      throw Error("malformed view list");
    }
    const int64_t kind = ops[i];
    const std::vector<int64_t> args(ops.begin() + i + 2, ops.begin() + i + 2 + ops[i + 1]);
    i += 2 + args.size();
    const int rank = static_cast<int>(v.shape.size());
    if (kind == 0) {  // Transpose
      if (static_cast<int>(args.size()) != rank) throw Error("Transpose perm does not fit");
      View t;
      for (int axis : NormalizeAxes(args, rank)) {  // throws on a repeated axis
        t.shape.push_back(v.shape[axis]);
        t.strides.push_back(v.strides[axis]);
      }
      t.offset = v.offset;
      v = t;
    } else if (kind == 1) {  // Split: axis, index, outputs, sizes...
      if (args.size() < 3) throw Error("malformed Split view");
      const int axis = NormalizeAxis(args[0], rank);
      const int64_t index = args[1], outputs = args[2], dim = v.shape[axis];
      if (outputs < 1 || index < 0 || index >= outputs) throw Error("malformed Split view");
      int64_t start = 0, size = 0;
      if (args.size() == 3) {  // equal parts, the last one smaller (Split-18 num_outputs)
        const int64_t part = outputs > 0 ? (dim + outputs - 1) / outputs : 0;
        start = std::min(dim, index * part);
        size = std::min(part, dim - start);
      } else {
        if (static_cast<int64_t>(args.size()) != 3 + outputs) throw Error("malformed Split view");
        int64_t total = 0;
        for (int64_t k = 0; k < outputs; ++k) {
          if (args[3 + k] < 0 || args[3 + k] > dim) throw Error("malformed Split view");
          total += args[3 + k];
        }
        if (total != dim) throw Error("Split sizes do not add up to the axis");
        for (int64_t k = 0; k < index; ++k) start += args[3 + k];
        size = args[3 + index];
      }
      v.offset += start * v.strides[axis];
      v.shape[axis] = size;
    } else if (kind == 2) {  // Squeeze
      std::vector<bool> drop(rank, false);
      for (int axis : NormalizeAxes(args, rank)) {
        if (v.shape[axis] != 1) throw Error("Squeeze of a dim that is not 1");
        drop[axis] = true;
      }
      if (args.empty()) {
        for (int k = 0; k < rank; ++k) drop[k] = v.shape[k] == 1;
      }
      View s;
      s.offset = v.offset;
      for (int k = 0; k < rank; ++k) {
        if (drop[k]) continue;
        s.shape.push_back(v.shape[k]);
        s.strides.push_back(v.strides[k]);
      }
      v = s;
    } else if (kind == 3) {  // Unsqueeze
      const int out_rank = rank + static_cast<int>(args.size());
      std::vector<bool> added(out_rank, false);
      for (int axis : NormalizeAxes(args, out_rank)) added[axis] = true;
      View u;
      u.offset = v.offset;
      for (int k = 0, j = 0; k < out_rank; ++k) {
        u.shape.push_back(added[k] ? 1 : v.shape[j]);
        u.strides.push_back(added[k] ? 0 : v.strides[j]);
        if (!added[k]) ++j;
      }
      v = u;
    } else {
      throw Error("unknown view kind " + std::to_string(kind));
    }
  }
  return v;
}

// The single value of an optional scale input (1 when absent).
float ScaleValue(const Tensor* t, const char* what) {
  if (t == nullptr) return 1.0f;
  RequireDType(*t, {DType::kFloat32}, what);
  if (t->size() != 1 || !t->has_data()) {
    throw Error(std::string(what) + " must be one value known when the plan is made");
  }
  return *t->data<float>();
}

// Everything a run needs, derived from the input shapes once per plan (Prepare).
struct Layout final : OpState {
  View q, kt, v, mask, out;  // q [L.., S, D], kt [L.., D, T], v [L.., T, E], out [L.., S, E]
  Shape lead;                // L..: the batch and head dims
  int64_t S = 0, D = 0, T = 0, E = 0;
  Shape out_shape;  // the fused node's output (out_perm applied)
  bool has_mask = false;
  float scale = 1.0f;  // q_scale * kt_scale and score_scale's factor, folded onto Kᵀ
  // Tasks: `groups` groups of rows_per_group query rows per head.
  int64_t heads = 0, groups = 0, rows_per_group = 0;
  // Floats of each part of a thread's scratch (Scratch), and its bytes, 64-byte aligned.
  int64_t score_floats = 0, kt_floats = 0, v_floats = 0, copy_floats = 0;
  size_t scratch_per_thread = 0;
};

class AttentionKernel final : public OpKernel {
 public:
  explicit AttentionKernel(const KernelInit& init)
      : q_views_(init.node.GetInts("q_views", {})),
        kt_views_(init.node.GetInts("kt_views", {})),
        v_views_(init.node.GetInts("v_views", {})),
        out_perm_(init.node.GetInts("out_perm", {})),
        divide_scores_(init.node.GetInt("divide_scores", 0) != 0),
        nan_to_zero_(init.node.GetInt("nan_to_zero", 0) != 0) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    (*out)[0] = Tensor::Meta(DType::kFloat32, MakeLayout(in, 1).out_shape);
  }

  // Per thread: the scores of a block of rows, one head's packed Kᵀ and V, and a dense copy of
  // a strided operand.
  size_t ScratchBytes(const std::vector<const Tensor*>& in, int threads) const override {
    return static_cast<size_t>(threads) * MakeLayout(in, threads).scratch_per_thread;
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in,
                                         int threads) const override {
    return std::make_shared<Layout>(MakeLayout(in, threads));
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Layout& l = PreparedState<Layout>(ctx);
    const float* q = in[0]->data<float>();
    const float* kt = in[1]->data<float>();
    const float* v = in[2]->data<float>();
    const float* mask = l.has_mask ? in[3]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    ctx.pool->ParallelFor(l.heads * l.groups, [&](int64_t task, int thread) {
      const int64_t head = task / l.groups;
      const int64_t r0 = task % l.groups * l.rows_per_group;
      if (r0 < l.S) {
        ScratchCarver carver(static_cast<unsigned char*>(ctx.scratch) +
                             thread * l.scratch_per_thread);
        RunRows(l, head, r0, std::min(l.rows_per_group, l.S - r0), q, kt, v, mask, Carve(carver, l),
                y);
      }
    });
  }

 private:
  // One thread's working memory.
  struct Scratch {
    float* scores;     // [kBlockRows, T]
    float* packed_kt;  // PackedGemmB of [D, T]
    float* packed_v;   // PackedGemmB of [T, E]
    float* copy;       // a strided operand copied densely: [D, T], [T, E] or [kBlockRows, D]
  };
  static Scratch Carve(ScratchCarver& carver, const Layout& l) {
    Scratch s;
    s.scores = carver.Take<float>(static_cast<size_t>(l.score_floats));
    s.packed_kt = carver.Take<float>(static_cast<size_t>(l.kt_floats));
    s.packed_v = carver.Take<float>(static_cast<size_t>(l.v_floats));
    s.copy = carver.Take<float>(static_cast<size_t>(l.copy_floats));
    return s;
  }

  static const Tensor* Input(const std::vector<const Tensor*>& in, size_t i) {
    return i < in.size() ? in[i] : nullptr;
  }

  // The layout for these inputs and a pool of `threads`; throws on inputs that do not fit.
  Layout MakeLayout(const std::vector<const Tensor*>& in, int threads) const {
    RequireInputs(in, 3, 7);
    for (size_t i = 0; i < 3; ++i) RequireDType(*in[i], {DType::kFloat32}, "attention operand");
    Layout l;
    l.q = ApplyViews(DenseView(in[0]->shape()), q_views_);
    l.kt = ApplyViews(DenseView(in[1]->shape()), kt_views_);
    l.v = ApplyViews(DenseView(in[2]->shape()), v_views_);
    const size_t rank = l.q.shape.size();
    if (rank < 2 || l.kt.shape.size() != rank || l.v.shape.size() != rank) {
      throw Error("attention operands need equal ranks >= 2, got Q " + ShapeToString(l.q.shape) +
                  ", Kᵀ " + ShapeToString(l.kt.shape) + ", V " + ShapeToString(l.v.shape));
    }
    l.lead.assign(l.q.shape.begin(), l.q.shape.end() - 2);
    if (!std::equal(l.lead.begin(), l.lead.end(), l.kt.shape.begin()) ||
        !std::equal(l.lead.begin(), l.lead.end(), l.v.shape.begin())) {
      throw Error("attention operands differ in their batch dims: Q " + ShapeToString(l.q.shape) +
                  ", Kᵀ " + ShapeToString(l.kt.shape) + ", V " + ShapeToString(l.v.shape));
    }
    l.S = l.q.shape[rank - 2];
    l.D = l.q.shape[rank - 1];
    l.T = l.kt.shape[rank - 1];
    l.E = l.v.shape[rank - 1];
    if (l.kt.shape[rank - 2] != l.D || l.v.shape[rank - 2] != l.T) {
      throw Error("attention operands do not chain: Q " + ShapeToString(l.q.shape) + ", Kᵀ " +
                  ShapeToString(l.kt.shape) + ", V " + ShapeToString(l.v.shape));
    }
    l.scale = ScaleValue(Input(in, 4), "q_scale") * ScaleValue(Input(in, 5), "kt_scale") *
              (divide_scores_ ? 1.0f / ScaleValue(Input(in, 6), "score_scale")
                              : ScaleValue(Input(in, 6), "score_scale"));
    Shape scores = l.lead;
    scores.push_back(l.S);
    scores.push_back(l.T);
    if (const Tensor* m = Input(in, 3)) {
      RequireDType(*m, {DType::kFloat32}, "attention mask");
      if (m->rank() > static_cast<int>(rank) || BroadcastShapes(scores, m->shape()) != scores) {
        throw Error("attention mask " + ShapeToString(m->shape()) +
                    " does not broadcast to the scores " + ShapeToString(scores));
      }
      l.mask = View{scores, BroadcastStrides(m->shape(), static_cast<int>(rank)), 0};
      l.has_mask = true;
    }
    Shape product = l.lead;
    product.push_back(l.S);
    product.push_back(l.E);
    // The output: the product transposed by out_perm, stored densely; `out` addresses it in the
    // product's dim order.
    l.out_shape = product;
    std::vector<int64_t> strides = DenseStrides(product);
    if (!out_perm_.empty()) {
      if (out_perm_.size() != rank) throw Error("out_perm does not fit the product");
      NormalizeAxes(out_perm_, static_cast<int>(rank));  // throws on a repeated axis
      for (size_t k = 0; k < rank; ++k) l.out_shape[k] = product[NormalizeAxis(out_perm_[k], rank)];
      const std::vector<int64_t> dense = DenseStrides(l.out_shape);
      for (size_t k = 0; k < rank; ++k) strides[NormalizeAxis(out_perm_[k], rank)] = dense[k];
    }
    l.out = View{product, strides, 0};
    if (l.out.strides[rank - 1] != 1) throw Error("out_perm must keep the last dim last");

    // Tasks: one head's rows in groups. Kᵀ and V are packed once per task, so groups are few:
    // just enough to give every thread some (the results do not depend on the grouping).
    l.heads = NumElements(l.lead);
    const int64_t blocks = (l.S + kBlockRows - 1) / kBlockRows;
    l.groups =
        std::clamp<int64_t>((int64_t{4} * threads + l.heads - 1) / std::max<int64_t>(l.heads, 1), 1,
                            std::max<int64_t>(blocks, 1));
    l.rows_per_group = (blocks + l.groups - 1) / l.groups * kBlockRows;
    l.score_floats = NumElements({kBlockRows, l.T});
    l.kt_floats = PackedGemmB::PackedFloats(l.D, l.T);
    l.v_floats = PackedGemmB::PackedFloats(l.T, l.E);
    l.copy_floats = std::max(
        {NumElements({l.D, l.T}), NumElements({l.T, l.E}), NumElements({kBlockRows, l.D})});
    ScratchCarver carver(nullptr);  // throws on sizes past 2^60 bytes
    Carve(carver, l);
    l.scratch_per_thread = (carver.bytes() + 63) / 64 * 64;  // each thread's part 64-byte aligned
    return l;
  }

  // Offset of head `head` (a flat index over the lead dims) in a view.
  static int64_t HeadOffset(const View& v, const Shape& lead, int64_t head) {
    int64_t offset = v.offset;
    for (int k = static_cast<int>(lead.size()) - 1; k >= 0; --k) {
      offset += head % lead[k] * v.strides[k];
      head /= lead[k];
    }
    return offset;
  }

  // Rows [r0, r0 + rows) of one head, kBlockRows at a time, in the thread's scratch `s`.
  // Allocates nothing: a query of a few tokens makes a few hundred of these calls.
  void RunRows(const Layout& l, int64_t head, int64_t r0, int64_t rows, const float* q,
               const float* kt, const float* v, const float* mask, const Scratch& s,
               float* y) const {
    const size_t r = l.lead.size();  // the two matrix dims of each view: r, r + 1
    // Operands whose matrix is strided in both dims (never so in the exporters' layouts) are
    // copied densely first; each is packed before the copy buffer is reused.
    float* const scores = s.scores;
    float* const copy = s.copy;
    const PackedGemmB packed_kt(
        Operand(kt + HeadOffset(l.kt, l.lead, head), l.kt, r, l.D, l.scale, copy), s.packed_kt);
    const PackedGemmB packed_v(Operand(v + HeadOffset(l.v, l.lead, head), l.v, r, l.T, 1.0f, copy),
                               s.packed_v);

    for (int64_t b0 = r0; b0 < r0 + rows; b0 += kBlockRows) {
      const int64_t n = std::min(kBlockRows, r0 + rows - b0);
      const float* q_rows = q + HeadOffset(l.q, l.lead, head) + b0 * l.q.strides[r];
      GemmBView a = Operand(q_rows, l.q, r, n, 1.0f, copy);  // Q rows as a [n, D] matrix
      if (a.transposed) {  // contiguous along the rows, not along D: copy
        Copy(q_rows, n, l.D, l.q.strides[r], l.q.strides[r + 1], copy);
        a.data = copy;
        a.ld = l.D;
      }
      GemmF32(a.data, a.ld, packed_kt, scores, l.T, n);
      if (mask != nullptr) {
        const float* m = mask + HeadOffset(l.mask, l.lead, head) + b0 * l.mask.strides[r];
        const int64_t ms = l.mask.strides[r], mt = l.mask.strides[r + 1];
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t t = 0; t < l.T; ++t) scores[i * l.T + t] += m[i * ms + t * mt];
        }
      }
      // P·V from the unnormalised exponentials, each output row then divided by its row's sum:
      // E multiplications per row instead of T.
      float inv_sum[kBlockRows];
      SoftmaxExpF32(scores, static_cast<size_t>(n), static_cast<size_t>(l.T), scores, inv_sum);
      if (nan_to_zero_) {  // a row with a NaN probability has a NaN sum: all of it becomes 0
        for (int64_t i = 0; i < n; ++i) {
          if (!std::isnan(inv_sum[i])) continue;
          std::fill(scores + i * l.T, scores + (i + 1) * l.T, 0.0f);
          inv_sum[i] = 0.0f;
        }
      }
      float* c = y + HeadOffset(l.out, l.lead, head) + b0 * l.out.strides[r];
      GemmEpilogue normalize;
      normalize.row_scale = inv_sum;
      GemmF32(scores, l.T, packed_v, c, l.out.strides[r], n, normalize);
    }
  }

  // m[i * si + j * sj] for i < rows, j < cols, densely into `out`.
  static void Copy(const float* m, int64_t rows, int64_t cols, int64_t si, int64_t sj, float* out) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = m[i * si + j * sj];
    }
  }

  // The matrix at `m` with view v's strides in dims (r, r + 1), `k` rows of v.shape[r + 1], as a
  // [k, N] GEMM operand: row-major or transposed in place when one of its strides is 1 (or its
  // dim is 1), else copied densely into `copy`.
  static GemmBView Operand(const float* m, const View& v, size_t r, int64_t k, float scale,
                           float* copy) {
    GemmBView b;
    b.data = m;
    b.k = k;
    b.n = v.shape[r + 1];
    b.scale = scale;
    if (v.strides[r + 1] == 1 || b.n == 1) {
      b.ld = v.strides[r];
    } else if (v.strides[r] == 1 || b.k == 1) {
      b.transposed = true;
      b.ld = v.strides[r + 1];
    } else {
      Copy(b.data, b.k, b.n, v.strides[r], v.strides[r + 1], copy);
      b.data = copy;
      b.ld = b.n;
    }
    return b;
  }

  std::vector<int64_t> q_views_, kt_views_, v_views_, out_perm_;
  bool divide_scores_, nan_to_zero_;
};

}  // namespace

void RegisterAttentionOps(OpRegistry& r) {
  r.Add({"qclip", "Attention", 1, &MakeKernel<AttentionKernel>});
}

}  // namespace qclip

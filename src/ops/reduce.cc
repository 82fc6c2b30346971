// Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL2, and ArgMax /
// ArgMin.
//
// Reduce* take axes from an attribute before opset 18 (ReduceSum: before 13) and from an
// optional constant input since; keepdims defaults to 1; no axes reduces everything unless
// noop_with_empty_axes. Each output element is reduced by one task in a fixed order, so results
// do not depend on the thread count. A contiguous run (the last axis: LayerNorm and L2
// normalisation decompositions) is summed in 8 interleaved lanes the compiler vectorises.
#include <cmath>
#include <limits>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"

namespace qclip {
namespace {

// A reduction as Init, Step (fold in one value), Merge (combine two partial results) and Finish
// (given the element count). C is the compute type (float for float16 data).
struct SumReducer {
  template <typename C>
  static C Init() {
    return C{0};
  }
  template <typename C>
  static C Step(C acc, C x) {
    return Wrapping(acc, x, [](auto a, auto b) { return a + b; });
  }
  template <typename C>
  static C Merge(C a, C b) {  // also the Merge of Mean and L2, whose partial results are sums
    return Wrapping(a, b, [](auto x, auto y) { return x + y; });
  }
  template <typename C>
  static C Finish(C acc, int64_t) {
    return acc;
  }
};

struct MeanReducer : SumReducer {
  template <typename C>
  static C Finish(C acc, int64_t n) {
    if constexpr (std::is_integral_v<C>) {
      if (n == 0) return 0;  // integer 0 / 0 would trap
    }
    return acc / static_cast<C>(n);
  }
};

// sqrt of the sum of squares.
struct L2Reducer : SumReducer {
  template <typename C>
  static C Step(C acc, C x) {
    return Wrapping(acc, Wrapping(x, x, [](auto a, auto b) { return a * b; }),
                    [](auto a, auto b) { return a + b; });
  }
  template <typename C>
  static C Finish(C acc, int64_t) {
    return static_cast<C>(std::sqrt(acc));
  }
};

struct ProdReducer : SumReducer {
  template <typename C>
  static C Init() {
    return C{1};
  }
  template <typename C>
  static C Step(C acc, C x) {
    return Wrapping(acc, x, [](auto a, auto b) { return a * b; });
  }
  template <typename C>
  static C Merge(C a, C b) {
    return Step(a, b);
  }
};

// Max and Min propagate NaN (`x != x` only for NaN); the empty reduction gives -inf / +inf, or
// the type's lowest / highest value for integers (ONNX opset 18).
struct MaxReducer : SumReducer {
  template <typename C>
  static C Init() {
    return std::numeric_limits<C>::has_infinity ? -std::numeric_limits<C>::infinity()
                                                : std::numeric_limits<C>::lowest();
  }
  template <typename C>
  static C Step(C acc, C x) {
    return (x > acc || x != x) ? x : acc;
  }
  template <typename C>
  static C Merge(C a, C b) {
    return Step(a, b);
  }
};

struct MinReducer : SumReducer {
  template <typename C>
  static C Init() {
    return std::numeric_limits<C>::has_infinity ? std::numeric_limits<C>::infinity()
                                                : std::numeric_limits<C>::max();
  }
  template <typename C>
  static C Step(C acc, C x) {
    return (x < acc || x != x) ? x : acc;
  }
  template <typename C>
  static C Merge(C a, C b) {
    return Step(a, b);
  }
};

// Folds n contiguous values into 8 interleaved partial results, then merges them: independent
// lanes let the compiler vectorise without reassociating one sequential chain.
template <typename R, typename T>
auto ReduceContiguous(const T* x, int64_t n) {
  using C = typename ComputeType<T>::type;
  constexpr int kLanes = 8;
  C lanes[kLanes];
  for (C& lane : lanes) lane = R::template Init<C>();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] = R::Step(lanes[l], Widen(x[i + l]));
  }
  for (; i < n; ++i) lanes[0] = R::Step(lanes[0], Widen(x[i]));
  C acc = lanes[0];
  for (int l = 1; l < kLanes; ++l) acc = R::Merge(acc, lanes[l]);
  return acc;
}

// Outputs reduced side by side when the kept innermost dim is contiguous (e.g. a mean over
// tokens of [B, S, D]): the block walks whole input rows instead of one strided column.
constexpr int64_t kColumnBlock = 64;

// Which input dims a reduction keeps and which it folds, as two loops over the input: `kept`
// walks the output elements, `folded` walks the values of one output element.
struct ReducePlan final : OpState {  // made once per plan (OpKernel::Prepare)
  StridedLoop kept;
  StridedLoop folded;
  int64_t count = 1;  // values per output element
  Shape out_shape;
};

ReducePlan MakeReducePlan(const Shape& in, const std::vector<bool>& reduced, bool keepdims) {
  const std::vector<int64_t> strides = DenseStrides(in);
  Shape kept_dims, folded_dims;
  std::vector<int64_t> kept_strides, folded_strides;
  ReducePlan plan;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) {
      folded_dims.push_back(in[d]);
      folded_strides.push_back(strides[d]);
      plan.count *= in[d];
      if (keepdims) plan.out_shape.push_back(1);
    } else {
      kept_dims.push_back(in[d]);
      kept_strides.push_back(strides[d]);
      plan.out_shape.push_back(in[d]);
    }
  }
  plan.kept = MakeStridedLoop(kept_dims, {kept_strides});
  plan.folded = MakeStridedLoop(folded_dims, {folded_strides});
  return plan;
}

// Reduces n adjacent outputs into dst[0, n). Their values sit at src[base + j + f] for the
// folded offsets f, which are visited in the same order for every output: one contiguous run
// (n == 1) or, when the kept innermost dim is contiguous, a block of columns in lockstep.
template <typename R, typename T>
void ReduceOutputs(const StridedLoop& folded, int64_t count, const T* src, int64_t n, T* dst) {
  using C = typename ComputeType<T>::type;
  C acc[kColumnBlock];
  for (int64_t j = 0; j < n; ++j) acc[j] = R::template Init<C>();
  const int64_t step = folded.inner_stride[0];
  for (int64_t row = 0; row < folded.rows && count != 0; ++row) {
    int64_t offset;
    folded.RowOffsets(row, &offset);
    const T* run = src + offset;
    if (step == 1) {  // then n == 1
      acc[0] = R::Merge(acc[0], ReduceContiguous<R>(run, folded.inner));
      continue;
    }
    for (int64_t i = 0; i < folded.inner; ++i) {
      for (int64_t j = 0; j < n; ++j) acc[j] = R::Step(acc[j], Widen(run[i * step + j]));
    }
  }
  for (int64_t j = 0; j < n; ++j) dst[j] = Narrow<T>(R::Finish(acc[j], count));
}

template <typename R, typename T>
void RunReduce(const ReducePlan& plan, const Tensor& x, Tensor& y, ThreadPool& pool) {
  const StridedLoop& kept = plan.kept;
  const bool columns = kept.inner_stride[0] == 1 && plan.folded.inner_stride[0] != 1;
  ParallelChunks(
      pool, y.size(), kParallelChunk / std::max<int64_t>(plan.count, 1),
      [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end;) {
          const int64_t column = o % kept.inner;
          const int64_t n = columns ? std::min({kColumnBlock, end - o, kept.inner - column}) : 1;
          int64_t base;
          kept.RowOffsets(o / kept.inner, &base);
          base += column * kept.inner_stride[0];
          ReduceOutputs<R>(plan.folded, plan.count, x.data<T>() + base, n, y.data<T>() + o);
          o += n;
        }
      });
}

template <typename R>
class ReduceKernel final : public OpKernel {
 public:
  // axes_input_version: the first opset that takes axes as an input (13 for ReduceSum, else 18).
  ReduceKernel(const KernelInit& init, int axes_input_version)
      : axes_from_input_(init.since_version >= axes_input_version),
        axes_(init.node.GetInts("axes", {})),
        keepdims_(init.node.GetInt("keepdims", 1) != 0),
        noop_with_empty_axes_(init.node.GetInt("noop_with_empty_axes", 0) != 0) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, axes_from_input_ ? 2 : 1);
    RequireDType(*in[0], {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt64}, "input");
    (*out)[0] = Tensor::Meta(in[0]->dtype(), Plan(in).out_shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return std::make_shared<ReducePlan>(Plan(in));
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const ReducePlan& plan = PreparedState<ReducePlan>(ctx);
    VisitNumeric(in[0]->dtype(), [&](auto zero) {
      RunReduce<R, decltype(zero)>(plan, *in[0], *out[0], *ctx.pool);
    });
  }

 private:
  ReducePlan Plan(const std::vector<const Tensor*>& in) const {
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_ && in.size() == 2 && in[1] != nullptr) {
      axes = ReadInts(in[1], "the axes input");
    }
    const int rank = in[0]->rank();
    std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty() && !noop_with_empty_axes_);
    for (int a : NormalizeAxes(axes, rank)) reduced[static_cast<size_t>(a)] = true;
    return MakeReducePlan(in[0]->shape(), reduced, keepdims_);
  }

  bool axes_from_input_;
  std::vector<int64_t> axes_;
  bool keepdims_;
  bool noop_with_empty_axes_;
};

template <typename R, int kAxesInputVersion>
std::unique_ptr<OpKernel> MakeReduce(const KernelInit& init) {
  return std::make_unique<ReduceKernel<R>>(init, kAxesInputVersion);
}

// ArgMax / ArgMin along `axis` -> int64 indices; ties pick the first index, or the last with
// select_last_index (opset 12).
class ArgKernel final : public OpKernel {
 public:
  explicit ArgKernel(const KernelInit& init)
      : is_max_(init.node.op_type == "ArgMax"),
        axis_(init.node.GetInt("axis", 0)),
        keepdims_(init.node.GetInt("keepdims", 1) != 0),
        select_last_(init.node.GetInt("select_last_index", 0) != 0) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt64}, "input");
    const int axis = NormalizeAxis(axis_, in[0]->rank());
    if (in[0]->dim(axis) == 0) throw Error("cannot take the arg max/min of an empty axis");
    (*out)[0] = Tensor::Meta(DType::kInt64, Plan(*in[0]).out_shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return std::make_shared<ReducePlan>(Plan(*in[0]));
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const ReducePlan& plan = PreparedState<ReducePlan>(ctx);
    const bool is_max = is_max_, select_last = select_last_;
    VisitNumeric(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      const T* src = in[0]->data<T>();
      int64_t* dst = out[0]->data<int64_t>();
      const int64_t step =
          DenseStrides(in[0]->shape())[static_cast<size_t>(NormalizeAxis(axis_, in[0]->rank()))];
      ParallelChunks(
          *ctx.pool, out[0]->size(), kParallelChunk / plan.count, [&](int64_t begin, int64_t end) {
            for (int64_t o = begin; o < end; ++o) {
              int64_t base;
              plan.kept.RowOffsets(o / plan.kept.inner, &base);
              base += o % plan.kept.inner * plan.kept.inner_stride[0];
              int64_t best = 0;
              auto best_value = Widen(src[base]);
              for (int64_t i = 1; i < plan.count; ++i) {
                const auto v = Widen(src[base + i * step]);
                const bool better = is_max ? (select_last ? v >= best_value : v > best_value)
                                           : (select_last ? v <= best_value : v < best_value);
                if (better) best = i, best_value = v;
              }
              dst[o] = best;
            }
          });
    });
  }

 private:
  ReducePlan Plan(const Tensor& x) const {
    std::vector<bool> reduced(static_cast<size_t>(x.rank()), false);
    reduced[static_cast<size_t>(NormalizeAxis(axis_, x.rank()))] = true;
    return MakeReducePlan(x.shape(), reduced, keepdims_);
  }

  bool is_max_;
  int64_t axis_;
  bool keepdims_;
  bool select_last_;
};

}  // namespace

void RegisterReduceOps(OpRegistry& r) {
  r.Add({"", "ReduceSum", 1, &MakeReduce<SumReducer, 13>});
  r.Add({"", "ReduceSum", 13, &MakeReduce<SumReducer, 13>});
  r.Add({"", "ReduceMean", 1, &MakeReduce<MeanReducer, 18>});
  r.Add({"", "ReduceMean", 18, &MakeReduce<MeanReducer, 18>});
  r.Add({"", "ReduceMax", 1, &MakeReduce<MaxReducer, 18>});
  r.Add({"", "ReduceMax", 18, &MakeReduce<MaxReducer, 18>});
  r.Add({"", "ReduceMin", 1, &MakeReduce<MinReducer, 18>});
  r.Add({"", "ReduceMin", 18, &MakeReduce<MinReducer, 18>});
  r.Add({"", "ReduceProd", 1, &MakeReduce<ProdReducer, 18>});
  r.Add({"", "ReduceProd", 18, &MakeReduce<ProdReducer, 18>});
  r.Add({"", "ReduceL2", 1, &MakeReduce<L2Reducer, 18>});
  r.Add({"", "ReduceL2", 18, &MakeReduce<L2Reducer, 18>});
  r.Add({"", "ArgMax", 1, &MakeKernel<ArgKernel>});
  r.Add({"", "ArgMin", 1, &MakeKernel<ArgKernel>});
}

}  // namespace qclip

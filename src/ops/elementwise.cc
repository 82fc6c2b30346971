// Elementwise ONNX ops: arithmetic and comparisons with multidirectional broadcasting
// (https://onnx.ai/onnx/repo-docs/Broadcasting.html), logical ops, Where, Pow, Max/Min, and the
// unary Not, IsNaN, IsInf, Identity and Cast. Numerics follow ONNX Runtime's CPU kernels so
// outputs match it bit for bit where the op is exact.
//
// bool tensors are bytes; kernels write 0 or 1 and read any non-zero byte as true.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"

namespace qclip {
namespace {

// ---------------------------------------------------------------------------------------------
// Scalar functions

struct AddOp {
  template <typename T>
  T operator()(T a, T b) const {
    return Wrapping(a, b, [](auto x, auto y) { return x + y; });
  }
};
struct SubOp {
  template <typename T>
  T operator()(T a, T b) const {
    return Wrapping(a, b, [](auto x, auto y) { return x - y; });
  }
};
struct MulOp {
  template <typename T>
  T operator()(T a, T b) const {
    return Wrapping(a, b, [](auto x, auto y) { return x * y; });
  }
};
// Integer division truncates toward zero, as in C and ONNX Runtime. Division by zero (which
// would trap) gives 0, and MIN / -1 wraps to MIN.
struct DivOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return 0;
      if (b == -1) return Wrapping(T{0}, a, [](auto x, auto y) { return x - y; });
    }
    return a / b;
  }
};
// Max/Min propagate NaN like ONNX Runtime (Eigen PropagateNaN); `a != a` only for NaN.
struct MaxOp {
  template <typename T>
  T operator()(T a, T b) const {
    return (a > b || a != a) ? a : b;
  }
};
struct MinOp {
  template <typename T>
  T operator()(T a, T b) const {
    return (a < b || a != a) ? a : b;
  }
};

struct EqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a == b;
  }
};
struct LessOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a < b;
  }
};
struct LessOrEqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct GreaterOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a > b;
  }
};
struct GreaterOrEqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a >= b;
  }
};

struct AndOp {
  bool operator()(bool a, bool b) const { return a && b; }
};
struct OrOp {
  bool operator()(bool a, bool b) const { return a || b; }
};
struct XorOp {
  bool operator()(bool a, bool b) const { return a != b; }
};

// Float to integer conversion truncates toward zero like C++ and ONNX Runtime; where C++ is
// undefined (NaN, out of range) we saturate and map NaN to 0 instead of producing garbage.
template <typename To, typename From>
To FloatToInt(From v) {
  if (!(v == v)) return 0;
  if (v <= static_cast<From>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
  // max() may round up to 2^n in From; >= then catches every value that does not fit.
  if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
  return static_cast<To>(v);
}

// ---------------------------------------------------------------------------------------------
// Loops

// out[i] = fn(a[i * a_step], b[i * b_step]) with steps 0 or 1; the four cases are separate loops
// so the compiler vectorises each.
template <typename A, typename B, typename O, typename Fn>
void BinaryRun(const A* a, int64_t a_step, const B* b, int64_t b_step, O* out, int64_t n,
               const Fn& fn) {
  if (a_step == 1 && b_step == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = fn(a[i], b[i]);
  } else if (a_step == 1) {
    const B y = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = fn(a[i], y);
  } else if (b_step == 1) {
    const A x = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = fn(x, b[i]);
  } else {
    const O v = fn(*a, *b);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

// The loops of a broadcasting op over its output, made once per plan (OpKernel::Prepare).
struct BroadcastLoops final : OpState {
  std::vector<StridedLoop> loops;
};

// For binary ops folded over their inputs: loops[0] walks in[0] and in[1] over `out`, loops[i - 1]
// (i >= 2) the running result (out itself) and in[i].
std::shared_ptr<const OpState> PrepareBinaryLoops(const Shape& out,
                                                  const std::vector<const Tensor*>& in) {
  auto state = std::make_shared<BroadcastLoops>();
  if (in.size() >= 2) {
    state->loops.push_back(MakeBroadcastLoop(out, {&in[0]->shape(), &in[1]->shape()}));
  }
  for (size_t i = 2; i < in.size(); ++i) {
    state->loops.push_back(MakeBroadcastLoop(out, {&out, &in[i]->shape()}));
  }
  return state;
}

// out = fn(a, b) with a and b broadcast to out's shape along `loop` (PrepareBinaryLoops).
template <typename A, typename B, typename O, typename Fn>
void BroadcastBinary(const StridedLoop& loop, const Tensor& a, const Tensor& b, Tensor& out,
                     ThreadPool& pool, const Fn& fn) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  O* po = out.data<O>();
  ForEachRun(loop, pool, [&](const int64_t* offsets, int64_t out_offset, int64_t n) {
    BinaryRun(pa + offsets[0], loop.inner_stride[0], pb + offsets[1], loop.inner_stride[1],
              po + out_offset, n, fn);
  });
}

// out[i] = fn(in[i]) for same-shape tensors.
template <typename I, typename O, typename Fn>
void MapElements(const Tensor& in, Tensor& out, ThreadPool& pool, const Fn& fn) {
  const I* src = in.data<I>();
  O* dst = out.data<O>();
  ParallelChunks(pool, in.size(), kParallelChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = fn(src[i]);
  });
}

constexpr std::initializer_list<DType> kNumeric = {DType::kFloat32, DType::kFloat16, DType::kInt32,
                                                   DType::kInt64};

// Checks that inputs [first, in.size()) share in[first]'s dtype and returns their broadcast shape.
Shape SameDTypeBroadcast(const std::vector<const Tensor*>& in, size_t first) {
  Shape shape = in[first]->shape();
  for (size_t i = first + 1; i < in.size(); ++i) {
    if (in[i] == nullptr) throw Error("input " + std::to_string(i) + " is missing");
    if (in[i]->dtype() != in[first]->dtype()) {
      throw Error(std::string("inputs have different dtypes: ") + DTypeName(in[first]->dtype()) +
                  " and " + DTypeName(in[i]->dtype()));
    }
    shape = BroadcastShapes(shape, in[i]->shape());
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------
// Kernels

// Add, Sub, Mul, Div (two inputs) and Max, Min (one or more): numeric inputs of one dtype,
// broadcast; the output has that dtype.
template <typename Op, size_t kMaxInputs>
class ArithmeticKernel final : public OpKernel {
 public:
  explicit ArithmeticKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, kMaxInputs == 2 ? 2 : 1, kMaxInputs);
    RequireDType(*in[0], kNumeric, "input");
    (*out)[0] = Tensor::Meta(in[0]->dtype(), SameDTypeBroadcast(in, 0));
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return PrepareBinaryLoops(SameDTypeBroadcast(in, 0), in);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    Tensor& y = *out[0];
    if (in.size() == 1) return CopyData(*in[0], y);
    const std::vector<StridedLoop>& loops = PreparedState<BroadcastLoops>(ctx).loops;
    VisitNumeric(y.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const auto fn = [](T a, T b) { return Narrow<T>(Op()(Widen(a), Widen(b))); };
      // Variadic Max/Min fold into the output: y = op(op(in0, in1), in2)...
      BroadcastBinary<T, T, T>(loops[0], *in[0], *in[1], y, *ctx.pool, fn);
      for (size_t i = 2; i < in.size(); ++i) {
        BroadcastBinary<T, T, T>(loops[i - 1], y, *in[i], y, *ctx.pool, fn);
      }
    });
  }
};

// Equal, Less, LessOrEqual, Greater, GreaterOrEqual: two inputs of one dtype -> bool.
template <typename Op>
class CompareKernel final : public OpKernel {
 public:
  explicit CompareKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    if constexpr (std::is_same_v<Op, EqualOp>) {
      RequireDType(*in[0],
                   {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt64, DType::kBool},
                   "input");
    } else {
      RequireDType(*in[0], kNumeric, "input");
    }
    (*out)[0] = Tensor::Meta(DType::kBool, SameDTypeBroadcast(in, 0));
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return PrepareBinaryLoops(SameDTypeBroadcast(in, 0), in);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const StridedLoop& loop = PreparedState<BroadcastLoops>(ctx).loops[0];
    if (in[0]->dtype() == DType::kBool) {
      return BroadcastBinary<uint8_t, uint8_t, uint8_t>(
          loop, *in[0], *in[1], *out[0], *ctx.pool,
          [](uint8_t a, uint8_t b) -> uint8_t { return Op()(a != 0, b != 0); });
    }
    VisitNumeric(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      BroadcastBinary<T, T, uint8_t>(loop, *in[0], *in[1], *out[0], *ctx.pool,
                                     [](T a, T b) -> uint8_t { return Op()(Widen(a), Widen(b)); });
    });
  }
};

// And, Or, Xor: bool x bool -> bool.
template <typename Op>
class LogicalKernel final : public OpKernel {
 public:
  explicit LogicalKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    RequireDType(*in[0], {DType::kBool}, "input");
    (*out)[0] = Tensor::Meta(DType::kBool, SameDTypeBroadcast(in, 0));
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return PrepareBinaryLoops(SameDTypeBroadcast(in, 0), in);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    BroadcastBinary<uint8_t, uint8_t, uint8_t>(
        PreparedState<BroadcastLoops>(ctx).loops[0], *in[0], *in[1], *out[0], *ctx.pool,
        [](uint8_t a, uint8_t b) -> uint8_t { return Op()(a != 0, b != 0); });
  }
};

// Pow(X, Y): X numeric, Y numeric of any dtype; the output has X's dtype. Like ONNX Runtime, a
// single-element exponent of 2 or 3 multiplies (x * x is exactly powf(x, 2)), float ^ float
// uses powf, and every other pairing computes std::pow in double.
class PowKernel final : public OpKernel {
 public:
  explicit PowKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 2, 2);
    RequireDType(*in[0], kNumeric, "base");
    RequireDType(*in[1], kNumeric, "exponent");
    (*out)[0] = Tensor::Meta(in[0]->dtype(), BroadcastShapes(in[0]->shape(), in[1]->shape()));
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    return PrepareBinaryLoops(BroadcastShapes(in[0]->shape(), in[1]->shape()), in);
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    VisitNumeric(in[0]->dtype(), [&](auto base_zero) {
      VisitNumeric(in[1]->dtype(), [&](auto exponent_zero) {
        RunTyped<decltype(base_zero), decltype(exponent_zero)>(*in[0], *in[1], *out[0], ctx);
      });
    });
  }

 private:
  template <typename T, typename E>
  static void RunTyped(const Tensor& x, const Tensor& y, Tensor& out, RunContext& ctx) {
    using C = typename ComputeType<T>::type;
    using D = typename ComputeType<E>::type;
    if (y.size() == 1) {
      const D e = Widen(*y.data<E>());
      if (e == 2) {
        return MapElements<T, T>(x, out, *ctx.pool, [](T v) {
          const C c = Widen(v);
          return Narrow<T>(MulOp()(c, c));
        });
      }
      if (e == 3) {
        return MapElements<T, T>(x, out, *ctx.pool, [](T v) {
          const C c = Widen(v);
          return Narrow<T>(MulOp()(MulOp()(c, c), c));
        });
      }
    }
    BroadcastBinary<T, E, T>(PreparedState<BroadcastLoops>(ctx).loops[0], x, y, out, *ctx.pool,
                             [](T a, E b) { return Narrow<T>(Power<C>(Widen(a), Widen(b))); });
  }

  template <typename C, typename D>
  static C Power(C x, D e) {
    if constexpr (std::is_same_v<C, float> && std::is_same_v<D, float>) {
      return std::pow(x, e);
    } else if constexpr (std::is_integral_v<C>) {
      return FloatToInt<C>(std::pow(static_cast<double>(x), static_cast<double>(e)));
    } else {
      return static_cast<C>(std::pow(static_cast<double>(x), static_cast<double>(e)));
    }
  }
};

// Where(cond, X, Y): out = cond ? X : Y with three-way broadcasting; X and Y of any one dtype.
class WhereKernel final : public OpKernel {
 public:
  explicit WhereKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 3, 3);
    RequireDType(*in[0], {DType::kBool}, "condition");
    const Shape shape = BroadcastShapes(in[0]->shape(), SameDTypeBroadcast(in, 1));
    (*out)[0] = Tensor::Meta(in[1]->dtype(), shape);
  }

  std::shared_ptr<const OpState> Prepare(const std::vector<const Tensor*>& in, int) const override {
    const Shape shape = BroadcastShapes(in[0]->shape(), SameDTypeBroadcast(in, 1));
    auto state = std::make_shared<BroadcastLoops>();
    state->loops.push_back(
        MakeBroadcastLoop(shape, {&in[0]->shape(), &in[1]->shape(), &in[2]->shape()}));
    return state;
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    // Selection only moves bits, so one loop per element size serves every dtype.
    VisitBits(DTypeSize(in[1]->dtype()),
              [&](auto zero) { Select<decltype(zero)>(in, *out[0], ctx); });
  }

 private:
  template <typename T>
  static void Select(const std::vector<const Tensor*>& in, Tensor& out, RunContext& ctx) {
    const StridedLoop& loop = PreparedState<BroadcastLoops>(ctx).loops[0];
    const uint8_t* cond = in[0]->data<uint8_t>();
    const T* x = in[1]->data<T>();
    const T* y = in[2]->data<T>();
    T* dst = out.data<T>();
    const int64_t* step = loop.inner_stride;
    ForEachRun(loop, *ctx.pool, [&](const int64_t* offsets, int64_t out_offset, int64_t n) {
      const uint8_t* c = cond + offsets[0];
      const T* a = x + offsets[1];
      const T* b = y + offsets[2];
      T* o = dst + out_offset;
      if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? a[i] : b[i];
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = c[i * step[0]] ? a[i * step[1]] : b[i * step[2]];
      }
    });
  }
};

class NotKernel final : public OpKernel {
 public:
  explicit NotKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kBool}, "input");
    (*out)[0] = Tensor::Meta(DType::kBool, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    MapElements<uint8_t, uint8_t>(*in[0], *out[0], *ctx.pool,
                                  [](uint8_t v) -> uint8_t { return v == 0; });
  }
};

// IsNaN and IsInf (with detect_negative / detect_positive, opset 10): float -> bool.
class FloatClassKernel final : public OpKernel {
 public:
  explicit FloatClassKernel(const KernelInit& init)
      : is_nan_(init.node.op_type == "IsNaN"),
        detect_negative_(init.node.GetInt("detect_negative", 1) != 0),
        detect_positive_(init.node.GetInt("detect_positive", 1) != 0) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kFloat32, DType::kFloat16}, "input");
    (*out)[0] = Tensor::Meta(DType::kBool, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const bool is_nan = is_nan_, negative = detect_negative_, positive = detect_positive_;
    const auto classify = [=](float v) -> uint8_t {
      if (is_nan) return std::isnan(v);
      return std::isinf(v) && (v > 0 ? positive : negative);
    };
    if (in[0]->dtype() == DType::kFloat32) {
      MapElements<float, uint8_t>(*in[0], *out[0], *ctx.pool, classify);
    } else {
      MapElements<Half, uint8_t>(*in[0], *out[0], *ctx.pool,
                                 [&](Half h) { return classify(HalfToFloat(h.bits)); });
    }
  }

 private:
  bool is_nan_, detect_negative_, detect_positive_;
};

class IdentityKernel final : public OpKernel {
 public:
  explicit IdentityKernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    (*out)[0] = Tensor::Meta(in[0]->dtype(), in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext&) const override {
    CopyData(*in[0], *out[0]);
  }
  bool OutputIsInput() const override { return true; }
};

// Cast between float32, float16, int64, int32, int8, uint8 and bool (opset 6+: `to` is a
// TensorProto.DataType, which DType mirrors).
class CastKernel final : public OpKernel {
 public:
  explicit CastKernel(const KernelInit& init) : to_(static_cast<DType>(init.node.GetInt("to"))) {
    const int64_t to = init.node.GetInt("to");
    if (DTypeSize(to_) == 0 || to != static_cast<int64_t>(to_)) {
      throw Error("Cast to data type " + std::to_string(to) + " is not supported");
    }
  }

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], kCastable, "input");
    (*out)[0] = Tensor::Meta(to_, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    if (in[0]->dtype() == to_) return CopyData(*in[0], *out[0]);
    VisitCastable(in[0]->dtype(), [&](auto from_zero) {
      VisitCastable(to_, [&](auto to_zero) {
        using From = decltype(from_zero);
        using To = decltype(to_zero);
        MapElements<From, To>(*in[0], *out[0], *ctx.pool,
                              [](From v) { return Convert<To>(Load(v)); });
      });
    });
  }

 private:
  static constexpr std::initializer_list<DType> kCastable = {
      DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kInt32,
      DType::kInt8,    DType::kUInt8,   DType::kBool};

  // bool's storage type, distinct from uint8_t so conversions can tell them apart.
  struct Bool {
    uint8_t value;
  };

  template <typename Fn>
  static void VisitCastable(DType dtype, const Fn& fn) {
    switch (dtype) {
      case DType::kFloat32:
        return fn(float{});
      case DType::kFloat16:
        return fn(Half{});
      case DType::kInt64:
        return fn(int64_t{});
      case DType::kInt32:
        return fn(int32_t{});
      case DType::kInt8:
        return fn(int8_t{});
      case DType::kUInt8:
        return fn(uint8_t{});
      case DType::kBool:
        return fn(Bool{});
      default:
        return;
    }
  }

  // Storage value -> a C++ arithmetic value.
  static float Load(Half v) { return HalfToFloat(v.bits); }
  static bool Load(Bool v) { return v.value != 0; }
  template <typename T>
  static T Load(T v) {
    return v;
  }

  // C++ arithmetic value -> storage value of To.
  template <typename To, typename V>
  static To Convert(V v) {
    if constexpr (std::is_same_v<To, Bool>) {
      return Bool{static_cast<uint8_t>(v != 0)};
    } else if constexpr (std::is_same_v<To, Half>) {
      return Half{FloatToHalf(static_cast<float>(v))};
    } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<V>) {
      return FloatToInt<To>(v);
    } else {
      return static_cast<To>(v);  // integers wrap modulo 2^n, as static_cast does
    }
  }

  DType to_;
};

}  // namespace

void RegisterElementwiseOps(OpRegistry& r) {
  // Versions: the first opset with today's semantics (multidirectional broadcasting from 7,
  // variadic broadcasting Max/Min from 8, Cast's integer `to` from 6).
  r.Add({"", "Add", 7, &MakeKernel<ArithmeticKernel<AddOp, 2>>});
  r.Add({"", "Sub", 7, &MakeKernel<ArithmeticKernel<SubOp, 2>>});
  r.Add({"", "Mul", 7, &MakeKernel<ArithmeticKernel<MulOp, 2>>});
  r.Add({"", "Div", 7, &MakeKernel<ArithmeticKernel<DivOp, 2>>});
  r.Add({"", "Max", 8, &MakeKernel<ArithmeticKernel<MaxOp, SIZE_MAX>>});
  r.Add({"", "Min", 8, &MakeKernel<ArithmeticKernel<MinOp, SIZE_MAX>>});
  r.Add({"", "Pow", 7, &MakeKernel<PowKernel>});
  r.Add({"", "Equal", 7, &MakeKernel<CompareKernel<EqualOp>>});
  r.Add({"", "Less", 7, &MakeKernel<CompareKernel<LessOp>>});
  r.Add({"", "LessOrEqual", 12, &MakeKernel<CompareKernel<LessOrEqualOp>>});
  r.Add({"", "Greater", 7, &MakeKernel<CompareKernel<GreaterOp>>});
  r.Add({"", "GreaterOrEqual", 12, &MakeKernel<CompareKernel<GreaterOrEqualOp>>});
  r.Add({"", "And", 7, &MakeKernel<LogicalKernel<AndOp>>});
  r.Add({"", "Or", 7, &MakeKernel<LogicalKernel<OrOp>>});
  r.Add({"", "Xor", 7, &MakeKernel<LogicalKernel<XorOp>>});
  r.Add({"", "Where", 9, &MakeKernel<WhereKernel>});
  r.Add({"", "Not", 1, &MakeKernel<NotKernel>});
  r.Add({"", "IsNaN", 9, &MakeKernel<FloatClassKernel>});
  r.Add({"", "IsInf", 10, &MakeKernel<FloatClassKernel>});
  r.Add({"", "Identity", 1, &MakeKernel<IdentityKernel>});
  r.Add({"", "Cast", 6, &MakeKernel<CastKernel>});
}

}  // namespace qclip

// Unary float ops over kernels/activation: Erf, Gelu, Tanh, Sigmoid, Relu, Exp, Log, Sqrt, Neg,
// Abs, Reciprocal. Neg, Abs and Relu also take int32/int64 (plain loops; in exported models they
// only see shape arithmetic).
//
// Gelu-20: approximate = "none" (x/2 * (1 + erf(x/sqrt(2)))) or "tanh". Elements are spread over
// the pool in fixed chunks; every element is computed on its own, so results do not depend on
// the thread count.
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

template <typename T>
T IntegerUnary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::kNeg:  // wraps like every runtime: -INT_MIN = INT_MIN
      return Wrapping(T{0}, x, [](auto a, auto b) { return a - b; });
    case UnaryOp::kAbs:
      return x < 0 ? Wrapping(T{0}, x, [](auto a, auto b) { return a - b; }) : x;
    case UnaryOp::kRelu:
      return x < 0 ? T{0} : x;
    default:
      return x;
  }
}

// UnaryOp per op type; the factory looks the node's op up here.
UnaryOp OpFor(const KernelInit& init) {
  const std::string& type = init.node.op_type;
  if (type == "Gelu") {
    const std::string approximate = init.node.GetString("approximate", "none");
    if (approximate == "none") return UnaryOp::kGeluErf;
    if (approximate == "tanh") return UnaryOp::kGeluTanh;
    throw Error("Gelu approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  }
  static const struct {
    const char* type;
    UnaryOp op;
  } kOps[] = {{"Erf", UnaryOp::kErf},         {"Tanh", UnaryOp::kTanh},
              {"Sigmoid", UnaryOp::kSigmoid}, {"Relu", UnaryOp::kRelu},
              {"Exp", UnaryOp::kExp},         {"Log", UnaryOp::kLog},
              {"Sqrt", UnaryOp::kSqrt},       {"Neg", UnaryOp::kNeg},
              {"Abs", UnaryOp::kAbs},         {"Reciprocal", UnaryOp::kReciprocal}};
  for (const auto& entry : kOps) {
    if (type == entry.type) return entry.op;
  }
  throw Error("no unary kernel for " + type);
}

class UnaryKernel final : public OpKernel {
 public:
  explicit UnaryKernel(const KernelInit& init) : op_(OpFor(init)) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    const bool integers_too = op_ == UnaryOp::kNeg || op_ == UnaryOp::kAbs || op_ == UnaryOp::kRelu;
    if (integers_too) {
      RequireDType(*in[0], {DType::kFloat32, DType::kInt32, DType::kInt64}, "the input");
    } else {
      RequireDType(*in[0], {DType::kFloat32}, "the input");
    }
    (*out)[0] = Tensor::Meta(in[0]->dtype(), in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const Tensor& x = *in[0];
    Tensor& y = *out[0];
    ParallelChunks(*ctx.pool, x.size(), kParallelChunk, [&](int64_t begin, int64_t end) {
      switch (x.dtype()) {
        case DType::kFloat32:
          return UnaryF32(op_, x.data<float>() + begin, y.data<float>() + begin,
                          static_cast<size_t>(end - begin));
        case DType::kInt32:
          return IntegerLoop(x.data<int32_t>(), y.data<int32_t>(), begin, end);
        case DType::kInt64:
          return IntegerLoop(x.data<int64_t>(), y.data<int64_t>(), begin, end);
        default:
          return;
      }
    });
  }

 private:
  template <typename T>
  void IntegerLoop(const T* x, T* y, int64_t begin, int64_t end) const {
    for (int64_t i = begin; i < end; ++i) y[i] = IntegerUnary(op_, x[i]);
  }

  UnaryOp op_;
};

}  // namespace

void RegisterActivationOps(OpRegistry& r) {
  // The first version with today's semantics for float (earlier ones had consumed_inputs).
  for (const char* type :
       {"Tanh", "Sigmoid", "Relu", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal"}) {
    r.Add({"", type, 6, &MakeKernel<UnaryKernel>});
  }
  r.Add({"", "Erf", 9, &MakeKernel<UnaryKernel>});
  r.Add({"", "Gelu", 20, &MakeKernel<UnaryKernel>});
}

}  // namespace qclip

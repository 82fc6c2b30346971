// qclip.RoundToFloat16 (since 1): y = x rounded to the nearest IEEE binary16 value, ties to
// even, kept in float32. PromoteFloat16 (src/graph/float16.cc) inserts it where ONNX Runtime's
// CPU provider holds a float16 model's tensor in float16 while qclip runs the model in float32.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {
namespace {

float RoundToFloat16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const uint32_t sign = bits & 0x80000000u;
  uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude >= 0x7F800000u) return x;  // infinity or NaN: unchanged
  if (magnitude >= 0x477FF000u) {
    // 65520 lies halfway between 65504, the largest float16, and 2^16: ties to even rounds it,
    // and everything above, to infinity.
    magnitude = 0x7F800000u;
  } else if (magnitude >= 0x38800000u) {
    // At least 2^-14, a normal float16: round the 23 mantissa bits to 10, to nearest even. A
    // carry out of the mantissa correctly bumps the exponent.
    magnitude = (magnitude + 0xFFFu + ((magnitude >> 13) & 1u)) & ~0x1FFFu;
  } else {
    // A float16 subnormal (or zero): a multiple of 2^-24. Near 0.5 float32's spacing is 2^-24,
    // so adding 0.5 rounds to that multiple, ties to even, and subtracting it is exact.
    float f;
    std::memcpy(&f, &magnitude, sizeof(f));
    f = (f + 0.5f) - 0.5f;
    std::memcpy(&magnitude, &f, sizeof(f));
  }
  bits = sign | magnitude;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

class RoundToFloat16Kernel final : public OpKernel {
 public:
  explicit RoundToFloat16Kernel(const KernelInit&) {}

  void Infer(const std::vector<const Tensor*>& in, std::vector<Tensor>* out) const override {
    RequireInputs(in, 1, 1);
    RequireDType(*in[0], {DType::kFloat32}, "the input");
    (*out)[0] = Tensor::Meta(DType::kFloat32, in[0]->shape());
  }

  void Run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out,
           RunContext& ctx) const override {
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    // Elementwise and exact: any split gives the same result; chunks amortise the dispatch.
    constexpr int64_t kChunk = 64 * 1024;
    const int64_t n = in[0]->size();
    ctx.pool->ParallelFor((n + kChunk - 1) / kChunk, [&](int64_t task, int) {
      const int64_t end = std::min(n, (task + 1) * kChunk);
      for (int64_t i = task * kChunk; i < end; ++i) y[i] = RoundToFloat16(x[i]);
    });
  }
};

std::unique_ptr<OpKernel> MakeRoundToFloat16(const KernelInit& init) {
  return std::make_unique<RoundToFloat16Kernel>(init);
}

}  // namespace

void RegisterFloat16Ops(OpRegistry& r) {
  r.Add({"qclip", "RoundToFloat16", 1, &MakeRoundToFloat16});
}

}  // namespace qclip

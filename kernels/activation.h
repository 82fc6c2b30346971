// Elementwise float math: the unary ONNX ops (Erf, Gelu, Tanh, Sigmoid, ...) and the
// activations the GEMM epilogue applies. SIMD code is in activation-inl.h.
#pragma once

#include <cstddef>

namespace qclip {

enum class UnaryOp {
  kIdentity,
  kErf,
  kGeluErf,   // x/2 * (1 + erf(x/sqrt(2))): ONNX Gelu approximate="none", torch GELU
  kGeluTanh,  // x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))): Gelu approximate="tanh"
  kTanh,
  kSigmoid,
  kRelu,
  kExp,
  kLog,
  kSqrt,
  kNeg,
  kAbs,
  kReciprocal,
};

// out[i] = op(in[i]) for i in [0, n). `in` may equal `out`.
// Erf is within ~1 ulp of the exact value, GeluErf 1.5 ulp (where it exceeds torch's own
// cancellation error in the negative tail), Exp 1 ulp, Tanh 4 ulp (Highway's contrib/math).
void UnaryF32(UnaryOp op, const float* in, float* out, size_t n);

}  // namespace qclip

// Per-vector float math for the unary ops and the GEMM epilogue; included per SIMD target by
// kernels/activation.cc and by other kernels (gemm_f32-inl.h) that apply activations.

// Per-target include guard.
#if defined(QCLIP_KERNELS_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QCLIP_KERNELS_ACTIVATION_INL_H_
#undef QCLIP_KERNELS_ACTIVATION_INL_H_
#else
#define QCLIP_KERNELS_ACTIVATION_INL_H_
#endif

#include <stddef.h>

#include <algorithm>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/activation.h"
#include "kernels/partial_vector-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// c[0] + c[1] x + c[2] x^2 + ... by Horner's rule with fused multiply-adds.
template <class D, size_t kN, class V = hn::Vec<D>>
HWY_INLINE V Polynomial(D d, V x, const float (&c)[kN]) {
  V r = hn::Set(d, c[kN - 1]);
  for (size_t i = kN - 1; i-- > 0;) r = hn::MulAdd(r, x, hn::Set(d, c[i]));
  return r;
}

// erf(x), within 1.0 ulp of the exact value (measured against double-precision erf).
// |x| < 0.921875: erf(x) = x + x * P(x^2). Above: erf(|x|) = 1 - exp(Q(|x|)), Q fitted to
// log(erfc) on [0.921875, 3.925]; beyond 3.925, erf rounds to 1 in float. The coefficients are
// weighted least-squares fits (iterated towards minimax) made for qclip.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erf(D d, V x) {
  static constexpr float kSmall[] = {0.12837915f,   -0.37612495f, 0.112818174f,
                                     -0.026766641f, 0.00499321f,  -0.00059909804f};
  static constexpr float kLarge[] = {0.00017636213f, -1.1295232f,    -0.6333299f,
                                     -0.10829911f,   0.025131952f,   -0.0041759023f,
                                     0.00043547808f, -2.1184265e-05f};
  const V abs_x = hn::Abs(x);
  const V small = hn::MulAdd(x, Polynomial(d, hn::Mul(x, x), kSmall), x);
  const V clamped = hn::Min(abs_x, hn::Set(d, 3.925f));
  const V erf_abs = hn::Sub(hn::Set(d, 1.0f), hn::Exp(d, Polynomial(d, clamped, kLarge)));
  const V large = hn::CopySign(erf_abs, x);
  const V erf = hn::IfThenElse(hn::Lt(abs_x, hn::Set(d, 0.921875f)), small, large);
  return hn::IfThenElse(hn::IsNaN(x), x, erf);
}

// x * Phi(x), Phi the standard normal CDF, from one approximation instead of erf's two branches
// and Highway's general Exp: with e = erfc(|x| / sqrt(2)), Phi(x) = e / 2 for x < 0 and 1 - e / 2
// for x >= 0; e = 2^P(|x|), P fitted to log2(erfc(a / sqrt(2))) on [0, 5.5] (weighted by e, which
// is what the error of either product scales with), 2^P as 2^n * 2^f with n = round(P) put in
// the exponent bits and 2^f, |f| <= 1/2, a polynomial. Beyond |x| = 5.5, e / 2 < 2e-8: Phi is
// 0 or 1 to within the tolerance (x * e / 2 is then below torch's own error, |x| ulp(1) / 2,
// or rounds to x). Within 1.5 ulp of the exact value wherever the result is larger than that
// error (tests/kernels/activation_test.cc); the fits are weighted least squares made for qclip.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluErf(D d, V x) {
  static constexpr float kLog2Erfc[] = {2.1731053e-08f,  -1.1511058f,    -0.45920488f,
                                        -0.0525051f,     0.0070755975f,  -0.00014598639f,
                                        -0.00018248976f, 3.8606064e-05f, -2.770562e-06f};
  static constexpr float kHalfExp2[] = {0.5f,          0.3465736f,     0.12011323f,  0.027751645f,
                                        0.0048092445f, 0.00066999305f, 7.672806e-05f};  // 2^f / 2
  const hn::RebindToSigned<D> di;
  const V abs_x = hn::Abs(x);
  const V bound = hn::Set(d, 5.5f);
  const V p = Polynomial(d, hn::Min(abs_x, bound), kLog2Erfc);  // log2(e), in [-25, 0]
  // p + 1.5 * 2^23 rounds p to the integer n and holds it in the low mantissa bits, whence
  // shifting the bits left by 23 leaves n << 23 (the higher bits shift out): 2^n's exponent.
  const V magic = hn::Set(d, 12582912.0f);
  const V rounded = hn::Add(p, magic);
  const V f = hn::Sub(p, hn::Sub(rounded, magic));
  const auto exponent = hn::ShiftLeft<23>(hn::BitCast(di, rounded));
  V half_e = hn::BitCast(d, hn::Add(hn::BitCast(di, Polynomial(d, f, kHalfExp2)), exponent));
  half_e = hn::IfThenZeroElse(hn::Gt(abs_x, bound), half_e);
  const V phi = hn::IfThenElse(hn::Ge(x, hn::Zero(d)), hn::Sub(hn::Set(d, 1.0f), half_e), half_e);
  return hn::Mul(x, phi);
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluTanh(D d, V x) {
  const V cube = hn::Mul(hn::Mul(x, x), x);
  const V inner = hn::Mul(hn::Set(d, 0.7978846f), hn::MulAdd(hn::Set(d, 0.044715f), cube, x));
  const V half_x = hn::Mul(hn::Set(d, 0.5f), x);
  return hn::Mul(half_x, hn::Add(hn::Set(d, 1.0f), hn::Tanh(d, inner)));
}

// 1 / (1 + exp(-x)), evaluated as e / (1 + e) with e = exp(-|x|) <= 1 for negative x so that
// neither tail overflows or loses relative accuracy.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Sigmoid(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V e = hn::Exp(d, hn::Neg(hn::Abs(x)));
  const V numerator = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, one);
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Div(numerator, hn::Add(one, e)));
}

// exp(x) for x <= 0, the x - max(row) of a softmax, in fewer operations than Highway's general
// Exp: n = round(x / ln 2) (clamped at -127), r = x - n ln 2 with ln 2 in two parts (Cody and
// Waite: n times the 16-bit high part is exact), e^r a degree-6 polynomial on |r| <= ln(2) / 2
// (a relative-error fit made for qclip, within 0.9 ulp in float), times 2^n built in the exponent
// bits. Results below 2^-126 (x < -87.34) are 0; -inf gives 0; NaN stays NaN (it reaches the
// result through r, whatever the clamp does with it). Within 2 ulp of exp(x) elsewhere
// (SoftmaxExpIsWithinTwoUlp, tests/kernels/norm_test.cc).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ExpNonPositive(D d, V x) {
  static constexpr float kExpSmall[] = {1.0f,         1.0f,          0.49999991f,  0.1666642f,
                                        0.041668225f, 0.0083748158f, 0.0013836842f};
  const hn::RebindToSigned<D> di;
  const V t = hn::Max(hn::Mul(x, hn::Set(d, 1.44269504f)), hn::Set(d, -127.0f));
  // t + 1.5 * 2^23 rounds t to the integer n and holds it in the low mantissa bits (see GeluErf).
  const V magic = hn::Set(d, 12582912.0f);
  const V rounded = hn::Add(t, magic);
  const V n = hn::Sub(rounded, magic);
  V r = hn::MulAdd(n, hn::Set(d, -0.693145751953125f), x);
  r = hn::MulAdd(n, hn::Set(d, -1.42860677e-6f), r);
  const auto exponent =
      hn::Add(hn::ShiftLeft<23>(hn::BitCast(di, rounded)), hn::Set(di, 127 << 23));
  const V y = hn::Mul(Polynomial(d, r, kExpSmall), hn::BitCast(d, exponent));  // 2^n: a float
  return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -87.336544f)), y);            // product keeps NaN
}

// exp(x) with IEEE results outside Highway's valid range: +inf above log(FLT_MAX), NaN kept.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ExpIeee(D d, V x) {
  const V inf = hn::Set(d, std::numeric_limits<float>::infinity());
  const V exp = hn::Exp(d, hn::Min(x, hn::Set(d, 88.8f)));
  const V y = hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.72284f)), inf, exp);
  return hn::IfThenElse(hn::IsNaN(x), x, y);
}

// log(x) with IEEE special cases: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN kept.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V LogIeee(D d, V x) {
  const V zero = hn::Zero(d);
  const V inf = hn::Set(d, std::numeric_limits<float>::infinity());
  V y = hn::Log(d, hn::Max(x, hn::Set(d, 1e-45f)));  // keep the argument in Log's valid range
  y = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), y);
  y = hn::IfThenElse(hn::Eq(x, inf), inf, y);
  y = hn::IfThenElse(hn::Lt(x, zero), hn::Set(d, std::numeric_limits<float>::quiet_NaN()), y);
  return hn::IfThenElse(hn::IsNaN(x), x, y);
}

// One functor per op so that MapF32 inlines the math into its loop.
#define QCLIP_UNARY_FUNCTOR(NAME, EXPR)       \
  struct NAME##Functor {                      \
    template <class D, class V>               \
    HWY_INLINE V operator()(D d, V x) const { \
      (void)d;                                \
      return EXPR;                            \
    }                                         \
  };
QCLIP_UNARY_FUNCTOR(Erf, Erf(d, x))
QCLIP_UNARY_FUNCTOR(GeluErf, GeluErf(d, x))
QCLIP_UNARY_FUNCTOR(GeluTanh, GeluTanh(d, x))
QCLIP_UNARY_FUNCTOR(Tanh, hn::Tanh(d, x))
QCLIP_UNARY_FUNCTOR(Sigmoid, Sigmoid(d, x))
QCLIP_UNARY_FUNCTOR(Relu, hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x))  // keeps NaN
QCLIP_UNARY_FUNCTOR(Exp, ExpIeee(d, x))
QCLIP_UNARY_FUNCTOR(Log, LogIeee(d, x))
QCLIP_UNARY_FUNCTOR(Sqrt, hn::Sqrt(x))
QCLIP_UNARY_FUNCTOR(Neg, hn::Neg(x))
QCLIP_UNARY_FUNCTOR(Abs, hn::Abs(x))
QCLIP_UNARY_FUNCTOR(Reciprocal, hn::Div(hn::Set(d, 1.0f), x))
#undef QCLIP_UNARY_FUNCTOR

// row[i] *= scale for i in [0, n).
template <class D, class V = hn::Vec<D>>
HWY_INLINE void ScaleRow(D d, float scale, float* row, size_t n) {
  const size_t N = hn::Lanes(d);
  const V s = hn::Set(d, scale);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, row + i), s), d, row + i);
  if (i < n) StoreFirstN(hn::Mul(LoadFirstN(d, row + i, n - i), s), d, row + i, n - i);
}

// out[i] = func(d, in[i]) for i in [0, n).
template <class D, class Func>
HWY_INLINE void MapF32(D d, const float* in, float* out, size_t n, const Func& func) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  // Four vectors at a time: their evaluations are independent chains of dependent multiply-adds
  // (GELU's two polynomials), which the core overlaps only if they are in its window together
  // (GELU: 2.7-3.1 -> 3.5 G values/s on AVX-512, 1.7 -> 1.9 on AVX2, one thread in L1).
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto v0 = func(d, hn::LoadU(d, in + i));
    const auto v1 = func(d, hn::LoadU(d, in + i + N));
    const auto v2 = func(d, hn::LoadU(d, in + i + 2 * N));
    const auto v3 = func(d, hn::LoadU(d, in + i + 3 * N));
    hn::StoreU(v0, d, out + i);
    hn::StoreU(v1, d, out + i + N);
    hn::StoreU(v2, d, out + i + 2 * N);
    hn::StoreU(v3, d, out + i + 3 * N);
  }
  for (; i + N <= n; i += N) hn::StoreU(func(d, hn::LoadU(d, in + i)), d, out + i);
  if (i < n) StoreFirstN(func(d, LoadFirstN(d, in + i, n - i)), d, out + i, n - i);
}

// Applies `op` to in[0, n); chooses the loop once, outside it.
template <class D>
HWY_INLINE void UnaryRow(D d, UnaryOp op, const float* in, float* out, size_t n) {
  switch (op) {
    case UnaryOp::kIdentity:
      if (in != out) std::copy(in, in + n, out);
      return;
    case UnaryOp::kErf:
      return MapF32(d, in, out, n, ErfFunctor());
    case UnaryOp::kGeluErf:
      return MapF32(d, in, out, n, GeluErfFunctor());
    case UnaryOp::kGeluTanh:
      return MapF32(d, in, out, n, GeluTanhFunctor());
    case UnaryOp::kTanh:
      return MapF32(d, in, out, n, TanhFunctor());
    case UnaryOp::kSigmoid:
      return MapF32(d, in, out, n, SigmoidFunctor());
    case UnaryOp::kRelu:
      return MapF32(d, in, out, n, ReluFunctor());
    case UnaryOp::kExp:
      return MapF32(d, in, out, n, ExpFunctor());
    case UnaryOp::kLog:
      return MapF32(d, in, out, n, LogFunctor());
    case UnaryOp::kSqrt:
      return MapF32(d, in, out, n, SqrtFunctor());
    case UnaryOp::kNeg:
      return MapF32(d, in, out, n, NegFunctor());
    case UnaryOp::kAbs:
      return MapF32(d, in, out, n, AbsFunctor());
    case UnaryOp::kReciprocal:
      return MapF32(d, in, out, n, ReciprocalFunctor());
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // QCLIP_KERNELS_ACTIVATION_INL_H_

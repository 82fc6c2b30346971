// float32 -> 8-bit linear quantization and the min/max reduction behind it; included per SIMD
// target by kernels/quantize.cc (and by kernels that quantize on the fly).

// Per-target include guard.
#if defined(QCLIP_KERNELS_QUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QCLIP_KERNELS_QUANTIZE_INL_H_
#undef QCLIP_KERNELS_QUANTIZE_INL_H_
#else
#define QCLIP_KERNELS_QUANTIZE_INL_H_
#endif

#include <stddef.h>
#include <stdint.h>

#include <algorithm>
#include <cmath>

#include "hwy/highway.h"
#include "kernels/partial_vector-inl.h"
#include "kernels/quantize.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Min and max of x[0, n), n >= 1. Four pairs of running extremes: one pair is a chain of
// dependent Min/Max (4 cycles each on AVX-512) that holds the loop to a vector per 4 cycles.
// Min and Max are exact, so the order does not change the result.
template <class DF>
HWY_INLINE void MinMaxRow(DF df, const float* HWY_RESTRICT x, size_t n, float* min, float* max) {
  const size_t N = hn::Lanes(df);
  const auto first = hn::Set(df, x[0]);
  auto min0 = first, min1 = first, min2 = first, min3 = first;
  auto max0 = first, max1 = first, max2 = first, max3 = first;
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto v0 = hn::LoadU(df, x + i), v1 = hn::LoadU(df, x + i + N);
    const auto v2 = hn::LoadU(df, x + i + 2 * N), v3 = hn::LoadU(df, x + i + 3 * N);
    min0 = hn::Min(min0, v0);
    max0 = hn::Max(max0, v0);
    min1 = hn::Min(min1, v1);
    max1 = hn::Max(max1, v1);
    min2 = hn::Min(min2, v2);
    max2 = hn::Max(max2, v2);
    min3 = hn::Min(min3, v3);
    max3 = hn::Max(max3, v3);
  }
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(df, x + i);
    min0 = hn::Min(min0, v);
    max0 = hn::Max(max0, v);
  }
  if (i < n) {  // pad the tail with x[0], which changes neither
    const auto v = hn::IfThenElse(hn::FirstN(df, n - i), LoadFirstN(df, x + i, n - i), first);
    min1 = hn::Min(min1, v);
    max1 = hn::Max(max1, v);
  }
  const auto vmin = hn::Min(hn::Min(min0, min1), hn::Min(min2, min3));
  const auto vmax = hn::Max(hn::Max(max0, max1), hn::Max(max2, max3));
  *min = hn::GetLane(hn::MinOfLanes(df, vmin));
  *max = hn::GetLane(hn::MaxOfLanes(df, vmax));
}

// Quantizing one vector computes round_half_even(clamp(x / scale, q_min - zp, q_max - zp)) + zp,
// the order of ORT's MlasQuantizeLinearVector (clamping before rounding is the same as
// saturating after it, as the bounds are integers; Max(NaN, lo) is lo on x86, as in MLAS).
//
// The true division is what makes the result ORT's, but it is the slowest step (one VDIVPS per
// vector, 10+ cycles). Quantizer multiplies by inv = fl(1 / scale) instead and proves the
// result equal: y = fl(x * inv) is within 2u|x / scale| + u^2 of x / scale and the correctly
// rounded quotient q within u of it (u = 2^-24), so |y - q| <= 3.01u|y|. Unless y lies within
// that distance of a half-integer, y and q lie strictly between the same two half-integers,
// and clamping to integer bounds and rounding to nearest give the same integer for both. The
// rare vectors with a lane that close are divided (checked after clamping, |v| <= 255, against
// 2^-13 > 3.01u * 255; clamped lanes are integers). The bound needs inv finite and normal;
// scales for which it is not always divide.
template <class DF>
class Quantizer {
 public:
  using VF = hn::Vec<DF>;
  using DI = hn::RebindToSigned<DF>;
  using VI = hn::Vec<DI>;

  Quantizer(DF df, float scale, int32_t zero_point, int32_t q_min, int32_t q_max)
      : scale_(hn::Set(df, scale)),
        inv_(hn::Set(df, 1.0f / scale)),
        lo_(hn::Set(df, static_cast<float>(q_min - zero_point))),
        hi_(hn::Set(df, static_cast<float>(q_max - zero_point))),
        magic_(hn::Set(df, kMagic)),
        zero_point_(hn::Set(DI(), zero_point)),
        divide_(!std::isnormal(1.0f / scale)) {}

  // The quantized lanes as bits: lane = magic_bits() + q, so the low byte is q (uint8, or int8
  // in two's complement).
  HWY_INLINE VI Bits(DF df, VF x) const {
    if (!divide_) {
      const VF v = Clamp(hn::Mul(x, inv_));
      const VF rounded = hn::Add(v, magic_);
      // v less its rounding (exact: the two are within a factor of 2 of each other, or the
      // rounding is 0), compared with 0.5 less the error bound 3.01u * 255 < 2^-13.
      const VF fraction = hn::Sub(v, hn::Sub(rounded, magic_));
      const auto near_half = hn::Ge(hn::Abs(fraction), hn::Set(df, 0.5f - 0x1p-13f));
      if (HWY_LIKELY(hn::AllFalse(df, near_half))) return WithZeroPoint(rounded);
    }
    return WithZeroPoint(hn::Add(Clamp(hn::Div(x, scale_)), magic_));
  }
  // What Bits() encodes 0 as.
  VI magic_bits() const { return hn::BitCast(DI(), magic_); }

 private:
  // 1.5 * 2^23: adding it to |v| <= 2^22 rounds v to an integer, half to even (the default
  // rounding mode on every target), and leaves that integer in the low mantissa bits. (The zero
  // point is added to the integer afterwards: adding it before rounding would round ties to
  // the wrong neighbour for odd zero points.)
  static constexpr float kMagic = 12582912.0f;

  HWY_INLINE VF Clamp(VF v) const { return hn::Min(hn::Max(v, lo_), hi_); }
  HWY_INLINE VI WithZeroPoint(VF rounded) const {
    return hn::Add(hn::BitCast(DI(), rounded), zero_point_);
  }

  VF scale_, inv_, lo_, hi_, magic_;
  VI zero_point_;
  bool divide_;
};

// The low byte of each lane (Quantizer::Bits) as T = uint8_t or int8_t.
template <typename T, class VI, class DU = hn::RebindToUnsigned<hn::DFromV<VI>>>
HWY_INLINE hn::Vec<hn::Rebind<T, DU>> LowBytes(VI bits) {
  const DU du;
  const auto low = hn::And(hn::BitCast(du, bits), hn::Set(du, 0xFFu));
  return hn::BitCast(hn::Rebind<T, DU>(), hn::U8FromU32(low));
}

// T = uint8_t or int8_t.
template <typename T>
HWY_INLINE void QuantizeRow(const float* HWY_RESTRICT x, size_t n, float scale, int32_t zero_point,
                            T* HWY_RESTRICT q) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<T, decltype(df)> dq;
  const size_t N = hn::Lanes(df);
  const Quantizer<decltype(df)> quantize(df, scale, zero_point, hwy::LimitsMin<T>(),
                                         hwy::LimitsMax<T>());
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(LowBytes<T>(quantize.Bits(df, hn::LoadU(df, x + i))), dq, q + i);
  }
  if (i < n) {
    const auto bits = quantize.Bits(df, LoadFirstN(df, x + i, n - i));
    StoreFirstN(LowBytes<T>(bits), dq, q + i, n - i);
  }
}

// QuantizeRow for uint8 that also returns the sum of the quantized values (n <= 2^23).
HWY_INLINE int32_t QuantizeRowSumU8(const float* HWY_RESTRICT x, size_t n, float scale,
                                    int32_t zero_point, uint8_t* HWY_RESTRICT q) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> dq;
  const size_t N = hn::Lanes(df);
  const Quantizer<decltype(df)> quantize(df, scale, zero_point, 0, 255);
  // Sums of the bits, magic_bits() + q per lane, wrap around (as unsigned arithmetic would);
  // the count of magic_bits() taken off at the end leaves the sum of the values.
  const hn::RebindToUnsigned<decltype(df)> du;
  auto sum = hn::Zero(du);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto bits = quantize.Bits(df, hn::LoadU(df, x + i));
    sum = hn::Add(sum, hn::BitCast(du, bits));
    hn::StoreU(LowBytes<uint8_t>(bits), dq, q + i);
  }
  if (i < n) {
    const auto bits =
        hn::IfThenElse(hn::FirstN(di, n - i), quantize.Bits(df, LoadFirstN(df, x + i, n - i)),
                       quantize.magic_bits());  // adds 0 for lanes past n
    sum = hn::Add(sum, hn::BitCast(du, bits));
    StoreFirstN(LowBytes<uint8_t>(bits), dq, q + i, n - i);
  }
  // Each lane took magic_bits() once per vector; without them the lanes hold small sums, which
  // the reduction (signed arithmetic in some targets' intrinsics) adds without overflow.
  const auto magic = static_cast<uint32_t>(hn::GetLane(quantize.magic_bits()));
  sum = hn::Sub(sum, hn::Set(du, magic * static_cast<uint32_t>((n + N - 1) / N)));
  return static_cast<int32_t>(hn::GetLane(hn::SumOfLanes(du, sum)));
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

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

#include "hwy/highway.h"
#include "kernels/partial_vector-inl.h"
#include "kernels/quantize.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class DF>
HWY_INLINE void MinMaxRow(DF df, const float* HWY_RESTRICT x, size_t n, float* min, float* max) {
  const size_t N = hn::Lanes(df);
  const auto first = hn::Set(df, x[0]);
  auto vmin = first;
  auto vmax = first;
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(df, x + i);
    vmin = hn::Min(vmin, v);
    vmax = hn::Max(vmax, v);
  }
  if (i < n) {  // pad the tail with x[0], which changes neither
    const auto v = hn::IfThenElse(hn::FirstN(df, n - i), LoadFirstN(df, x + i, n - i), first);
    vmin = hn::Min(vmin, v);
    vmax = hn::Max(vmax, v);
  }
  *min = hn::GetLane(hn::MinOfLanes(df, vmin));
  *max = hn::GetLane(hn::MaxOfLanes(df, vmax));
}

// round_half_even(clamp(x / scale, q_min - zp, q_max - zp)) + zp as int32, the order of ORT's
// MlasQuantizeLinearVector. Clamping before rounding is the same as saturating after it, as
// the bounds are integers. Max(NaN, lo) is lo on x86, as in MLAS.
template <class DF, class VF = hn::Vec<DF>, class DI = hn::RebindToSigned<DF>>
HWY_INLINE hn::Vec<DI> QuantizeVector(DF df, VF x, VF scale, VF lo, VF hi, hn::Vec<DI> zero_point) {
  VF v = hn::Min(hn::Max(hn::Div(x, scale), lo), hi);
  // |v| <= 255: adding and subtracting 1.5 * 2^23 rounds it to an integer, half to even, in the
  // default rounding mode on every target (Highway 1.0.3's scalar NearestInt rounds 0.49999997
  // up).
  const VF magic = hn::Set(df, 12582912.0f);
  v = hn::Sub(hn::Add(v, magic), magic);
  return hn::Add(hn::ConvertTo(DI(), v), zero_point);
}

// T = uint8_t or int8_t.
template <typename T>
HWY_INLINE void QuantizeRow(const float* HWY_RESTRICT x, size_t n, float scale, int32_t zero_point,
                            T* HWY_RESTRICT q) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<T, decltype(df)> dq;
  const size_t N = hn::Lanes(df);
  const auto vscale = hn::Set(df, scale);
  const auto lo = hn::Set(df, static_cast<float>(hwy::LimitsMin<T>() - zero_point));
  const auto hi = hn::Set(df, static_cast<float>(hwy::LimitsMax<T>() - zero_point));
  const auto vzero_point = hn::Set(di, zero_point);
  for (size_t i = 0; i < n; i += N) {
    const size_t count = std::min(N, n - i);
    const auto v = QuantizeVector(df, LoadFirstN(df, x + i, count), vscale, lo, hi, vzero_point);
    StoreFirstN(hn::DemoteTo(dq, v), dq, q + i, count);
  }
}

// QuantizeRow for uint8 that also returns the sum of the quantized values (n <= 2^23).
HWY_INLINE int32_t QuantizeRowSumU8(const float* HWY_RESTRICT x, size_t n, float scale,
                                    int32_t zero_point, uint8_t* HWY_RESTRICT q) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> dq;
  const size_t N = hn::Lanes(df);
  const auto vscale = hn::Set(df, scale);
  const auto lo = hn::Set(df, static_cast<float>(0 - zero_point));
  const auto hi = hn::Set(df, static_cast<float>(255 - zero_point));
  const auto vzero_point = hn::Set(di, zero_point);
  auto sum = hn::Zero(di);
  for (size_t i = 0; i < n; i += N) {
    const size_t count = std::min(N, n - i);
    // Lanes past n load 0.0f, which quantizes to the zero point: mask them out of the sum.
    auto v = QuantizeVector(df, LoadFirstN(df, x + i, count), vscale, lo, hi, vzero_point);
    v = hn::IfThenElseZero(hn::FirstN(di, count), v);
    sum = hn::Add(sum, v);
    StoreFirstN(hn::DemoteTo(dq, v), dq, q + i, count);
  }
  return hn::GetLane(hn::SumOfLanes(di, sum));
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

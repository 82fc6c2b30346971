// Row-wise LayerNorm and Softmax; included per SIMD target by kernels/norm.cc and by fused
// kernels that normalise rows they have just computed.

// Per-target include guard.
#if defined(QCLIP_KERNELS_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QCLIP_KERNELS_NORM_INL_H_
#undef QCLIP_KERNELS_NORM_INL_H_
#else
#define QCLIP_KERNELS_NORM_INL_H_
#endif

#include <stddef.h>

#include <cmath>
#include <limits>

#include "hwy/highway.h"
#include "kernels/activation-inl.h"
#include "kernels/partial_vector-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The mean of one row of `cols` floats (the first pass of LayerNormRow).
template <class D, class V = hn::Vec<D>>
HWY_INLINE float RowMean(D d, const float* x, size_t cols) {
  const size_t N = hn::Lanes(d);
  const size_t full = cols - cols % N;
  const size_t tail = cols - full;
  V sum = hn::Zero(d);
  for (size_t i = 0; i < full; i += N) sum = hn::Add(sum, hn::LoadU(d, x + i));
  if (tail != 0) sum = hn::Add(sum, LoadFirstN(d, x + full, tail));
  return hn::GetLane(hn::SumOfLanes(d, sum)) / static_cast<float>(cols);
}

// sum = a + b for one row, and the mean of sum: RowMean's additions in the same order, so the
// mean has the bits RowMean gives for the stored sum.
template <class D, class V = hn::Vec<D>>
HWY_INLINE float AddRowMean(D d, const float* a, const float* b, size_t cols, float* sum_out) {
  const size_t N = hn::Lanes(d);
  const size_t full = cols - cols % N;
  const size_t tail = cols - full;
  V sum = hn::Zero(d);
  for (size_t i = 0; i < full; i += N) {
    const V s = hn::Add(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    hn::StoreU(s, d, sum_out + i);
    sum = hn::Add(sum, s);
  }
  if (tail != 0) {  // lanes past the end: 0 + 0, as LoadFirstN's zeros
    const V s = hn::Add(LoadFirstN(d, a + full, tail), LoadFirstN(d, b + full, tail));
    StoreFirstN(s, d, sum_out + full, tail);
    sum = hn::Add(sum, s);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum)) / static_cast<float>(cols);
}

// Normalises one row of `cols` floats whose mean is `mean` (the passes of LayerNormRow after the
// first).
template <class D, class V = hn::Vec<D>>
HWY_INLINE void NormalizeRow(D d, const float* x, float mean, const float* scale, const float* bias,
                             size_t cols, float epsilon, float* out, float* mean_out,
                             float* inv_std_dev_out) {
  const size_t N = hn::Lanes(d);
  const size_t full = cols - cols % N;
  const size_t tail = cols - full;

  // Second pass over the row (in L1) for the variance: exact where E[x^2] - mean^2 would cancel.
  const V mean_v = hn::Set(d, mean);
  V sum_sq = hn::Zero(d);
  for (size_t i = 0; i < full; i += N) {
    const V centred = hn::Sub(hn::LoadU(d, x + i), mean_v);
    sum_sq = hn::MulAdd(centred, centred, sum_sq);
  }
  if (tail != 0) {
    const V centred = hn::Sub(LoadFirstN(d, x + full, tail), mean_v);
    const V valid = hn::IfThenElseZero(hn::FirstN(d, tail), centred);
    sum_sq = hn::MulAdd(valid, valid, sum_sq);
  }
  const float variance = hn::GetLane(hn::SumOfLanes(d, sum_sq)) / static_cast<float>(cols);
  const float inv_std_dev = 1.0f / std::sqrt(variance + epsilon);
  if (mean_out != nullptr) *mean_out = mean;
  if (inv_std_dev_out != nullptr) *inv_std_dev_out = inv_std_dev;

  const V inv_std_dev_v = hn::Set(d, inv_std_dev);
  auto normalize = [&](V xv, V scale_v, V bias_v) HWY_ATTR {
    return hn::MulAdd(hn::Mul(hn::Sub(xv, mean_v), inv_std_dev_v), scale_v, bias_v);
  };
  for (size_t i = 0; i < full; i += N) {
    const V bias_v = bias != nullptr ? hn::LoadU(d, bias + i) : hn::Zero(d);
    hn::StoreU(normalize(hn::LoadU(d, x + i), hn::LoadU(d, scale + i), bias_v), d, out + i);
  }
  if (tail != 0) {
    const V bias_v = bias != nullptr ? LoadFirstN(d, bias + full, tail) : hn::Zero(d);
    const V y = normalize(LoadFirstN(d, x + full, tail), LoadFirstN(d, scale + full, tail), bias_v);
    StoreFirstN(y, d, out + full, tail);
  }
}

// Normalises one row of `cols` floats; see LayerNormF32 in norm.h.
template <class D>
HWY_INLINE void LayerNormRow(D d, const float* x, const float* scale, const float* bias,
                             size_t cols, float epsilon, float* out, float* mean_out,
                             float* inv_std_dev_out) {
  NormalizeRow(d, x, RowMean(d, x, cols), scale, bias, cols, epsilon, out, mean_out,
               inv_std_dev_out);
}

// out = exp(x - max(x)) for one row of `cols` floats; returns the sum of out (0 for an empty
// row). See SoftmaxExpF32 in norm.h.
template <class D, class V = hn::Vec<D>>
HWY_INLINE float SoftmaxExpRow(D d, const float* x, size_t cols, float* out) {
  const size_t N = hn::Lanes(d);
  const size_t full = cols - cols % N;
  const size_t tail = cols - full;
  const float kNegInf = -std::numeric_limits<float>::infinity();

  // Lanes past the row's end read as -inf: they change no max, and exp(-inf - max) = 0 adds
  // nothing to the sum.
  const V neg_inf = hn::Set(d, kNegInf);
  const auto load_tail = [&]() HWY_ATTR {
    return hn::IfThenElse(hn::FirstN(d, tail), LoadFirstN(d, x + full, tail), neg_inf);
  };
  // Two running maxima: a row of a few hundred values is a chain of dependent Max otherwise.
  V max0 = neg_inf, max1 = neg_inf;
  size_t i = 0;
  for (; i + 2 * N <= full; i += 2 * N) {
    max0 = hn::Max(max0, hn::LoadU(d, x + i));
    max1 = hn::Max(max1, hn::LoadU(d, x + i + N));
  }
  if (i < full) max0 = hn::Max(max0, hn::LoadU(d, x + i));
  if (tail != 0) max1 = hn::Max(max1, load_tail());
  const V max_v = hn::MaxOfLanes(d, hn::Max(max0, max1));

  // x - max <= 0 (or NaN: a NaN in the row, or a row of -inf, stays NaN).
  // Four exponentials at a time, so that their independent polynomials overlap; added to the
  // sum in order, one vector after the other, as the single-vector loop adds them (same bits).
  V sum = hn::Zero(d);
  for (i = 0; i + 4 * N <= full; i += 4 * N) {
    const V e0 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i), max_v));
    const V e1 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i + N), max_v));
    const V e2 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i + 2 * N), max_v));
    const V e3 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i + 3 * N), max_v));
    hn::StoreU(e0, d, out + i);
    hn::StoreU(e1, d, out + i + N);
    hn::StoreU(e2, d, out + i + 2 * N);
    hn::StoreU(e3, d, out + i + 3 * N);
    sum = hn::Add(hn::Add(hn::Add(hn::Add(sum, e0), e1), e2), e3);
  }
  for (; i < full; i += N) {
    const V e = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i), max_v));
    hn::StoreU(e, d, out + i);
    sum = hn::Add(sum, e);
  }
  if (tail != 0) {
    const V e = ExpNonPositive(d, hn::Sub(load_tail(), max_v));
    StoreFirstN(e, d, out + full, tail);
    sum = hn::Add(sum, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

// Softmax of one row of `cols` floats; see SoftmaxF32 in norm.h.
template <class D>
HWY_INLINE void SoftmaxRow(D d, const float* x, size_t cols, float* out) {
  ScaleRow(d, 1.0f / SoftmaxExpRow(d, x, cols, out), out, cols);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // QCLIP_KERNELS_NORM_INL_H_

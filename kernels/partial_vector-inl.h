// Loads and stores of the first `count` lanes of a vector, for loop tails. Included per SIMD
// target by the int8 kernels (gemm_s8-inl.h, quantize-inl.h).
//
// Highway 1.0.3's MaskedLoad reads a whole (aligned) vector on SSE4 and for 8/16-bit lanes on
// AVX2, which may run past the end of an array; LoadFirstN copies the tail into a local buffer
// there, and uses the masked load where it is a real one (AVX-512; 32/64-bit lanes on AVX2): the
// copy's narrow stores followed by a wide load stall store forwarding, which cost a softmax row
// of 197 values a third of its time. BlendedStore is safe on every target (scalar stores where
// there is no masked store).

// Per-target include guard.
#if defined(QCLIP_KERNELS_PARTIAL_VECTOR_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QCLIP_KERNELS_PARTIAL_VECTOR_INL_H_
#undef QCLIP_KERNELS_PARTIAL_VECTOR_INL_H_
#else
#define QCLIP_KERNELS_PARTIAL_VECTOR_INL_H_
#endif

#include <stddef.h>
#include <string.h>

#include <algorithm>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// p[0, count) into the first lanes, zeros above; count <= Lanes(d). Reads nothing past p + count.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> LoadFirstN(D d, const T* HWY_RESTRICT p, size_t count) {
  if (count == hn::Lanes(d)) return hn::LoadU(d, p);
#if HWY_TARGET <= HWY_AVX3
  return hn::MaskedLoad(hn::FirstN(d, count), d, p);
#else
  if constexpr (HWY_TARGET == HWY_AVX2 && sizeof(T) >= 4) {
    return hn::MaskedLoad(hn::FirstN(d, count), d, p);
  }
  constexpr size_t kMaxLanes = hn::MaxLanes(D());
  HWY_ALIGN T buf[kMaxLanes] = {};
  memcpy(buf, p, std::min(count, kMaxLanes) * sizeof(T));  // min() only informs the compiler
  return hn::Load(d, buf);
#endif
}

// Stores the first `count` <= Lanes(d) lanes of v to p; writes nothing past p + count.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void StoreFirstN(hn::Vec<D> v, D d, T* HWY_RESTRICT p, size_t count) {
  if (count == hn::Lanes(d)) return hn::StoreU(v, d, p);
  hn::BlendedStore(v, hn::FirstN(d, count), d, p);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

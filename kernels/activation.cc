#include "kernels/activation.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/activation-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {

void UnaryF32(UnaryOp op, const float* in, float* out, size_t n) {
  UnaryRow(hn::ScalableTag<float>(), op, in, out, n);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qclip {

HWY_EXPORT(UnaryF32);

void UnaryF32(UnaryOp op, const float* in, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(UnaryF32)(op, in, out, n);
}

}  // namespace qclip
#endif  // HWY_ONCE

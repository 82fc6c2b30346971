#include "kernels/norm.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/norm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/norm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {

void LayerNormF32(const float* x, const float* scale, const float* bias, size_t rows, size_t cols,
                  float epsilon, float* out, float* mean, float* inv_std_dev) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) {
    LayerNormRow(d, x + r * cols, scale, bias, cols, epsilon, out + r * cols,
                 mean != nullptr ? mean + r : nullptr,
                 inv_std_dev != nullptr ? inv_std_dev + r : nullptr);
  }
}

void AddLayerNormF32(const float* a, const float* b, const float* scale, const float* bias,
                     size_t rows, size_t cols, float epsilon, float* sum, float* out) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) {
    const size_t offset = r * cols;
    const float mean = AddRowMean(d, a + offset, b + offset, cols, sum + offset);
    NormalizeRow(d, sum + offset, mean, scale, bias, cols, epsilon, out + offset, nullptr, nullptr);
  }
}

void SoftmaxF32(const float* x, size_t rows, size_t cols, float* out) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) SoftmaxRow(d, x + r * cols, cols, out + r * cols);
}

void SoftmaxExpF32(const float* x, size_t rows, size_t cols, float* out, float* inv_sum) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) {
    const float sum = SoftmaxExpRow(d, x + r * cols, cols, out + r * cols);
    inv_sum[r] = cols == 0 ? 0.0f : 1.0f / sum;
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qclip {

HWY_EXPORT(LayerNormF32);
HWY_EXPORT(AddLayerNormF32);
HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(SoftmaxExpF32);

void LayerNormF32(const float* x, const float* scale, const float* bias, size_t rows, size_t cols,
                  float epsilon, float* out, float* mean, float* inv_std_dev) {
  HWY_DYNAMIC_DISPATCH(LayerNormF32)(x, scale, bias, rows, cols, epsilon, out, mean, inv_std_dev);
}

void AddLayerNormF32(const float* a, const float* b, const float* scale, const float* bias,
                     size_t rows, size_t cols, float epsilon, float* sum, float* out) {
  HWY_DYNAMIC_DISPATCH(AddLayerNormF32)(a, b, scale, bias, rows, cols, epsilon, sum, out);
}

void SoftmaxF32(const float* x, size_t rows, size_t cols, float* out) {
  HWY_DYNAMIC_DISPATCH(SoftmaxF32)(x, rows, cols, out);
}

void SoftmaxExpF32(const float* x, size_t rows, size_t cols, float* out, float* inv_sum) {
  HWY_DYNAMIC_DISPATCH(SoftmaxExpF32)(x, rows, cols, out, inv_sum);
}

}  // namespace qclip
#endif  // HWY_ONCE

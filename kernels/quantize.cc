#include "kernels/quantize.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/quantize.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/quantize-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {

void MinMaxF32(const float* x, size_t n, float* min, float* max) {
  MinMaxRow(hn::ScalableTag<float>(), x, n, min, max);
}

void QuantizeU8(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q) {
  QuantizeRow(x, n, scale, zero_point, q);
}

void QuantizeS8(const float* x, size_t n, float scale, int32_t zero_point, int8_t* q) {
  QuantizeRow(x, n, scale, zero_point, q);
}

void DynamicQuantizeBlocksU8(const float* x, size_t ldx, size_t rows, size_t cols, size_t block,
                             uint8_t* q, size_t ldq, QuantParams* params, int32_t* sums,
                             size_t ld_params) {
  const hn::ScalableTag<float> df;
  // Each step, one block at a time, is a chain of dependent reductions and divisions; done for
  // up to kChunk blocks in turn (ranges, then parameters, then values), the blocks' chains
  // overlap.
  constexpr size_t kChunk = 64;
  float mins[kChunk], maxs[kChunk];
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * ldx;
    for (size_t first = 0; first * block < cols; first += kChunk) {
      const size_t count = std::min(kChunk, (cols - first * block + block - 1) / block);
      for (size_t i = 0; i < count; ++i) {
        const size_t begin = (first + i) * block;
        MinMaxRow(df, row + begin, std::min(block, cols - begin), &mins[i], &maxs[i]);
      }
      for (size_t i = 0; i < count; ++i) {
        params[(first + i) * ld_params + r] = DynamicQuantParamsU8(mins[i], maxs[i]);
      }
      for (size_t i = 0; i < count; ++i) {
        const size_t begin = (first + i) * block, b = first + i;
        const QuantParams& p = params[b * ld_params + r];
        const size_t n = std::min(block, cols - begin);
        if (sums == nullptr) {
          QuantizeRow(row + begin, n, p.scale, p.zero_point, q + r * ldq + begin);
        } else {
          sums[b * ld_params + r] =
              QuantizeRowSumU8(row + begin, n, p.scale, p.zero_point, q + r * ldq + begin);
        }
      }
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qclip {

HWY_EXPORT(MinMaxF32);
HWY_EXPORT(QuantizeU8);
HWY_EXPORT(QuantizeS8);
HWY_EXPORT(DynamicQuantizeBlocksU8);

void MinMaxF32(const float* x, size_t n, float* min, float* max) {
  HWY_DYNAMIC_DISPATCH(MinMaxF32)(x, n, min, max);
}

void QuantizeU8(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q) {
  HWY_DYNAMIC_DISPATCH(QuantizeU8)(x, n, scale, zero_point, q);
}

void QuantizeS8(const float* x, size_t n, float scale, int32_t zero_point, int8_t* q) {
  HWY_DYNAMIC_DISPATCH(QuantizeS8)(x, n, scale, zero_point, q);
}

void DynamicQuantizeBlocksU8(const float* x, size_t ldx, size_t rows, size_t cols, size_t block,
                             uint8_t* q, size_t ldq, QuantParams* params, int32_t* sums,
                             size_t ld_params) {
  HWY_DYNAMIC_DISPATCH(DynamicQuantizeBlocksU8)
  (x, ldx, rows, cols, block, q, ldq, params, sums, ld_params);
}

}  // namespace qclip
#endif  // HWY_ONCE

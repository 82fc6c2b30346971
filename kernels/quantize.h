// Linear quantization float32 -> 8-bit with ONNX Runtime's exact arithmetic: DynamicQuantizeLinear
// (range -> scale and zero point), QuantizeLinear, and the per-row and per-block dynamic variants
// the fused QuantizedLinear uses. SIMD code is in quantize-inl.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace qclip {

struct QuantParams {
  float scale;
  int32_t zero_point;
};

// Scale and zero point of ONNX DynamicQuantizeLinear for uint8 from the data's min and max, as
// ORT's GetQuantizationParameter (core/util/qmath.h) computes them: the range is widened to
// include 0, scale = (max - min) / 255 (1 when max == min, i.e. all-zero data, so nothing
// divides by zero), zero_point = round_half_even(clamp(0 - min / scale, 0, 255)).
inline QuantParams DynamicQuantParamsU8(float min, float max) {
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  const float scale = max == min ? 1.0f : (max - min) / 255.0f;
  const float zero_point = std::max(0.0f, std::min(255.0f, 0.0f - min / scale));
  return {scale, static_cast<int32_t>(std::nearbyint(zero_point))};  // default mode: half-even
}

// min and max of x[0, n), n >= 1.
void MinMaxF32(const float* x, size_t n, float* min, float* max);

// q[i] = saturate(round_half_even(x[i] / scale) + zero_point), the ONNX QuantizeLinear formula,
// equal to ORT's MlasQuantizeLinear (a true division, NaN to the low end) for every input: the
// kernel multiplies by 1/scale and divides where that could round differently (Quantizer in
// quantize-inl.h). `zero_point` must be within the output type's range.
void QuantizeU8(const float* x, size_t n, float scale, int32_t zero_point, uint8_t* q);
void QuantizeS8(const float* x, size_t n, float scale, int32_t zero_point, int8_t* q);

// Per-block DynamicQuantizeLinear: row r of x (cols floats at x + r * ldx) is cut into blocks of
// `block` values (the last one shorter), each quantized with its own DynamicQuantParamsU8 of
// its min and max into q + r * ldq, exactly as DynamicQuantizeLinear would quantize the block
// alone. Block b of row r puts its parameters in params[b * ld_params + r] and the sum of its
// quantized values in sums[b * ld_params + r] (block-major, as MatMulBlockwiseU8S8 reads them);
// with sums null, the sums are not computed (a product whose weight zero points are all 0 does
// not need them).
void DynamicQuantizeBlocksU8(const float* x, size_t ldx, size_t rows, size_t cols, size_t block,
                             uint8_t* q, size_t ldq, QuantParams* params, int32_t* sums,
                             size_t ld_params);

}  // namespace qclip

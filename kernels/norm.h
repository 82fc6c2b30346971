// Row-wise normalisations: LayerNorm and Softmax over the last (innermost) axis of a row-major
// [rows, cols] array. SIMD code is in norm-inl.h.
#pragma once

#include <cstddef>

namespace qclip {

// For each row x of `cols` floats (ONNX LayerNormalization-17 with stash_type float32, torch
// LayerNorm): mean = sum(x) / cols, var = sum((x - mean)^2) / cols (two passes, biased),
// out = (x - mean) * inv_std_dev * scale + bias with inv_std_dev = 1 / sqrt(var + epsilon).
// `scale` and `bias` have `cols` entries; `bias`, `mean` and `inv_std_dev` (one float per row,
// ONNX's optional outputs) may be null. `out` may equal `x`.
void LayerNormF32(const float* x, const float* scale, const float* bias, size_t rows, size_t cols,
                  float epsilon, float* out, float* mean, float* inv_std_dev);

// For each row of the row-major [rows, cols] a and b: sum = a + b (each sum rounded once, as
// ONNX Add), then out = LayerNormF32 of that row of sum, bit for bit. The fusion of a
// transformer's residual Add and the LayerNorm after it: the row is normalised while in L1.
void AddLayerNormF32(const float* a, const float* b, const float* scale, const float* bias,
                     size_t rows, size_t cols, float epsilon, float* sum, float* out);

// For each row: out = exp(x - max(x)) / sum(exp(x - max(x))) (ONNX Softmax-13). `out` may equal
// `x`.
void SoftmaxF32(const float* x, size_t rows, size_t cols, float* out);

// The same without the division: out = exp(x - max(x)) and inv_sum[r] = 1 / sum(out's row) (0
// for an empty row), so that the softmax is out * inv_sum. Attention divides its product P·V
// instead of P: a row of E = 64 values instead of one of T keys. `out` may equal `x`.
void SoftmaxExpF32(const float* x, size_t rows, size_t cols, float* out, float* inv_sum);

}  // namespace qclip

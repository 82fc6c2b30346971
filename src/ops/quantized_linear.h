// The int8 matrix product shared by MatMulInteger, ConvInteger (src/ops/quant.cc) and the fused
// qclip.QuantizedLinear (src/ops/quantized_linear.cc): weights packed once with their zero-point
// terms, dynamic quantization of float activations, and the tiled, threaded driver around the
// kernels in kernels/gemm_s8.h and kernels/quantize.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/quantize.h"
#include "qclip/tensor.h"

namespace qclip {

class OpRegistry;
class ThreadPool;

// qclip.QuantizedLinear (domain "qclip", since_version 1), the fusion of ORT's dynamic
// quantization chain DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(x_scale * w_scale)
// [-> Add(bias)]:
//   inputs:  X float32 [..., K] (runtime); W int8/uint8 [K, N], w_scale float32 scalar or [N],
//            optional w_zero_point (W's dtype, scalar or [N]; absent = 0), optional bias
//            float32 [N]: all constant at load.
//   output:  Y float32 [..., N].
// With RunContext::exact, X is quantized per tensor exactly as DynamicQuantizeLinear and Y
// matches ORT's unfused graph bit for bit; otherwise each row of X (token) gets its own scale
// and zero point, which is at least as accurate and independent of the other rows.
void RegisterQuantizedLinear(OpRegistry& r);  // src/ops/quantized_linear.cc

// Zero points of an int8/uint8 tensor that is null (all 0), a scalar, or has n elements, as n
// int32 values; throws otherwise. `what` names the input in messages.
std::vector<int32_t> ReadZeroPoints(const Tensor* zero_point, size_t n, const char* what);

// B [K, N] int8 or uint8 with per-column zero points, packed for MatMulU8S8. uint8 weights are
// stored as int8 w - 128 with zero point zp - 128: every difference w - zp is unchanged, so
// QUInt8 models run the same kernel as QInt8 ones.
struct QuantizedWeights {
  size_t K = 0;
  size_t N = 0;
  Tensor packed;                     // int8, PackedWeightsS8Size(K, N) bytes
  std::vector<int32_t> zero_points;  // [N], on the int8 scale
  std::vector<int32_t> column_sums;  // [N], sum_k of the int8 weights

  // Packs B(k, n) = data[k * k_stride + n * n_stride] of `dtype` (kInt8 or kUInt8), with
  // zero_points[n] in that dtype's range.
  static QuantizedWeights Pack(DType dtype, const void* data, size_t K, size_t N, size_t k_stride,
                               size_t n_stride, const std::vector<int32_t>& zero_points);
};

// Activations A [rows, K] uint8 (row stride lda), each row with its own zero point.
struct QuantizedActivations {
  const uint8_t* data = nullptr;
  size_t rows = 0;
  size_t lda = 0;
  const int32_t* zero_points = nullptr;  // [rows]
};

// y[m * ldy + n] = sum_k (a[m][k] - a_zp[m]) * (b[k][n] - b_zp[n]), int32.
void MatMulQuantized(const QuantizedActivations& a, const QuantizedWeights& w, ThreadPool& pool,
                     int32_t* y, size_t ldy);

// y[m * ldy + n] = float(that sum) * (a_scales[m] * b_scales[n]) + bias[n] (bias may be null),
// the Cast -> Mul -> Add of ORT's graph without fused multiply-adds.
void MatMulQuantized(const QuantizedActivations& a, const QuantizedWeights& w,
                     const float* a_scales, const float* b_scales, const float* bias,
                     ThreadPool& pool, float* y, size_t ldy);

// DynamicQuantizeLinear of x[0, n) into q: the parameters from the min and max of all of x
// (ORT's GetQuantizationParameter), then QuantizeU8; returns them. Split in fixed chunks over
// the pool; min and max do not depend on the order.
QuantParams DynamicQuantize(const float* x, size_t n, ThreadPool& pool, uint8_t* q);

}  // namespace qclip

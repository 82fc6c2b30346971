// The int8 matrix product shared by MatMulInteger, ConvInteger (src/ops/quant.cc) and the fused
// qclip.QuantizedLinear (src/ops/quantized_linear.cc): weights packed once with their zero-point
// terms, dynamic quantization of float activations, and the tiled, threaded driver around the
// kernels in kernels/gemm_s8.h and kernels/quantize.h.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm_s8.h"
#include "kernels/quantize.h"
#include "qclip/tensor.h"
#include "util/weight_arena.h"

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
// Several products of one X (MergeQuantizedLinears, src/graph/passes.h): inputs X, then W,
// w_scale, w_zero_point, bias for each output (1 + 4 * outputs inputs, absent ones empty), every
// W [K, N_i] with the same K; output i is Y_i [..., N_i], the same as a node of its own would
// give, with X quantized once.
// KernelInit::int8_activations chooses how X is quantized (docs/QUANTIZATION.md):
//   kPerTensor (and any kernel run with RunContext::exact): per tensor, exactly as
//     DynamicQuantizeLinear; Y matches ORT's unfused graph bit for bit.
//   kBlockwise: each row of X (token) cut into blocks of kActivationBlock values, each with its
//     own scale and zero point; more accurate, and a row's result depends on that row alone.
//   kFloat: X is not quantized: W is dequantized at load, (W - w_zero_point) * w_scale, and Y
//     is an FP32 product; the reference for the activation schemes.
void RegisterQuantizedLinear(OpRegistry& r);  // src/ops/quantized_linear.cc

// Zero points of an int8/uint8 tensor that is null (all 0), a scalar, or has n elements, as n
// int32 values; throws otherwise. `what` names the input in messages.
std::vector<int32_t> ReadZeroPoints(const Tensor* zero_point, size_t n, const char* what);
// The same into values[0, n) (a Run's scratch, where ReadZeroPoints would allocate).
void ReadZeroPoints(const Tensor* zero_point, size_t n, const char* what, int32_t* values);

// B [K, N] int8 or uint8 with per-column zero points, packed for MatMulU8S8. uint8 weights are
// stored as int8 w - 128 with zero point zp - 128: every difference w - zp is unchanged, so
// QUInt8 models run the same kernel as QInt8 ones.
struct QuantizedWeights {
  size_t K = 0;
  size_t N = 0;
  Tensor packed;                     // int8, PackedWeightsS8Size(K, N) bytes
  std::vector<int32_t> zero_points;  // [N], on the int8 scale
  std::vector<int32_t> column_sums;  // [N], sum_k of the int8 weights
  Tensor block_terms;                // int32, PackBlockTermsS8; empty unless packed for it

  // Packs B(k, n) = data[k * k_stride + n * n_stride] of `dtype` (kInt8 or kUInt8), with
  // zero_points[n] in that dtype's range; with `blockwise`, also the block terms that
  // MatMulQuantizedBlockwise needs. The packed data goes in `arena` when given; `pool`, when
  // given, packs the panels in parallel (the bytes are the same).
  static QuantizedWeights Pack(DType dtype, const void* data, size_t K, size_t N, size_t k_stride,
                               size_t n_stride, const std::vector<int32_t>& zero_points,
                               bool blockwise = false, WeightArena* arena = nullptr,
                               ThreadPool* pool = nullptr);

  // Whether some column's zero point (as packed) is not 0: only then do the products need the
  // activations' sums (per row, or per block), which those zero points multiply.
  bool HasZeroPoints() const {
    return std::any_of(zero_points.begin(), zero_points.end(), [](int32_t zp) { return zp != 0; });
  }
};

// Activations A [rows, K] uint8 (row stride lda), each row with its own zero point.
struct QuantizedActivations {
  const uint8_t* data = nullptr;
  size_t rows = 0;
  size_t lda = 0;
  const int32_t* zero_points = nullptr;  // [rows]
  // Scratch of [rows] for the row sums sum_k a[m][k], which MatMulQuantized computes when some
  // weight zero point is not 0.
  int32_t* row_sums = nullptr;
};

// y[m * ldy + n] = sum_k (a[m][k] - a_zp[m]) * (b[k][n] - b_zp[n]), int32.
void MatMulQuantized(const QuantizedActivations& a, const QuantizedWeights& w, ThreadPool& pool,
                     int32_t* y, size_t ldy);

// One float output of a product of shared activations: y[m * ldy + n] for n < weights->N, from
// the weights (all of one call with the activations' K), their per-column scales and bias (may
// be null).
struct LinearOutput {
  const QuantizedWeights* weights = nullptr;
  const float* b_scales = nullptr;  // [N]
  const float* bias = nullptr;      // [N] or null
  float* y = nullptr;
  size_t ldy = 0;
};

// For each of outputs[0, count): y[m * ldy + n] = activation(float(that sum) * (a_scales[m] *
// b_scales[n]) + bias[n]), the Cast -> Mul -> Add of ORT's graph without fused multiply-adds,
// then the activation with the bits of UnaryF32. All outputs' tiles are one pass over the pool
// (a merged node's Q, K and V: one dispatch instead of three, its tasks balanced over all).
void MatMulQuantized(const QuantizedActivations& a, const float* a_scales,
                     const LinearOutput* outputs, size_t count, UnaryOp activation,
                     ThreadPool& pool);

// Block-quantized activations A [rows, K] uint8 (row stride lda), followed by a row of K ones
// (BlockwiseGemmTerms::ones_after_a), and their per-block terms, block b of row m at
// blocks[b * rows + m].
struct BlockQuantizedActivations {
  const uint8_t* data = nullptr;
  size_t rows = 0;
  size_t lda = 0;
  const ActivationBlock* blocks = nullptr;
};

// Per-block DynamicQuantizeLinear of x [rows, K] (dense) into q (dense) and blocks
// ([ActivationBlocks(K)][rows]), spread over the pool by rows; params and sums are scratch of
// rows * ActivationBlocks(K) entries each. With sums null the blocks' sums of quantized values,
// which only weights with a nonzero zero point multiply (QuantizedWeights::HasZeroPoints), are
// neither computed nor packed (their term is 0 either way).
void DynamicQuantizeBlocks(const float* x, size_t rows, size_t K, ThreadPool& pool, uint8_t* q,
                           ActivationBlock* blocks, QuantParams* params, int32_t* sums);

// For each of outputs[0, count): y[m * ldy + n] = activation((sum_b s[m][b] * C_b[m][n]) *
// b_scales[n] + bias[n]), the block-wise product of kernels/gemm_s8.h, in one pass over the pool
// as MatMulQuantized; the weights must be packed with `blockwise`.
void MatMulQuantizedBlockwise(const BlockQuantizedActivations& a, const LinearOutput* outputs,
                              size_t count, UnaryOp activation, ThreadPool& pool);

// DynamicQuantizeLinear of x[0, n) into q: the parameters from the min and max of all of x
// (ORT's GetQuantizationParameter), then QuantizeU8; returns them. Split in fixed chunks over
// the pool; min and max do not depend on the order. `ranges` is scratch of
// DynamicQuantizeRanges(n) floats (each chunk's min and max).
QuantParams DynamicQuantize(const float* x, size_t n, ThreadPool& pool, uint8_t* q, float* ranges);
size_t DynamicQuantizeRanges(size_t n);

}  // namespace qclip

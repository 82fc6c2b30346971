// Integer GEMM for the dynamically quantized ops: u8 activations x s8 weights -> exact int32
// sums, optionally turned into the zero-point corrected int32 of MatMulInteger or the float
// output of the fused QuantizedLinear before they leave registers. SIMD code is in
// gemm_s8-inl.h: VPDPBUSD on AVX-512 VNNI, an exact i16 widening path everywhere else; every
// target gives bit-identical int32 results.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qclip {

// Packed weights: the [K, N] matrix is cut into panels of kPackedPanelCols columns (the last
// zero-padded). Within a panel, K is walked in groups of 4 (zero-padded to a multiple of 4),
// and each group stores, for every column n, the 4 bytes B[k..k+3][n] together, so one 32-bit
// lane of a vector holds what one VPDPBUSD lane multiplies:
//   packed[panel][k / 4][n % kPackedPanelCols][k % 4]
inline constexpr size_t kPackedPanelCols = 64;

// Bytes PackWeightsS8 writes for a [K, N] matrix.
size_t PackedWeightsS8Size(size_t K, size_t N);

// Packs B(k, n) = b[k * k_stride + n * n_stride] (so [K, N] row-major has k_stride = N,
// n_stride = 1, and its transpose [N, K] has k_stride = 1, n_stride = K) into `packed`, which
// has PackedWeightsS8Size(K, N) bytes; 64-byte alignment makes the kernel's loads aligned.
void PackWeightsS8(const int8_t* b, size_t K, size_t N, size_t k_stride, size_t n_stride,
                   int8_t* packed);

// c[m * ldc + n] = sum_k a[m * lda + k] * B[k][n] for m < rows and n in [col_begin, col_end),
// with B packed by PackWeightsS8(K, N); c points at [0][col_begin]. col_begin must be a multiple
// of kPackedPanelCols and col_end <= N. Sums wrap modulo 2^32 like VPDPBUSD; they cannot
// overflow for K <= 65793.
void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, int32_t* c, size_t ldc);

// sums[m] = sum_k a[m * lda + k] for m < rows: the activation side of the zero-point terms.
void RowSumsU8(const uint8_t* a, size_t lda, size_t rows, size_t K, int32_t* sums);

// Zero points and scales of the rows of A and the columns of B, applied to each tile of sums
// while it is still in registers. Row arrays are indexed like the rows of the `a` passed along
// (0 = its first row), column arrays by the column of B.
struct QuantizedGemmTerms {
  const int32_t* a_zero_points = nullptr;  // [rows]
  const int32_t* a_sums = nullptr;         // [rows], RowSumsU8
  const float* a_scales = nullptr;         // [rows], float output only
  const int32_t* b_zero_points = nullptr;  // [N]
  const int32_t* b_sums = nullptr;         // [N], sum_k B[k][n]
  const float* b_scales = nullptr;         // [N], float output only
  const float* bias = nullptr;             // [N] or null, float output only
};

// Like MatMulU8S8, but c receives the zero-point corrected sums of MatMulInteger,
//   sum_k (a - a_zp[m]) (b - b_zp[n])
//     = sum_k a*b - a_zp[m] * b_sums[n] - b_zp[n] * (a_sums[m] - K * a_zp[m]),
// wrapping modulo 2^32: exact whenever the result fits in int32 (always, for K <= 33025).
void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, const QuantizedGemmTerms& terms,
                int32_t* c, size_t ldc);

// Like the above, but y receives
//   float(corrected sum) * (a_scales[m] * b_scales[n]) + bias[n]
// in that order and without fused multiply-adds: what ORT's Cast -> Mul(a_scale * b_scale) ->
// Add chain (and its MatMulIntegerToFloat fusion) computes, bit for bit.
void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, const QuantizedGemmTerms& terms,
                float* y, size_t ldy);

}  // namespace qclip

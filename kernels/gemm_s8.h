// Integer GEMM for the dynamically quantized ops: u8 activations x s8 weights -> exact int32
// sums, optionally turned into the zero-point corrected int32 of MatMulInteger or the float
// output of the fused QuantizedLinear before they leave registers; and the block-wise variant,
// whose activations have a scale and zero point per block of kActivationBlock values of a row.
// SIMD code is in gemm_s8-inl.h: VPDPBUSD on AVX-512 VNNI, an exact i16 widening path everywhere
// else, and AMX-INT8 tiles for the per-tensor products where the CPU has them (gemm_s8_amx.h);
// every target gives bit-identical int32 results, and bit-identical float results (same
// operations in the same order, no fused multiply-adds).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"

namespace qclip {

// Packed weights: the [K, N] matrix is cut into panels of kPackedPanelCols columns (the last
// zero-padded). Within a panel, K is walked in groups of 4, zero-padded to whole steps of
// kPackedStepGroups groups (64 k values: whole blocks of kActivationBlock too, so that the
// block-wise kernel runs whole blocks), and each group stores, for every column n, the 4 bytes
// B[k..k+3][n] together, so one 32-bit lane of a vector holds what one VPDPBUSD lane multiplies.
// A step is four tiles of 16 columns, each tile its 16 groups of 64 bytes in a row:
//   packed[panel][k / 64][n % 64 / 16][k % 64 / 4][n % 16][k % 4]
// so one AMX weight tile (16 groups x 16 columns, gemm_s8_amx.h) is 1 KiB in one piece (tiles
// with 256-byte rows, the layout until the thirteenth session, loaded 10-18% slower at the
// model's shapes), and a vector of up to 16 columns is 64 bytes in one piece.
inline constexpr size_t kPackedPanelCols = 64;
inline constexpr size_t kPackedStepGroups = 16;
inline constexpr size_t kPackedTileCols = 16;
inline constexpr size_t kPackedTileBytes = kPackedStepGroups * kPackedTileCols * 4;
inline constexpr size_t kPackedStepBytes = kPackedTileBytes * (kPackedPanelCols / kPackedTileCols);

// Byte offset of k group g in a panel, and of column c (< kPackedPanelCols) in a group; both
// add: offset(g, c) = PackedGroupOffset(g) + PackedColumnOffset(c), and
// PackedColumnOffset(c + d) = PackedColumnOffset(c) + PackedColumnOffset(d) when c is a multiple
// of kPackedTileCols. Groups g..g+7 of a block (g a multiple of 8) are 64 bytes apart.
inline constexpr size_t PackedGroupOffset(size_t g) {
  return g / kPackedStepGroups * kPackedStepBytes + g % kPackedStepGroups * kPackedTileCols * 4;
}
inline constexpr size_t PackedColumnOffset(size_t c) {
  return c / kPackedTileCols * kPackedTileBytes + c % kPackedTileCols * 4;
}

// Activations per block of the block-wise product (see below).
inline constexpr size_t kActivationBlock = 32;
static_assert(4 * kPackedStepGroups % kActivationBlock == 0, "a step holds whole blocks");

// Blocks of a K-long row.
inline constexpr size_t ActivationBlocks(size_t K) {
  return (K + kActivationBlock - 1) / kActivationBlock;
}

// k groups of 4 per packed panel: whole steps.
inline constexpr size_t PackedPanelGroups(size_t K) {
  return (K + 4 * kPackedStepGroups - 1) / (4 * kPackedStepGroups) * kPackedStepGroups;
}

// Bytes of one packed panel, and where column `col` of the matrix starts in k group 0 of its
// panel. A caller reads column col + d at PackedColumn(...) + PackedColumnOffset(d), which holds
// when col is a multiple of kPackedTileCols or col % kPackedTileCols + d < kPackedTileCols (the
// kernels' column tiles are one or more whole tiles, or divide one).
inline constexpr size_t PackedPanelBytes(size_t K) {
  return PackedPanelGroups(K) * kPackedPanelCols * 4;
}
inline const int8_t* PackedColumn(const int8_t* packed, size_t K, size_t col) {
  return packed + col / kPackedPanelCols * PackedPanelBytes(K) +
         PackedColumnOffset(col % kPackedPanelCols);
}

// Bytes PackWeightsS8 writes for a [K, N] matrix.
size_t PackedWeightsS8Size(size_t K, size_t N);

// Packs B(k, n) = b[k * k_stride + n * n_stride] (so [K, N] row-major has k_stride = N,
// n_stride = 1, and its transpose [N, K] has k_stride = 1, n_stride = K) into `packed`, which
// has PackedWeightsS8Size(K, N) bytes; 64-byte alignment makes the kernel's loads aligned.
// `flip` is XORed into every byte read: 0x80 packs uint8 weights w as the int8 w - 128.
void PackWeightsS8(const int8_t* b, size_t K, size_t N, size_t k_stride, size_t n_stride,
                   int8_t* packed, uint8_t flip = 0);

// c[m * ldc + n] = sum_k a[m * lda + k] * B[k][n] for m < rows and n in [col_begin, col_end),
// with B packed by PackWeightsS8(K, N); c points at [0][col_begin]. col_begin must be a multiple
// of kPackedPanelCols and col_end <= N. Sums wrap modulo 2^32 like VPDPBUSD; they cannot
// overflow for K <= 65793.
void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, int32_t* c, size_t ldc);

// Whether the per-tensor products (MatMulU8S8 and its epilogue variants) of depth K, or with
// `blockwise` the block-wise ones (MatMulBlockwiseU8S8), run on AMX tiles here
// (gemm_s8_amx.h): faster than VNNI, so that reading the weights from L3 becomes their limit and
// callers should give each task more rows.
bool ProductRunsOnAmx(size_t K, bool blockwise = false);

// sums[m] = sum_k a[m * lda + k] for m < rows: the activation side of the zero-point terms.
void RowSumsU8(const uint8_t* a, size_t lda, size_t rows, size_t K, int32_t* sums);

// Zero points and scales of the rows of A and the columns of B, applied to each tile of sums
// while it is still in registers. Row arrays are indexed like the rows of the `a` passed along
// (0 = its first row), column arrays by the column of B.
struct QuantizedGemmTerms {
  const int32_t* a_zero_points = nullptr;   // [rows]
  const int32_t* a_sums = nullptr;          // [rows], RowSumsU8
  const float* a_scales = nullptr;          // [rows], float output only
  const int32_t* b_zero_points = nullptr;   // [N]
  const int32_t* b_sums = nullptr;          // [N], sum_k B[k][n]
  const float* b_scales = nullptr;          // [N], float output only
  const float* bias = nullptr;              // [N] or null, float output only
  UnaryOp activation = UnaryOp::kIdentity;  // applied last, float output only
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
// Add chain (and its MatMulIntegerToFloat fusion) computes, bit for bit; then
// terms.activation, with the same bits as UnaryF32 on the stored output (a fused Gelu).
void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, const QuantizedGemmTerms& terms,
                float* y, size_t ldy);

// ------------------------------ Block-wise activations
//
// Row m of A is cut into blocks of kActivationBlock values along K (the last one shorter), each
// quantized with its own scale s[m][b] and zero point zp[m][b]. With W the weights and wzp their
// column zero points, the output is
//   y[m][n] = (sum_b s[m][b] * float(C_b[m][n])) * b_scales[n] + bias[n],
//   C_b[m][n] = sum_{k in block b} (a[m][k] - zp[m][b]) * (W[k][n] - wzp[n])      (exact int32)
//             = D_b - zp[m][b] * Wsum_b[n] - wzp[n] * (Asum_b[m] - len_b * zp[m][b]),
// D_b = sum_k a * W being the raw block sum, Wsum_b and Asum_b the block sums of W's columns and
// A's rows. The sum over b runs in order, each product and sum rounded to float (no fused
// multiply-add), so every target computes the same bits. |C_b| < 2^24, so float(C_b) is exact.
//
// The two zero-point products are one pairwise int16 dot product per block: the row side packs
// (-zp, -(Asum_b - len_b * zp)) and the column side (Wsum_b, wzp) as int16 pairs in an int32.
// Weights must be packed zero-padded to whole blocks (PackWeightsS8 does).

// The row side of a block: its scale, and its zero point zp and the sum of its len quantized
// values packed as the int16 pair (-zp, -(sum - len * zp)); both halves fit in int16, as
// zp <= 255 and |sum - len * zp| <= 32 * 255.
struct ActivationBlock {
  float scale;
  int32_t zero_point_terms;
};

inline ActivationBlock MakeActivationBlock(float scale, int32_t zero_point, int32_t sum,
                                           size_t len) {
  const int32_t centered = sum - static_cast<int32_t>(len) * zero_point;
  const uint32_t lo = static_cast<uint16_t>(-zero_point);
  const uint32_t hi = static_cast<uint16_t>(-centered);
  return {scale, static_cast<int32_t>(lo | hi << 16)};
}

// int32 values PackBlockTermsS8 writes for a [K, N] matrix: per panel of kPackedPanelCols
// columns, per block, one int32 per column.
size_t PackedBlockTermsS8Size(size_t K, size_t N);

// The column side for B(k, n) = b[k * k_stride + n * n_stride] with column zero points
// zero_points[n] (in [-128, 127]):
//   terms[panel][block][n % kPackedPanelCols] = int16 pair (Wsum_block[n], zero_points[n]),
// zero past N.
// `flip` as for PackWeightsS8 (zero_points are then those of the flipped weights).
void PackBlockTermsS8(const int8_t* b, size_t K, size_t N, size_t k_stride, size_t n_stride,
                      const int32_t* zero_points, int32_t* terms, uint8_t flip = 0);

// The row and column sides of the block-wise product, and the float output's terms.
struct BlockwiseGemmTerms {
  // Block b of row m of A at a_blocks[b * a_stride + m] (block-major, so that a tile finds its
  // rows' terms for one block next to each other); a_stride >= rows.
  const ActivationBlock* a_blocks = nullptr;
  size_t a_stride = 0;
  const int32_t* b_terms = nullptr;         // PackBlockTermsS8
  const float* b_scales = nullptr;          // [N]
  const float* bias = nullptr;              // [N] or null
  UnaryOp activation = UnaryOp::kIdentity;  // applied to y last, as for MatMulU8S8
  // a[rows * lda + k] = 1 for k < K: the row of ones that the AMX kernel multiplies with the
  // weights, below 16 rows, for each block's weight sums (gemm_s8_amx.h), is in place after the
  // last row; without it the kernel copies the rows to a buffer of its own with one.
  bool ones_after_a = false;
};

// y[m * ldy + n] for m < rows and n in [col_begin, col_end) as above, with B packed by
// PackWeightsS8(K, N); y points at [0][col_begin], terms.a_blocks at row 0 of `a`.
// col_begin must be a multiple of kPackedPanelCols and col_end <= N.
void MatMulBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                         const int8_t* packed_b, size_t N, size_t col_begin, size_t col_end,
                         const BlockwiseGemmTerms& terms, float* y, size_t ldy);

}  // namespace qclip

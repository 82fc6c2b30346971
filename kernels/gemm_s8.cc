#include "kernels/gemm_s8.h"

#include <algorithm>
#include <cstring>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_s8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/activation-inl.h"
#include "kernels/gemm_s8-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qclip {
namespace HWY_NAMESPACE {

void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, int32_t* c, size_t ldc) {
  MulPanelsU8S8(a, lda, rows, K, packed_b, N, col_begin, col_end, SumsToS32{c, ldc, col_begin});
}

void RowSumsU8(const uint8_t* a, size_t lda, size_t rows, size_t K, int32_t* sums) {
  SumRowsU8(a, lda, rows, K, sums);
}

// As MulPanelsU8S8 and MulPanelsBlockwiseU8S8 decide.
bool ProductRunsOnAmx(size_t K, bool blockwise) {
#if HWY_TARGET == HWY_AVX3_DL
  return AmxTakesDepth(K, blockwise);
#else
  (void)K;
  (void)blockwise;
  return false;
#endif
}

void MatMulZeroPointsU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                          const int8_t* packed_b, size_t N, size_t col_begin, size_t col_end,
                          const QuantizedGemmTerms& terms, int32_t* c, size_t ldc) {
  MulPanelsU8S8(a, lda, rows, K, packed_b, N, col_begin, col_end,
                ZeroPointsToS32{terms, K, c, ldc, col_begin});
}

// The fused activation, on the rows x [col_begin, col_end) outputs just written (still in L1
// when the caller cuts the product into small tasks, as QuantizedLinear does: 96 x 64 at most).
void ApplyActivation(UnaryOp op, size_t rows, size_t cols, float* y, size_t ldy) {
  if (op == UnaryOp::kIdentity) return;
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) UnaryRow(d, op, y + r * ldy, y + r * ldy, cols);
}

void MatMulDequantizeU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                          const int8_t* packed_b, size_t N, size_t col_begin, size_t col_end,
                          const QuantizedGemmTerms& terms, float* y, size_t ldy) {
  MulPanelsU8S8(a, lda, rows, K, packed_b, N, col_begin, col_end,
                DequantizedToF32{terms, K, y, ldy, col_begin});
  ApplyActivation(terms.activation, rows, col_end - col_begin, y, ldy);
}

void MatMulBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                         const int8_t* packed_b, size_t N, size_t col_begin, size_t col_end,
                         const BlockwiseGemmTerms& terms, float* y, size_t ldy) {
  MulPanelsBlockwiseU8S8(a, lda, rows, K, packed_b, N, col_begin, col_end, terms, y, ldy);
  ApplyActivation(terms.activation, rows, col_end - col_begin, y, ldy);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace qclip
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qclip {

HWY_EXPORT(MatMulU8S8);
HWY_EXPORT(RowSumsU8);
HWY_EXPORT(ProductRunsOnAmx);
HWY_EXPORT(MatMulZeroPointsU8S8);
HWY_EXPORT(MatMulDequantizeU8S8);
HWY_EXPORT(MatMulBlockwiseU8S8);

size_t PackedWeightsS8Size(size_t K, size_t N) {
  const size_t panels = (N + kPackedPanelCols - 1) / kPackedPanelCols;
  return panels * PackedPanelGroups(K) * kPackedPanelCols * 4;
}

void PackWeightsS8(const int8_t* b, size_t K, size_t N, size_t k_stride, size_t n_stride,
                   int8_t* packed, uint8_t flip) {
  // Every byte is written once, padding included; each group's 64 words go to its four tiles.
  const size_t panels = (N + kPackedPanelCols - 1) / kPackedPanelCols;
  const size_t groups = PackedPanelGroups(K);
  const size_t panel_bytes = PackedPanelBytes(K);
  for (size_t panel = 0; panel < panels; ++panel) {
    const size_t n_begin = panel * kPackedPanelCols;
    const size_t cols = std::min(kPackedPanelCols, N - n_begin);
    for (size_t g = 0; g < groups; ++g) {
      uint32_t words[kPackedPanelCols] = {};  // little-endian: byte j is row 4g + j
      if (cols == kPackedPanelCols && n_stride == 1 && 4 * g + 4 <= K) {
        // Whole group of a row-major matrix: four rows interleaved, one word per column (the
        // compiler vectorizes this).
        const auto* r = reinterpret_cast<const uint8_t*>(b + 4 * g * k_stride + n_begin);
        for (size_t c = 0; c < kPackedPanelCols; ++c) {
          words[c] = (uint32_t{r[c]} | uint32_t{r[k_stride + c]} << 8 |
                      uint32_t{r[2 * k_stride + c]} << 16 | uint32_t{r[3 * k_stride + c]} << 24) ^
                     flip * 0x01010101u;
        }
      } else {
        for (size_t j = 0; j < 4 && 4 * g + j < K; ++j) {
          const auto* row =
              reinterpret_cast<const uint8_t*>(b + (4 * g + j) * k_stride + n_begin * n_stride);
          for (size_t c = 0; c < cols; ++c) {
            words[c] |= static_cast<uint32_t>(row[c * n_stride] ^ flip) << 8 * j;
          }
        }
      }
      int8_t* out = packed + panel * panel_bytes + PackedGroupOffset(g);
      for (size_t c = 0; c < kPackedPanelCols; c += kPackedTileCols) {
        memcpy(out + PackedColumnOffset(c), words + c, kPackedTileCols * 4);
      }
    }
  }
}

size_t PackedBlockTermsS8Size(size_t K, size_t N) {
  const size_t panels = (N + kPackedPanelCols - 1) / kPackedPanelCols;
  return panels * ActivationBlocks(K) * kPackedPanelCols;
}

void PackBlockTermsS8(const int8_t* b, size_t K, size_t N, size_t k_stride, size_t n_stride,
                      const int32_t* zero_points, int32_t* terms, uint8_t flip) {
  memset(terms, 0, PackedBlockTermsS8Size(K, N) * sizeof(int32_t));
  const size_t blocks = ActivationBlocks(K);
  std::vector<int32_t> sums(N);  // of one block, per column; |sum| <= 32 * 128 fits int16
  for (size_t block = 0; block < blocks; ++block) {
    std::fill(sums.begin(), sums.end(), 0);
    const size_t k_end = std::min(K, (block + 1) * kActivationBlock);
    for (size_t k = block * kActivationBlock; k < k_end; ++k) {  // row by row: reads in order
      for (size_t n = 0; n < N; ++n) {
        sums[n] += static_cast<int8_t>(b[k * k_stride + n * n_stride] ^ flip);
      }
    }
    for (size_t n = 0; n < N; ++n) {
      const size_t i =
          (n / kPackedPanelCols * blocks + block) * kPackedPanelCols + n % kPackedPanelCols;
      terms[i] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(sums[n])) |
                                      static_cast<uint32_t>(zero_points[n]) << 16);
    }
  }
}

bool ProductRunsOnAmx(size_t K, bool blockwise) {
  return HWY_DYNAMIC_DISPATCH(ProductRunsOnAmx)(K, blockwise);
}

void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, int32_t* c, size_t ldc) {
  HWY_DYNAMIC_DISPATCH(MatMulU8S8)(a, lda, rows, K, packed_b, N, col_begin, col_end, c, ldc);
}

void RowSumsU8(const uint8_t* a, size_t lda, size_t rows, size_t K, int32_t* sums) {
  HWY_DYNAMIC_DISPATCH(RowSumsU8)(a, lda, rows, K, sums);
}

void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, const QuantizedGemmTerms& terms,
                int32_t* c, size_t ldc) {
  HWY_DYNAMIC_DISPATCH(MatMulZeroPointsU8S8)
  (a, lda, rows, K, packed_b, N, col_begin, col_end, terms, c, ldc);
}

void MatMulU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K, const int8_t* packed_b,
                size_t N, size_t col_begin, size_t col_end, const QuantizedGemmTerms& terms,
                float* y, size_t ldy) {
  HWY_DYNAMIC_DISPATCH(MatMulDequantizeU8S8)
  (a, lda, rows, K, packed_b, N, col_begin, col_end, terms, y, ldy);
}

void MatMulBlockwiseU8S8(const uint8_t* a, size_t lda, size_t rows, size_t K,
                         const int8_t* packed_b, size_t N, size_t col_begin, size_t col_end,
                         const BlockwiseGemmTerms& terms, float* y, size_t ldy) {
  HWY_DYNAMIC_DISPATCH(MatMulBlockwiseU8S8)
  (a, lda, rows, K, packed_b, N, col_begin, col_end, terms, y, ldy);
}

}  // namespace qclip
#endif  // HWY_ONCE

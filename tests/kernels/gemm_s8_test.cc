#include "kernels/gemm_s8.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/tests/hwy_gtest.h"
#include "kernels/gemm_s8_amx.h"

namespace qclip {
namespace {

// A [rows, K] u8 matrix with row stride lda, stored at an odd byte offset so that no row is
// aligned.
struct MatrixU8 {
  size_t rows, K, lda;
  std::vector<uint8_t> storage;
  uint8_t* data() { return storage.data() + 1; }
  uint8_t& at(size_t m, size_t k) { return data()[m * lda + k]; }
};

MatrixU8 RandomActivations(size_t rows, size_t K, std::mt19937& rng, int max = 255) {
  MatrixU8 a{rows, K, K + 3, {}};
  a.storage.assign(1 + rows * a.lda, 0xAB);  // padding bytes are never read into results
  std::uniform_int_distribution<int> dist(0, max);
  for (size_t m = 0; m < rows; ++m) {
    for (size_t k = 0; k < K; ++k) a.at(m, k) = static_cast<uint8_t>(dist(rng));
  }
  return a;
}

std::vector<int8_t> RandomWeights(size_t K, size_t N, std::mt19937& rng) {
  std::vector<int8_t> b(K * N);
  std::uniform_int_distribution<int> dist(-128, 127);
  for (int8_t& v : b) v = static_cast<int8_t>(dist(rng));
  return b;
}

hwy::AlignedFreeUniquePtr<int8_t[]> Pack(const int8_t* b, size_t K, size_t N, size_t k_stride,
                                         size_t n_stride) {
  auto packed = hwy::AllocateAligned<int8_t>(PackedWeightsS8Size(K, N) + 1);
  PackWeightsS8(b, K, N, k_stride, n_stride, packed.get());
  return packed;
}

// Reference: c[m][n] = sum_k a[m][k] * b[k][n] (b row-major [K, N]).
std::vector<int32_t> ReferenceMatMul(MatrixU8& a, const std::vector<int8_t>& b, size_t N) {
  std::vector<int32_t> c(a.rows * N, 0);
  for (size_t m = 0; m < a.rows; ++m) {
    for (size_t n = 0; n < N; ++n) {
      int32_t sum = 0;
      for (size_t k = 0; k < a.K; ++k) sum += int32_t{a.at(m, k)} * b[k * N + n];
      c[m * N + n] = sum;
    }
  }
  return c;
}

// Runs MatMulU8S8 over columns [col_begin, col_end) into a strided, misaligned output whose
// other elements must stay untouched, and compares with the reference.
void CheckMatMul(MatrixU8& a, const std::vector<int8_t>& b, size_t N, size_t col_begin,
                 size_t col_end) {
  const size_t K = a.K;
  const auto packed = Pack(b.data(), K, N, N, 1);
  const std::vector<int32_t> expected = ReferenceMatMul(a, b, N);
  const size_t ldc = N + 5;
  constexpr int32_t kUntouched = 0x5A5A5A5A;
  std::vector<int32_t> c(1 + a.rows * ldc, kUntouched);
  MatMulU8S8(a.data(), a.lda, a.rows, K, packed.get(), N, col_begin, col_end, c.data() + 1, ldc);
  for (size_t m = 0; m < a.rows; ++m) {
    for (size_t j = 0; j < ldc; ++j) {
      const int32_t actual = c[1 + m * ldc + j];
      const size_t n = col_begin + j;
      if (n < col_end) {
        ASSERT_EQ(actual, expected[m * N + n])
            << "M=" << a.rows << " K=" << K << " N=" << N << " m=" << m << " n=" << n;
      } else {
        ASSERT_EQ(actual, kUntouched) << "wrote outside the tile at m=" << m << " j=" << j;
      }
    }
  }
}

class GemmS8Test : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(GemmS8Test);

TEST_P(GemmS8Test, MatchesReferenceOnAwkwardShapes) {
  std::mt19937 rng(1234);
  for (size_t M : {0, 1, 2, 3, 6, 7, 17}) {
    for (size_t K : {0, 1, 2, 3, 4, 5, 17, 63, 64, 65, 197}) {
      for (size_t N : {1, 2, 3, 17, 63, 64, 65, 197}) {
        MatrixU8 a = RandomActivations(M, K, rng);
        CheckMatMul(a, RandomWeights(K, N, rng), N, 0, N);
      }
    }
  }
}

TEST_P(GemmS8Test, LargerTile) {
  std::mt19937 rng(99);
  MatrixU8 a = RandomActivations(64, 197, rng);
  CheckMatMul(a, RandomWeights(197, 197, rng), 197, 0, 197);
}

// Shapes the AMX tiles take on machines that have them (kernels/gemm_s8_amx.h: up to 16 rows one
// tile of that many against whole 64-column panels; more rows in tiles of 16, two per call
// against 32 columns, the last tile overlapping the one before, an odd one paired with it; K a
// multiple of 64, else vector tiles; partial panels included), with AMX and, to compare,
// without.
TEST_P(GemmS8Test, AmxShapes) {
  std::mt19937 rng(2024);
  for (bool amx : {true, false}) {
    SetAmxForTesting(amx);
    for (size_t M : {1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 50, 54, 65, 96}) {
      for (size_t K : {64, 128, 704}) {
        MatrixU8 a = RandomActivations(M, K, rng);
        for (size_t N : {32, 100, 197}) {
          const std::vector<int8_t> b = RandomWeights(K, N, rng);
          CheckMatMul(a, b, N, 0, N);
          if (N > 64) CheckMatMul(a, b, N, 64, std::min<size_t>(N, 128));
        }
      }
    }
  }
  SetAmxForTesting(true);
}

TEST_P(GemmS8Test, ColumnRanges) {
  std::mt19937 rng(7);
  MatrixU8 a = RandomActivations(13, 70, rng);
  const std::vector<int8_t> b = RandomWeights(70, 197, rng);
  CheckMatMul(a, b, 197, 64, 128);
  CheckMatMul(a, b, 197, 64, 100);
  CheckMatMul(a, b, 197, 192, 197);
  CheckMatMul(a, b, 197, 0, 1);
}

// One panel per call, as the op's tasks run it: the row tiles after a panel's first ask for the
// next panel's weights, for any number of row tiles (one tile of exactly kTileRows rows included).
TEST_P(GemmS8Test, PanelByPanel) {
  std::mt19937 rng(11);
  for (size_t M : {1, 2, 3, 5, 6, 7, 12, 13, 54}) {
    for (size_t K : {4, 64, 197}) {
      MatrixU8 a = RandomActivations(M, K, rng);
      const std::vector<int8_t> b = RandomWeights(K, 197, rng);
      for (size_t col = 0; col < 197; col += 64) {
        CheckMatMul(a, b, 197, col, std::min<size_t>(197, col + 64));
      }
    }
  }
}

// The largest products (255 * -128) everywhere: the widening path must not saturate as
// VPMADDUBSW would, and sums reach -6.4M.
TEST_P(GemmS8Test, ExtremeValues) {
  for (const auto& [a_value, b_value] : {std::pair<int, int>{255, -128}, {255, 127}, {0, -128}}) {
    for (size_t K : {4, 197, 768}) {
      std::mt19937 rng(1);
      MatrixU8 a = RandomActivations(33, K, rng);  // 32 rows for AMX tiles where there are
      for (size_t m = 0; m < a.rows; ++m) {
        for (size_t k = 0; k < K; ++k) a.at(m, k) = static_cast<uint8_t>(a_value);
      }
      std::vector<int8_t> b(K * 65, static_cast<int8_t>(b_value));
      b[3] = 127;  // one different weight in column 3
      CheckMatMul(a, b, 65, 0, 65);
    }
  }
}

// Packing is plain C++ (once per model load), not per target.
TEST(GemmS8PackTest, PacksTransposedWeights) {
  std::mt19937 rng(5);
  const size_t K = 37, N = 70;
  const std::vector<int8_t> b = RandomWeights(K, N, rng);
  std::vector<int8_t> b_t(N * K);
  for (size_t k = 0; k < K; ++k) {
    for (size_t n = 0; n < N; ++n) b_t[n * K + k] = b[k * N + n];
  }
  const size_t size = PackedWeightsS8Size(K, N);
  ASSERT_EQ(size, 2 * 16 * 64 * 4u);  // 2 panels x K padded to 64 (whole blocks) x 64 columns
  const auto packed = Pack(b.data(), K, N, N, 1);
  const auto packed_t = Pack(b_t.data(), K, N, 1, K);
  EXPECT_EQ(0, memcmp(packed.get(), packed_t.get(), size));
}

TEST_P(GemmS8Test, RowSums) {
  std::mt19937 rng(3);
  for (size_t K = 0; K <= 4 * 64 + 1; ++K) {
    MatrixU8 a = RandomActivations(3, K, rng);
    std::vector<int32_t> sums(3);
    RowSumsU8(a.data(), a.lda, a.rows, K, sums.data());
    for (size_t m = 0; m < a.rows; ++m) {
      int32_t expected = 0;
      for (size_t k = 0; k < K; ++k) expected += a.at(m, k);
      ASSERT_EQ(sums[m], expected) << "K=" << K;
    }
  }
}

// Random zero points and scales for the epilogue tests, and the scalar reference of what the
// epilogues compute from the raw sums.
struct Terms {
  std::vector<int32_t> a_zp, a_sums, b_zp, b_sums;
  std::vector<float> a_scales, b_scales, bias;

  Terms(MatrixU8& a, const std::vector<int8_t>& b, size_t N, std::mt19937& rng) {
    std::uniform_int_distribution<int32_t> a_zero(0, 255), b_zero(-128, 127);
    std::uniform_real_distribution<float> scale(1e-4f, 1e-2f);
    for (size_t m = 0; m < a.rows; ++m) {
      a_zp.push_back(a_zero(rng));
      a_scales.push_back(scale(rng));
      int32_t sum = 0;
      for (size_t k = 0; k < a.K; ++k) sum += a.at(m, k);
      a_sums.push_back(sum);
    }
    for (size_t n = 0; n < N; ++n) {
      b_zp.push_back(b_zero(rng));
      b_scales.push_back(scale(rng));
      bias.push_back(scale(rng) * 100.0f - 0.5f);
      int32_t sum = 0;
      for (size_t k = 0; k < a.K; ++k) sum += b[k * N + n];
      b_sums.push_back(sum);
    }
  }

  QuantizedGemmTerms Get(bool with_bias) const {
    return {a_zp.data(),
            a_sums.data(),
            a_scales.data(),
            b_zp.data(),
            b_sums.data(),
            b_scales.data(),
            with_bias ? bias.data() : nullptr};
  }

  // sum_k (a - a_zp)(b - b_zp) from the raw sum, in int64.
  int32_t Corrected(int32_t raw, size_t m, size_t n, size_t K) const {
    const int64_t terms = int64_t{a_zp[m]} * b_sums[n] + int64_t{b_zp[n]} * a_sums[m] -
                          static_cast<int64_t>(K) * a_zp[m] * b_zp[n];
    return static_cast<int32_t>(raw - terms);
  }
  // ORT: Cast(int32 -> float), Mul by the product of the two scales, then Add.
  float Dequantized(int32_t raw, size_t m, size_t n, size_t K, bool with_bias) const {
    const float scale = a_scales[m] * b_scales[n];
    const float v = static_cast<float>(Corrected(raw, m, n, K)) * scale;
    return with_bias ? v + bias[n] : v;
  }
};

TEST_P(GemmS8Test, ZeroPointEpilogue) {
  std::mt19937 rng(11);
  for (size_t M : {1, 7}) {
    for (size_t K : {0, 3, 65, 197}) {
      for (size_t N : {1, 17, 64, 130}) {
        MatrixU8 a = RandomActivations(M, K, rng);
        const std::vector<int8_t> b = RandomWeights(K, N, rng);
        const Terms terms(a, b, N, rng);
        const auto packed = Pack(b.data(), K, N, N, 1);
        const std::vector<int32_t> raw = ReferenceMatMul(a, b, N);
        const size_t col_begin = N > 64 ? 64 : 0, ldc = N + 3;
        std::vector<int32_t> c(1 + M * ldc, 0x5A5A5A5A);
        MatMulU8S8(a.data(), a.lda, M, K, packed.get(), N, col_begin, N, terms.Get(false),
                   c.data() + 1, ldc);
        for (size_t m = 0; m < M; ++m) {
          for (size_t j = 0; j < ldc; ++j) {
            const size_t n = col_begin + j;
            const int32_t expected = n < N ? terms.Corrected(raw[m * N + n], m, n, K) : 0x5A5A5A5A;
            ASSERT_EQ(c[1 + m * ldc + j], expected) << "M=" << M << " K=" << K << " N=" << N;
          }
        }
      }
    }
  }
}

// Bit-exact against the scalar Cast -> Mul -> Add, with sums beyond 2^24 (which round).
TEST_P(GemmS8Test, DequantizeEpilogue) {
  std::mt19937 rng(13);
  for (size_t K : {5, 197, 2000}) {
    for (size_t N : {3, 64, 100}) {
      for (bool with_bias : {false, true}) {
        const size_t M = 7;
        MatrixU8 a = RandomActivations(M, K, rng);
        const std::vector<int8_t> b = RandomWeights(K, N, rng);
        const Terms terms(a, b, N, rng);
        const auto packed = Pack(b.data(), K, N, N, 1);
        const std::vector<int32_t> raw = ReferenceMatMul(a, b, N);
        const size_t ldy = N + 1;
        std::vector<float> y(1 + M * ldy, 7.0f);
        MatMulU8S8(a.data(), a.lda, M, K, packed.get(), N, 0, N, terms.Get(with_bias), y.data() + 1,
                   ldy);
        for (size_t m = 0; m < M; ++m) {
          for (size_t n = 0; n < ldy; ++n) {
            const float expected =
                n < N ? terms.Dequantized(raw[m * N + n], m, n, K, with_bias) : 7.0f;
            ASSERT_EQ(y[1 + m * ldy + n], expected) << "K=" << K << " N=" << N << " m=" << m;
          }
        }
      }
    }
  }
}

// ------------------------------ Block-wise product

// Random block-quantized activations: per row and block a scale and a zero point, and the
// ActivationBlock terms (block-major, with a stride past `rows`, at an offset).
struct BlockTerms {
  size_t stride;
  std::vector<float> scales;  // [block][stride]
  std::vector<int32_t> zps;   // [block][stride]
  std::vector<ActivationBlock> storage;
  const ActivationBlock* data() const { return storage.data() + 1; }

  BlockTerms(MatrixU8& a, std::mt19937& rng, int zp_max = 255) : stride(a.rows + 3) {
    const size_t blocks = ActivationBlocks(a.K);
    std::uniform_int_distribution<int32_t> zero(0, zp_max);
    std::uniform_real_distribution<float> log_scale(-12.0f, 0.0f);
    scales.resize(blocks * stride);
    zps.resize(blocks * stride);
    storage.resize(1 + blocks * stride);
    for (size_t b = 0; b < blocks; ++b) {
      const size_t begin = b * kActivationBlock, len = std::min(kActivationBlock, a.K - begin);
      for (size_t m = 0; m < a.rows; ++m) {
        const size_t i = b * stride + m;
        scales[i] = std::exp2(log_scale(rng));
        zps[i] = zero(rng);
        int32_t sum = 0;
        for (size_t k = begin; k < begin + len; ++k) sum += a.at(m, k);
        storage[1 + i] = MakeActivationBlock(scales[i], zps[i], sum, len);
      }
    }
  }
};

// The scalar reference: per block the exact sum of (a - zp) * (b - b_zp), then in float
// acc = acc + scale * sum, y = acc * b_scale + bias: the order gemm_s8.h specifies.
float ReferenceBlockwise(MatrixU8& a, const BlockTerms& at, const std::vector<int8_t>& b, size_t N,
                         const std::vector<int32_t>& b_zp, const float* b_scales, const float* bias,
                         size_t m, size_t n) {
  float acc = 0.0f;
  for (size_t begin = 0, blk = 0; begin < a.K; begin += kActivationBlock, ++blk) {
    const size_t i = blk * at.stride + m;
    int64_t sum = 0;
    for (size_t k = begin; k < std::min(a.K, begin + kActivationBlock); ++k) {
      sum += int64_t{a.at(m, k) - at.zps[i]} * (b[k * N + n] - b_zp[n]);
    }
    const float product = at.scales[i] * static_cast<float>(sum);
    acc = acc + product;
  }
  const float y = acc * b_scales[n];
  return bias != nullptr ? y + bias[n] : y;
}

// Runs MatMulBlockwiseU8S8 over columns [col_begin, col_end) into a strided, misaligned output
// whose other elements must stay untouched; compares bit for bit with the reference.
void CheckBlockwise(MatrixU8& a, const BlockTerms& at, const std::vector<int8_t>& b, size_t N,
                    const std::vector<int32_t>& b_zp, std::mt19937& rng, size_t col_begin,
                    size_t col_end, bool with_bias) {
  const size_t K = a.K;
  // The row of ones after the last (BlockwiseGemmTerms::ones_after_a), in a copy of a.
  MatrixU8 a_ones = a;
  a_ones.storage.resize(1 + (a.rows + 1) * a.lda, 0xAB);
  std::fill_n(a_ones.data() + a.rows * a.lda, K, uint8_t{1});
  const auto packed = Pack(b.data(), K, N, N, 1);
  auto b_terms = hwy::AllocateAligned<int32_t>(PackedBlockTermsS8Size(K, N) + 1);
  PackBlockTermsS8(b.data(), K, N, N, 1, b_zp.data(), b_terms.get() + 1);  // misaligned
  std::uniform_real_distribution<float> scale(1e-4f, 1e-2f);
  std::vector<float> b_scales(N + 1), bias(N + 1);
  for (size_t n = 0; n < N; ++n) {
    b_scales[1 + n] = scale(rng);
    bias[1 + n] = scale(rng) * 100.0f - 0.5f;
  }
  BlockwiseGemmTerms terms;
  terms.a_blocks = at.data();
  terms.a_stride = at.stride;
  terms.b_terms = b_terms.get() + 1;
  terms.b_scales = b_scales.data() + 1;
  terms.bias = with_bias ? bias.data() + 1 : nullptr;
  const size_t ldy = N + 5;
  constexpr float kUntouched = 12345.0f;
  for (const bool ones_after_a : {true, false}) {  // the row of ones in place, or copied
    terms.ones_after_a = ones_after_a;
    std::vector<float> y(1 + a.rows * ldy, kUntouched);
    MatMulBlockwiseU8S8(ones_after_a ? a_ones.data() : a.data(), a.lda, a.rows, K, packed.get(), N,
                        col_begin, col_end, terms, y.data() + 1, ldy);
    for (size_t m = 0; m < a.rows; ++m) {
      for (size_t j = 0; j < ldy; ++j) {
        const float actual = y[1 + m * ldy + j];
        const size_t n = col_begin + j;
        if (n < col_end) {
          const float expected =
              ReferenceBlockwise(a, at, b, N, b_zp, terms.b_scales, terms.bias, m, n);
          ASSERT_EQ(actual, expected) << "M=" << a.rows << " K=" << K << " N=" << N << " m=" << m
                                      << " n=" << n << " ones_after_a=" << ones_after_a;
        } else {
          ASSERT_EQ(actual, kUntouched) << "wrote outside the tile at m=" << m << " j=" << j;
        }
      }
    }
  }
}

std::vector<int32_t> RandomZeroPoints(size_t N, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> dist(-128, 127);
  std::vector<int32_t> zp(N);
  for (int32_t& v : zp) v = dist(rng);
  return zp;
}

TEST_P(GemmS8Test, BlockwiseMatchesReferenceOnAwkwardShapes) {
  std::mt19937 rng(21);
  // Rows around the tile heights (6 with AVX-512, else 2), K around the 4-byte groups and the
  // 32-value blocks, N around the vector widths and the 64-column panels (4 * 16 + 1).
  for (size_t M : {0, 1, 2, 5, 6, 7, 13}) {
    for (size_t K : {0, 1, 3, 4, 5, 31, 32, 33, 63, 65, 100}) {
      for (size_t N : {1, 2, 15, 16, 17, 33, 64, 65}) {
        MatrixU8 a = RandomActivations(M, K, rng);
        const BlockTerms at(a, rng);
        CheckBlockwise(a, at, RandomWeights(K, N, rng), N, RandomZeroPoints(N, rng), rng, 0, N,
                       (M + K + N) % 2 == 0);
      }
    }
  }
}

TEST_P(GemmS8Test, BlockwiseLargerAndColumnRanges) {
  std::mt19937 rng(22);
  MatrixU8 a = RandomActivations(40, 197, rng);
  const BlockTerms at(a, rng);
  const std::vector<int8_t> b = RandomWeights(197, 197, rng);
  const std::vector<int32_t> zp = RandomZeroPoints(197, rng);
  CheckBlockwise(a, at, b, 197, zp, rng, 0, 197, true);
  CheckBlockwise(a, at, b, 197, zp, rng, 64, 128, true);
  CheckBlockwise(a, at, b, 197, zp, rng, 64, 100, false);
  CheckBlockwise(a, at, b, 197, zp, rng, 192, 197, true);
}

// Taller row blocks and whole 32-value blocks, as a ViT's products have them; on machines with
// AMX also the tile kernel's shapes (gemm_s8_amx.h: one tile of 1-15 rows, or tiles of 16 rows,
// the last overlapping the one before; 16 columns, K a multiple of 32), with AMX and, to compare,
// without.
TEST_P(GemmS8Test, BlockwiseTallerShapes) {
  std::mt19937 rng(24);
  for (bool amx : {true, false}) {
    SetAmxForTesting(amx);
    for (size_t M : {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 50, 96}) {
      for (size_t K : {32, 64, 96, 100, 768}) {
        MatrixU8 a = RandomActivations(M, K, rng);
        const BlockTerms at(a, rng);
        for (size_t N : {32, 100, 197}) {
          const std::vector<int8_t> b = RandomWeights(K, N, rng);
          const std::vector<int32_t> zp = RandomZeroPoints(N, rng);
          CheckBlockwise(a, at, b, N, zp, rng, 0, N, (M + K + N) % 2 == 0);
          if (N > 64) CheckBlockwise(a, at, b, N, zp, rng, 64, std::min<size_t>(N, 128), true);
        }
      }
    }
  }
  SetAmxForTesting(true);
}

// The largest block sums: |sum (a - zp)(b - b_zp)| = 32 * 255 * 255, and zero-point terms at the
// ends of their int16 halves. Sums stay exact; their float conversion too (below 2^24).
TEST_P(GemmS8Test, BlockwiseExtremeValues) {
  std::mt19937 rng(23);
  for (const auto& [a_value, zp, b_value, b_zp] :
       {std::tuple<int, int, int, int>{255, 0, -128, 127},
        {0, 255, 127, -128},
        {255, 255, -128, -128},
        {255, 0, 127, -128}}) {
    for (size_t K : {32, 33, 64, 768}) {
      MatrixU8 a = RandomActivations(K % 2 == 0 ? 20 : 7, K, rng);  // 20: AMX tiles where usable
      for (size_t m = 0; m < a.rows; ++m) {
        for (size_t k = 0; k < K; ++k) a.at(m, k) = static_cast<uint8_t>(a_value);
      }
      BlockTerms at(a, rng);
      for (size_t i = 0; i < at.zps.size(); ++i) {
        at.zps[i] = zp;
        const size_t blk = i / at.stride, m = i % at.stride;
        if (m >= a.rows) continue;
        const size_t len = std::min(kActivationBlock, K - blk * kActivationBlock);
        at.storage[1 + i] =
            MakeActivationBlock(at.scales[i], zp, a_value * static_cast<int32_t>(len), len);
      }
      std::vector<int8_t> b(K * 65, static_cast<int8_t>(b_value));
      b[3] = 0;  // one different weight in column 3
      CheckBlockwise(a, at, b, 65, std::vector<int32_t>(65, b_zp), rng, 0, 65, true);
    }
  }
}

// The layout gemm_s8.h documents, which AMX tile loads rely on: B[k][n] at its panel's step k / 64,
// tile n % 64 / 16, group row k % 64 / 4, column n % 16, byte k % 4, every other byte zero.
TEST(GemmS8PackTest, LayoutIsTheDocumentedOne) {
  std::mt19937 rng(7);
  for (const auto& [K, N] : std::vector<std::pair<size_t, size_t>>{{1, 1}, {37, 70}, {128, 192}}) {
    const std::vector<int8_t> b = RandomWeights(K, N, rng);
    const size_t size = PackedWeightsS8Size(K, N);
    ASSERT_EQ(size, (N + 63) / 64 * PackedPanelBytes(K));
    ASSERT_EQ(PackedPanelBytes(K) % kPackedStepBytes, 0u);
    std::vector<int8_t> want(size, 0);
    for (size_t k = 0; k < K; ++k) {
      for (size_t n = 0; n < N; ++n) {
        want[n / 64 * PackedPanelBytes(K) + k / 64 * 4096 + n % 64 / 16 * 1024 + k % 64 / 4 * 64 +
             n % 16 * 4 + k % 4] = b[k * N + n];
      }
    }
    const auto got = Pack(b.data(), K, N, N, 1);
    EXPECT_EQ(0, memcmp(want.data(), got.get(), size)) << K << "x" << N;
  }
}

// uint8 weights are packed by flipping the top bit as they are read: the same bytes as packing
// the flipped copy, on the whole-group fast path (row-major, full panels) and the general one.
TEST(GemmS8PackTest, FlipPacksUnsignedWeights) {
  std::mt19937 rng(6);
  for (const auto& [K, N] : std::vector<std::pair<size_t, size_t>>{{37, 70}, {128, 192}}) {
    const std::vector<int8_t> b = RandomWeights(K, N, rng);
    std::vector<int8_t> flipped(b.size()), b_t(b.size());
    for (size_t i = 0; i < b.size(); ++i) flipped[i] = static_cast<int8_t>(b[i] ^ 0x80);
    for (size_t k = 0; k < K; ++k) {
      for (size_t n = 0; n < N; ++n) b_t[n * K + k] = b[k * N + n];
    }
    const size_t size = PackedWeightsS8Size(K, N);
    const auto want = Pack(flipped.data(), K, N, N, 1);
    auto got = hwy::AllocateAligned<int8_t>(size);
    PackWeightsS8(b.data(), K, N, N, 1, got.get(), 0x80);
    EXPECT_EQ(0, memcmp(want.get(), got.get(), size)) << K << "x" << N;
    PackWeightsS8(b_t.data(), K, N, 1, K, got.get(), 0x80);
    EXPECT_EQ(0, memcmp(want.get(), got.get(), size)) << K << "x" << N << " transposed";
    const std::vector<int32_t> zp = RandomZeroPoints(N, rng);
    std::vector<int32_t> want_terms(PackedBlockTermsS8Size(K, N)), got_terms(want_terms.size());
    PackBlockTermsS8(flipped.data(), K, N, N, 1, zp.data(), want_terms.data());
    PackBlockTermsS8(b.data(), K, N, N, 1, zp.data(), got_terms.data(), 0x80);
    EXPECT_EQ(want_terms, got_terms) << K << "x" << N;
  }
}

TEST(GemmS8PackTest, PackBlockTerms) {
  std::mt19937 rng(24);
  const size_t K = 70, N = 70;  // 3 blocks (32, 32, 6), 2 panels
  const std::vector<int8_t> b = RandomWeights(K, N, rng);
  const std::vector<int32_t> zp = RandomZeroPoints(N, rng);
  ASSERT_EQ(PackedBlockTermsS8Size(K, N), 2 * 3 * 64u);
  std::vector<int32_t> terms(PackedBlockTermsS8Size(K, N), 0x5A5A5A5A);
  PackBlockTermsS8(b.data(), K, N, N, 1, zp.data(), terms.data());
  for (size_t n = 0; n < 2 * 64; ++n) {
    for (size_t blk = 0; blk < 3; ++blk) {
      const int32_t packed = terms[(n / 64 * 3 + blk) * 64 + n % 64];
      if (n >= N) {
        ASSERT_EQ(packed, 0);
        continue;
      }
      int32_t sum = 0;
      for (size_t k = blk * 32; k < std::min(K, blk * 32 + 32); ++k) sum += b[k * N + n];
      ASSERT_EQ(static_cast<int16_t>(packed & 0xFFFF), sum) << "n=" << n << " block=" << blk;
      ASSERT_EQ(static_cast<int16_t>(static_cast<uint32_t>(packed) >> 16), zp[n]);
    }
  }
}

TEST(GemmS8PackTest, MakeActivationBlock) {
  const ActivationBlock block = MakeActivationBlock(0.5f, 255, 32 * 255, 32);
  EXPECT_EQ(block.scale, 0.5f);
  EXPECT_EQ(static_cast<int16_t>(block.zero_point_terms & 0xFFFF), -255);
  EXPECT_EQ(static_cast<int16_t>(static_cast<uint32_t>(block.zero_point_terms) >> 16), 0);
  const ActivationBlock low = MakeActivationBlock(1.0f, 255, 0, 32);  // sum - len * zp = -8160
  EXPECT_EQ(static_cast<int16_t>(static_cast<uint32_t>(low.zero_point_terms) >> 16), 8160);
}

}  // namespace
}  // namespace qclip

#include "kernels/gemm_f32.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace qclip {
namespace {

// A matrix with a row stride, stored with `offset` floats in front so it starts misaligned.
struct Matrix {
  Matrix(int64_t rows, int64_t cols, int64_t ld, size_t offset, uint32_t seed)
      : rows(rows), cols(cols), ld(ld), storage(offset + rows * ld + 1), offset(offset) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1, 1);
    for (float& x : storage) x = dist(rng);
  }
  float* data() { return storage.data() + offset; }
  const float* data() const { return storage.data() + offset; }
  float at(int64_t r, int64_t c) const { return storage[offset + r * ld + c]; }
  int64_t rows, cols, ld;
  std::vector<float> storage;
  size_t offset;
};

double ActivationReference(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::kIdentity:
      return x;
    case UnaryOp::kRelu:
      return x < 0 ? 0 : x;
    case UnaryOp::kGeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    default:
      ADD_FAILURE() << "no reference for op " << static_cast<int>(op);
      return 0;
  }
}

// Double-precision reference for C = act(A · B + bias + R); returns the expected C and, per
// element, a bound on float rounding: sum of |a||b| times a few ulps. `addend` is R or null.
void ReferenceGemm(const Matrix& a, const GemmBView& b, const Matrix* addend,
                   const GemmEpilogue& ep, std::vector<double>* expected,
                   std::vector<double>* bound) {
  expected->assign(a.rows * b.n, 0);
  bound->assign(a.rows * b.n, 0);
  for (int64_t i = 0; i < a.rows; ++i) {
    for (int64_t j = 0; j < b.n; ++j) {
      double sum = ep.bias != nullptr ? ep.bias[j] : 0.0;
      double magnitude = std::fabs(sum);
      if (addend != nullptr) {
        sum += addend->at(i, j);
        magnitude += std::fabs(addend->at(i, j));
      }
      for (int64_t k = 0; k < b.k; ++k) {
        const float bkj = b.transposed ? b.data[j * b.ld + k] : b.data[k * b.ld + j];
        sum += static_cast<double>(a.at(i, k)) * bkj * b.scale;
        magnitude += std::fabs(a.at(i, k) * bkj * b.scale);
      }
      (*expected)[i * b.n + j] = ActivationReference(ep.activation, sum);
      (*bound)[i * b.n + j] = 1e-6 * (magnitude + 1) + 1e-6 * std::fabs((*expected)[i * b.n + j]);
    }
  }
}

void ExpectMatches(const Matrix& c, const std::vector<double>& expected,
                   const std::vector<double>& bound, const char* what) {
  for (int64_t i = 0; i < c.rows; ++i) {
    for (int64_t j = 0; j < c.cols; ++j) {
      ASSERT_NEAR(c.at(i, j), expected[i * c.cols + j], bound[i * c.cols + j])
          << what << " at (" << i << ", " << j << ") of " << c.rows << "x" << c.cols;
    }
  }
}

class GemmF32Test : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(GemmF32Test);

enum class Addend { kNone, kSeparate, kC };  // no R, R in its own matrix, R = C (C +=)

// Runs packed and unpacked GEMM for one shape and checks both against the reference; the two
// paths sum in the same order, so they must agree bit for bit.
void CheckShape(int64_t m, int64_t n, int64_t k, bool transposed, bool with_bias, Addend addend,
                UnaryOp activation, uint32_t seed) {
  const Matrix a(m, k, k + 3, 1, seed);
  const Matrix b = transposed ? Matrix(n, k, k + 1, 2, seed + 1) : Matrix(k, n, n + 1, 2, seed + 1);
  const Matrix c_init(m, n, n + 2, 3, seed + 2);
  const Matrix bias(1, n, n, 1, seed + 3), separate(m, n, n + 5, 2, seed + 4);
  const GemmBView view{b.data(), b.ld, k, n, transposed};
  const Matrix* r = addend == Addend::kC          ? &c_init
                    : addend == Addend::kSeparate ? &separate
                                                  : nullptr;

  std::vector<double> expected, bound;
  GemmEpilogue ep;
  ep.bias = with_bias ? bias.data() : nullptr;
  ep.activation = activation;
  ReferenceGemm(a, view, r, ep, &expected, &bound);

  Matrix c_packed = c_init, c_view = c_init;
  auto run = [&](Matrix& c, const auto& b_operand) {
    ep.addend = addend == Addend::kC ? c.data() : r != nullptr ? r->data() : nullptr;
    ep.ld_addend = r != nullptr ? r->ld : 0;
    GemmF32(a.data(), a.ld, b_operand, c.data(), c.ld, m, ep);
  };
  run(c_packed, PackedGemmB(view));
  run(c_view, view);
  ExpectMatches(c_packed, expected, bound, "packed");
  ExpectMatches(c_view, expected, bound, "view");
  ASSERT_EQ(c_packed.storage, c_view.storage) << "packed and view differ (or padding written)";
  // Everything outside C[0:m, 0:n] (row padding, guard elements) is as it was.
  for (size_t i = 0; i < c_init.storage.size(); ++i) {
    const int64_t pos = static_cast<int64_t>(i) - static_cast<int64_t>(c_init.offset);
    const bool inside = pos >= 0 && pos / c_init.ld < m && pos % c_init.ld < n;
    if (!inside) {
      ASSERT_EQ(c_packed.storage[i], c_init.storage[i]) << "wrote outside C at " << i;
    }
  }
}

TEST_P(GemmF32Test, AwkwardShapes) {
  const int64_t sizes[] = {0, 1, 2, 3, 5, 6, 7, 13, 16, 17};
  uint32_t seed = 1;
  for (int64_t m : sizes) {
    for (int64_t n : {0, 1, 2, 7, 8, 15, 16, 17, 33, 65}) {
      for (int64_t k : {0, 1, 2, 9, 16, 31}) {
        for (bool transposed : {false, true}) {
          CheckShape(m, n, k, transposed, false, Addend::kNone, UnaryOp::kIdentity, seed++);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(GemmF32Test, ManyTilesAndDeepK) {
  // Several row and column tiles, partial last tiles, and k spanning three depth blocks.
  CheckShape(197, 300, 1100, false, false, Addend::kNone, UnaryOp::kIdentity, 100);
  CheckShape(101, 257, 513, true, false, Addend::kNone, UnaryOp::kIdentity, 101);
}

TEST_P(GemmF32Test, Epilogues) {
  for (const UnaryOp act : {UnaryOp::kIdentity, UnaryOp::kRelu, UnaryOp::kGeluErf}) {
    for (const bool with_bias : {false, true}) {
      for (const Addend addend : {Addend::kNone, Addend::kSeparate, Addend::kC}) {
        // Two k blocks (bias and R are added once), then k = 0: C = act(bias + R).
        CheckShape(13, 70, 600, false, with_bias, addend, act, 200);
        CheckShape(7, 5, 0, true, with_bias, addend, act, 201);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(GemmF32Test, TilesInAnyOrderGiveTheSameBits) {
  const int64_t m = 520, n = 530, k = 70;
  const Matrix a(m, k, k, 0, 1), b(k, n, n, 0, 2);
  const GemmBView view{b.data(), n, k, n, false};
  const PackedGemmB packed(view);
  Matrix c_all(m, n, n, 0, 3), c_reverse(m, n, n, 0, 3);
  GemmF32(a.data(), k, packed, c_all.data(), n, m);
  const GemmTiles tiles(m, n);
  EXPECT_EQ(tiles.count(), 3 * 3);
  for (int64_t t = tiles.count() - 1; t >= 0; --t) {
    GemmF32Tile(a.data(), k, packed, c_reverse.data(), n, tiles, {}, t);
  }
  EXPECT_EQ(c_all.storage, c_reverse.storage);
}

// The cut follows the thread count; the bits do not (rows not a multiple of 6, columns not of a
// panel, k over several k blocks; packed and unpacked B).
TEST_P(GemmF32Test, AnyCutGivesTheSameBits) {
  const int64_t m = 197, n = 530, k = 300;
  const Matrix a(m, k, k, 0, 1), b(k, n, n, 0, 2);
  const GemmBView view{b.data(), n, k, n, false};
  const PackedGemmB packed(view);
  Matrix expected(m, n, n, 0, 3);
  GemmF32(a.data(), k, packed, expected.data(), n, m);
  for (int threads : {2, 3, 8, 16, 64}) {
    const GemmTiles tiles(m, n, threads);
    Matrix c_packed(m, n, n, 0, 3), c_view(m, n, n, 0, 3);
    for (int64_t t = 0; t < tiles.count(); ++t) {
      GemmF32Tile(a.data(), k, packed, c_packed.data(), n, tiles, {}, t);
      GemmF32Tile(a.data(), k, view, c_view.data(), n, tiles, {}, t);
    }
    EXPECT_EQ(c_packed.storage, expected.storage) << threads << " threads";
    EXPECT_EQ(c_view.storage, expected.storage) << threads << " threads";
  }
}

TEST_P(GemmF32Test, ScaleOfB) {
  const int64_t m = 5, n = 19, k = 23;
  const Matrix a(m, k, k, 0, 1), b(k, n, n, 0, 2);
  const GemmBView view{b.data(), n, k, n, false};
  GemmBView scaled_view = view;
  scaled_view.scale = 0.25f;
  Matrix c(m, n, n, 0, 3), c_packed(m, n, n, 0, 3), c_view(m, n, n, 0, 3);
  GemmF32(a.data(), k, PackedGemmB(view), c.data(), n, m);
  GemmF32(a.data(), k, PackedGemmB(scaled_view), c_packed.data(), n, m);
  GemmF32(a.data(), k, scaled_view, c_view.data(), n, m);
  for (size_t i = 0; i < c.storage.size() - 1; ++i) {
    EXPECT_EQ(c_packed.storage[i], 0.25f * c.storage[i]);  // a power of two: exact
    EXPECT_EQ(c_view.storage[i], 0.25f * c.storage[i]);
  }
}

// PackGemmPanel against the layout it documents, value by value: B plain and transposed, scaled,
// at a byte address that is not a float's (a weight in a mapped file), every width and depth
// 0..4N+1 around the 4 x 4 blocks of the transposed path, k0 and col0 inside B.
TEST_P(GemmF32Test, PackGemmPanelMatchesLayout) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1, 1);
  // Widths 1-17 and around one and two panels; scale 1 takes the plain copy of whole rows.
  std::vector<int64_t> widths = {31, 57, 63, 64, 65, 70, 127, 128, 133};
  for (int64_t n = 1; n <= 17; ++n) widths.push_back(n);
  for (const float scale : {0.75f, 1.0f}) {
    for (const bool transposed : {false, true}) {
      for (const int64_t n : widths) {
        for (int64_t kc = 0; kc <= 17; ++kc) {
          const int64_t k0 = 3, col0 = n > kGemmPanelWidth ? kGemmPanelWidth : 0;
          const int64_t k = k0 + kc, rows = transposed ? n : k, cols = transposed ? k : n;
          const int64_t ld = cols + 2;
          std::vector<unsigned char> storage(1 + rows * ld * sizeof(float));
          std::vector<float> values(rows * ld);
          for (float& v : values) v = dist(rng);
          std::memcpy(storage.data() + 1, values.data(), values.size() * sizeof(float));
          GemmBView b;
          b.data = reinterpret_cast<const float*>(storage.data() + 1);  // misaligned on purpose
          b.ld = ld;
          b.k = k;
          b.n = n;
          b.transposed = transposed;
          b.scale = scale;
          std::vector<float> out(kc * kGemmPanelWidth, -9.0f);
          PackGemmPanel(b, k0, kc, col0, out.data());
          for (int64_t kk = 0; kk < kc; ++kk) {
            for (int64_t j = 0; j < kGemmPanelWidth; ++j) {
              const int64_t col = col0 + j, row = k0 + kk;
              const float expected =
                  col >= n ? 0.0f : scale * values[transposed ? col * ld + row : row * ld + col];
              ASSERT_EQ(out[kk * kGemmPanelWidth + j], expected)
                  << (transposed ? "transposed" : "plain") << " n " << n << " kc " << kc << " at ("
                  << kk << ", " << j << ")";
            }
          }
        }
      }
    }
  }
}

// A weight packed panel by panel in any order of pieces (as the session's threads pack one at
// load) is the same as one packed whole, and multiplies the same.
TEST_P(GemmF32Test, PackedInPiecesMatchesWhole) {
  const int64_t k = 37, n = 5 * kGemmPanelWidth + 9, m = 7;
  const Matrix w(k, n, n, 1, 11), a(m, k, k, 0, 12);
  const GemmBView view{w.data(), n, k, n};
  const PackedGemmB whole(view);
  PackedGemmB pieces(k, n);
  ASSERT_EQ(pieces.panels(), 6);
  pieces.PackPanels(view, 4, 6);
  pieces.PackPanels(view, 0, 1);
  pieces.PackPanels(view, 1, 4);
  for (int64_t p = 0; p < whole.panels(); ++p) {
    ASSERT_EQ(0, std::memcmp(whole.panel(p), pieces.panel(p), k * kGemmPanelWidth * sizeof(float)))
        << "panel " << p;
  }
  std::vector<float> c_whole(m * n), c_pieces(m * n);
  GemmF32(a.data(), k, whole, c_whole.data(), n, m);
  GemmF32(a.data(), k, pieces, c_pieces.data(), n, m);
  EXPECT_NE(c_whole, std::vector<float>(m * n));
  EXPECT_EQ(c_whole, c_pieces);
}

// row_scale multiplies each output row after the bias and the addend (attention's deferred
// softmax division); a power of two, so the result is exact.
TEST_P(GemmF32Test, RowScale) {
  const int64_t m = 13, n = 70, k = 40;
  const Matrix a(m, k, k, 0, 1), b(k, n, n, 0, 2), bias(1, n, n, 0, 4);
  const GemmBView view{b.data(), n, k, n, false};
  std::vector<float> row_scale(m);
  for (int64_t i = 0; i < m; ++i) row_scale[i] = std::ldexp(1.0f, static_cast<int>(i % 5) - 2);
  GemmEpilogue plain, scaled;
  plain.bias = scaled.bias = bias.data();
  scaled.row_scale = row_scale.data();
  Matrix c(m, n, n, 0, 3), c_packed(m, n, n, 0, 3), c_view(m, n, n, 0, 3);
  GemmF32(a.data(), k, PackedGemmB(view), c.data(), n, m, plain);
  GemmF32(a.data(), k, PackedGemmB(view), c_packed.data(), n, m, scaled);
  GemmF32(a.data(), k, view, c_view.data(), n, m, scaled);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      ASSERT_EQ(c_packed.at(i, j), row_scale[i] * c.at(i, j)) << i << ", " << j;
      ASSERT_EQ(c_view.at(i, j), row_scale[i] * c.at(i, j)) << i << ", " << j;
    }
  }
}

TEST(GemmF32, Tiles) {
  EXPECT_EQ(GemmTiles(0, 10).count(), 0);
  EXPECT_EQ(GemmTiles(10, 0).count(), 0);
  EXPECT_EQ(GemmTiles(1, 1).count(), 1);
  EXPECT_EQ(GemmTiles(kGemmTileRows + 1, kGemmTileCols).count(), 2);
  const GemmTiles vit(197, 3072);  // an image's tokens in one row tile
  EXPECT_EQ(vit.rows_per_tile, 198);
  EXPECT_EQ(vit.count(), 12);
  const GemmTiles batch(600, 768);  // balanced rows: 204 + 204 + 192, not 258 + 258 + 84
  EXPECT_EQ(batch.rows_per_tile, 204);
  EXPECT_EQ(batch.count(), 3 * 3);
  const GemmTiles two(197, 768, 2);  // narrowed to one panel for 2 threads
  EXPECT_EQ(two.cols_per_tile, kGemmPanelWidth);
  EXPECT_EQ(two.count(), 12);
  const GemmTiles many(197, 768, 16);  // one panel, and rows cut too, for 16 threads
  EXPECT_EQ(many.cols_per_tile, kGemmPanelWidth);
  EXPECT_EQ(many.rows_per_tile, 66);
  EXPECT_EQ(many.count(), 3 * 12);
  EXPECT_EQ(GemmTiles(8, 768, 2).count(), 12);  // one query's rows: columns for 2 threads
  // Rounding up to 6 rows never leaves an empty tile.
  for (int64_t m = 1; m <= 2000; ++m) {
    const GemmTiles t(m, 64);
    ASSERT_LT((t.row_tiles - 1) * t.rows_per_tile, m) << m;
    ASSERT_GE(t.row_tiles * t.rows_per_tile, m) << m;
    ASSERT_LE(t.rows_per_tile, kGemmTileRows) << m;
  }
}

}  // namespace
}  // namespace qclip

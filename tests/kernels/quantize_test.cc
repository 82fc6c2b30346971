#include "kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace qclip {
namespace {

// Scalar reference of ORT's MlasQuantizeLinear: divide, clamp to the range shifted by the zero
// point, round half to even (the FPU's default mode), add the zero point.
template <typename T>
T ReferenceQuantize(float x, float scale, int32_t zero_point) {
  const float lo = static_cast<float>(std::numeric_limits<T>::min() - zero_point);
  const float hi = static_cast<float>(std::numeric_limits<T>::max() - zero_point);
  if (std::isnan(x / scale)) return std::numeric_limits<T>::min();  // MLAS: Max(NaN, lo) = lo
  const float v = std::min(std::max(x / scale, lo), hi);
  return static_cast<T>(static_cast<int32_t>(std::nearbyint(v)) + zero_point);
}

class QuantizeTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(QuantizeTest);

// The ONNX DynamicQuantizeLinear reference examples (onnx/backend/test/case/node).
TEST_P(QuantizeTest, OnnxDynamicQuantizeLinearExamples) {
  struct Example {
    std::vector<float> x;
    float scale;
    int32_t zero_point;
    std::vector<uint8_t> y;
  };
  const Example examples[] = {
      {{0, 2, -3, -2.5f, 1.34f, 0.5f}, 0.019607844f, 153, {153, 255, 0, 26, 221, 179}},
      {{-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f}, 0.015686275f, 255, {191, 121, 172, 96, 42, 0}},
      {{1, 2.1f, 1.3f, 2.5f, 3.34f, 4.0f, 1.5f, 2.6f, 3.9f, 4.0f, 3.0f, 2.345f},
       0.015686275f,
       0,
       {64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149}},
  };
  for (const Example& e : examples) {
    float min, max;
    MinMaxF32(e.x.data(), e.x.size(), &min, &max);
    const QuantParams p = DynamicQuantParamsU8(min, max);
    EXPECT_FLOAT_EQ(p.scale, e.scale);
    EXPECT_EQ(p.zero_point, e.zero_point);
    std::vector<uint8_t> y(e.x.size());
    QuantizeU8(e.x.data(), e.x.size(), p.scale, p.zero_point, y.data());
    EXPECT_EQ(y, e.y);
  }
}

TEST_P(QuantizeTest, AllZeroInputHasScaleOne) {
  // ORT: max == min (only possible at 0 once the range includes 0) -> scale 1, zero point 0.
  const QuantParams p = DynamicQuantParamsU8(0.0f, 0.0f);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, 0);
  const float x[3] = {0.0f, -0.0f, 0.0f};
  uint8_t y[3] = {1, 1, 1};
  QuantizeU8(x, 3, p.scale, p.zero_point, y);
  EXPECT_EQ(y[0] + y[1] + y[2], 0);
}

TEST_P(QuantizeTest, MinMaxAllSizesAndOffsets) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  std::vector<float> x(8 * 16 + 2 + 3);  // through the 4-vector loop twice, for the widest
  for (float& v : x) v = dist(rng);
  for (size_t offset = 0; offset < 3; ++offset) {
    for (size_t n = 1; n <= 8 * 16 + 1; ++n) {
      const float* p = x.data() + offset;
      float min, max;
      MinMaxF32(p, n, &min, &max);
      ASSERT_EQ(min, *std::min_element(p, p + n)) << "n=" << n;
      ASSERT_EQ(max, *std::max_element(p, p + n)) << "n=" << n;
    }
  }
}

template <typename T>
void CheckQuantize(const std::vector<float>& x, size_t offset, size_t n, float scale,
                   int32_t zero_point) {
  std::vector<T> q(n + 2, T{42});
  if constexpr (std::is_same_v<T, uint8_t>) {
    QuantizeU8(x.data() + offset, n, scale, zero_point, q.data() + 1);
  } else {
    QuantizeS8(x.data() + offset, n, scale, zero_point, q.data() + 1);
  }
  ASSERT_EQ(q[0], T{42});
  ASSERT_EQ(q[n + 1], T{42}) << "wrote past the end, n=" << n;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(int{q[i + 1]}, int{ReferenceQuantize<T>(x[offset + i], scale, zero_point)})
        << "x=" << x[offset + i] << " scale=" << scale << " zp=" << zero_point << " n=" << n;
  }
}

TEST_P(QuantizeTest, MatchesReferenceAllSizes) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> x(4 * 16 + 1 + 1);
  for (float& v : x) v = dist(rng);
  for (size_t offset = 0; offset < 2; ++offset) {
    for (size_t n = 0; n <= 4 * 16 + 1; ++n) {
      CheckQuantize<uint8_t>(x, offset, n, 0.0123f, 117);
      CheckQuantize<uint8_t>(x, offset, n, 0.002f, 0);  // saturates both ways
      CheckQuantize<int8_t>(x, offset, n, 0.0123f, -3);
      CheckQuantize<int8_t>(x, offset, n, 0.01f, 127);
    }
  }
}

// x / scale lands exactly on .5 (power-of-two scales divide exactly): ties go to even.
TEST_P(QuantizeTest, TiesRoundToEven) {
  std::vector<float> x;
  for (int i = -300; i <= 300; ++i) x.push_back((static_cast<float>(i) + 0.5f) * 0.25f);
  for (const float scale : {0.25f, 1.0f / 64}) {
    CheckQuantize<uint8_t>(x, 0, x.size(), scale, 128);
    CheckQuantize<uint8_t>(x, 0, x.size(), scale, 0);
    CheckQuantize<int8_t>(x, 0, x.size(), scale, 0);
  }
  const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.49999997f, 126.5f, 127.5f};
  uint8_t q[8];
  QuantizeU8(ties, 8, 1.0f, 128, q);
  const uint8_t expected[8] = {128, 130, 130, 128, 126, 128, 254, 255};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], expected[i]) << ties[i];
}

// The kernel multiplies by 1 / scale and divides only the vectors with a lane near a
// half-integer (Quantizer in quantize-inl.h): values within a few ulps of every tie, for scales
// whose reciprocal is inexact, must still give the division's result.
TEST_P(QuantizeTest, MultiplicationAgreesWithDivisionNearTies) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> log_scale(-20.0f, 4.0f);
  std::uniform_int_distribution<int32_t> zp(0, 255);
  for (int iter = 0; iter < 200; ++iter) {
    const float scale = std::exp2(log_scale(rng)) * 1.2345679f;
    std::vector<float> x;
    for (int k = -260; k <= 260; ++k) {
      float tie = (static_cast<float>(k) + 0.5f) * scale;
      for (int step = 0; step < 4; ++step) tie = std::nextafter(tie, -HUGE_VALF);
      for (int step = 0; step < 9; ++step, tie = std::nextafter(tie, HUGE_VALF)) x.push_back(tie);
    }
    CheckQuantize<uint8_t>(x, 0, x.size(), scale, zp(rng));
    CheckQuantize<int8_t>(x, 0, x.size(), scale, zp(rng) - 128);
  }
}

// Scales whose reciprocal overflows or is subnormal take the division everywhere; NaN goes to
// the low end and infinities saturate, as in MLAS.
TEST_P(QuantizeTest, ExtremeScalesAndValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.0f, -0.0f,    1e-45f, -1e-40f,   1e-38f, 3e-39f,
                                1.0f, -1.0f,    1e30f,  -1e38f,    inf,    -inf,
                                nan,  2.5e-39f, 5e-39f, -7.5e-39f, 0.5f,   1.5f};
  for (const float scale : {1e-40f, 2.9e-39f, 1e-38f, 1e-30f, 1.0f, 3e38f, 0.1f}) {
    CheckQuantize<uint8_t>(x, 0, x.size(), scale, 128);
    CheckQuantize<uint8_t>(x, 0, x.size(), scale, 0);
    CheckQuantize<int8_t>(x, 0, x.size(), scale, -1);
  }
}

TEST_P(QuantizeTest, RandomScalesAndValues) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> log_scale(-12.0f, 2.0f);
  std::uniform_real_distribution<float> value(-50.0f, 50.0f);
  std::uniform_int_distribution<int32_t> zp(0, 255);
  std::vector<float> x(1000);
  for (int iter = 0; iter < 50; ++iter) {
    const float scale = std::exp2(log_scale(rng));
    for (float& v : x) v = value(rng) * scale;
    CheckQuantize<uint8_t>(x, 0, x.size(), scale, zp(rng));
    CheckQuantize<int8_t>(x, 0, x.size(), scale, zp(rng) - 128);
  }
}

// Block-wise: every block quantized as DynamicQuantizeLinear would quantize it alone, its
// parameters and the sum of its values block-major at a stride past `rows`.
TEST_P(QuantizeTest, DynamicQuantizeBlocks) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2.0f, 5.0f);
  const size_t block = 32;
  for (size_t cols = 0; cols <= 4 * 16 + 1; ++cols) {
    for (size_t x_offset : {0, 1}) {
      const size_t rows = 4, ldx = cols + 3, ldq = cols + 2, ld_params = rows + 1;
      const size_t blocks = (cols + block - 1) / block;
      std::vector<float> x(x_offset + rows * ldx);
      for (float& v : x) v = dist(rng);
      float* x0 = x.data() + x_offset;                           // misaligned when x_offset is 1
      for (size_t c = 0; c < cols; ++c) x0[1 * ldx + c] = 0.0f;  // all-zero row
      for (size_t c = 0; c < cols; ++c) x0[2 * ldx + c] = -1.0f - 0.1f * c;     // all negative
      for (size_t c = 0; c < cols && c < block; ++c) x0[3 * ldx + c] *= 40.0f;  // outlier block
      std::vector<uint8_t> q(1 + rows * ldq, 0xCD);
      std::vector<QuantParams> params(blocks * ld_params, QuantParams{-1.0f, -1});
      std::vector<int32_t> sums(blocks * ld_params, -1);
      DynamicQuantizeBlocksU8(x0, ldx, rows, cols, block, q.data() + 1, ldq, params.data(),
                              sums.data(), ld_params);
      for (size_t r = 0; r < rows; ++r) {
        const float* row = x0 + r * ldx;
        for (size_t b = 0; b < blocks; ++b) {
          const size_t begin = b * block, end = std::min(cols, begin + block);
          const QuantParams expected = DynamicQuantParamsU8(
              *std::min_element(row + begin, row + end), *std::max_element(row + begin, row + end));
          const QuantParams& p = params[b * ld_params + r];
          ASSERT_EQ(p.scale, expected.scale) << "cols=" << cols << " r=" << r << " b=" << b;
          ASSERT_EQ(p.zero_point, expected.zero_point);
          int32_t sum = 0;
          for (size_t c = begin; c < end; ++c) {
            const uint8_t want = ReferenceQuantize<uint8_t>(row[c], p.scale, p.zero_point);
            ASSERT_EQ(q[1 + r * ldq + c], want) << "cols=" << cols << " r=" << r << " c=" << c;
            sum += want;
          }
          ASSERT_EQ(sums[b * ld_params + r], sum);
        }
        for (size_t c = cols; c < ldq; ++c) {
          ASSERT_EQ(q[1 + r * ldq + c], 0xCD) << "wrote past the row, cols=" << cols;
        }
        for (size_t b = 0; b < blocks; ++b) {
          const QuantParams& p = params[b * ld_params + r];
          if (r == 1) {
            EXPECT_EQ(p.scale, 1.0f);  // all zero
            EXPECT_EQ(p.zero_point, 0);
          }
          if (r == 2) {
            EXPECT_EQ(p.zero_point, 255);  // all negative: zero point at the top
          }
        }
      }
      for (size_t b = 0; b < blocks; ++b) {  // the padding column of params is untouched
        ASSERT_EQ(sums[b * ld_params + rows], -1);
      }
      // Without sums: the same values and parameters.
      std::vector<uint8_t> q2(q.size(), 0xCD);
      std::vector<QuantParams> params2(params.size(), QuantParams{-1.0f, -1});
      DynamicQuantizeBlocksU8(x0, ldx, rows, cols, block, q2.data() + 1, ldq, params2.data(),
                              nullptr, ld_params);
      ASSERT_EQ(q2, q) << "cols=" << cols;
      for (size_t i = 0; i < params.size(); ++i) {
        ASSERT_EQ(params2[i].scale, params[i].scale);
        ASSERT_EQ(params2[i].zero_point, params[i].zero_point);
      }
    }
  }
}

}  // namespace
}  // namespace qclip

#include "kernels/norm.h"

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace qclip {
namespace {

// Scalar references, accumulating in double.
void LayerNormReference(const float* x, const float* scale, const float* bias, size_t rows,
                        size_t cols, float epsilon, float* out, float* mean_out,
                        float* inv_std_dev_out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    double mean = 0, var = 0;
    for (size_t i = 0; i < cols; ++i) mean += row[i];
    mean /= cols;
    for (size_t i = 0; i < cols; ++i) var += (row[i] - mean) * (row[i] - mean);
    var /= cols;
    const double inv_std_dev = 1.0 / std::sqrt(var + epsilon);
    for (size_t i = 0; i < cols; ++i) {
      out[r * cols + i] = static_cast<float>((row[i] - mean) * inv_std_dev * scale[i] +
                                             (bias != nullptr ? bias[i] : 0.0));
    }
    mean_out[r] = static_cast<float>(mean);
    inv_std_dev_out[r] = static_cast<float>(inv_std_dev);
  }
}

void SoftmaxReference(const float* x, size_t rows, size_t cols, float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    double max = -INFINITY, sum = 0;
    for (size_t i = 0; i < cols; ++i) max = std::max<double>(max, row[i]);
    // x - max is rounded to float as any float implementation must: for large differences that
    // rounding (not the exp) dominates the error.
    auto exp_shifted = [&](size_t i) { return std::exp(static_cast<float>(row[i] - max)); };
    for (size_t i = 0; i < cols; ++i) sum += exp_shifted(i);
    for (size_t i = 0; i < cols; ++i) out[r * cols + i] = static_cast<float>(exp_shifted(i) / sum);
  }
}

std::vector<float> RandomVector(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Every row length 0..4N+1 for the widest vector (16 floats), then `model_sizes`.
std::vector<size_t> RowLengths(std::initializer_list<size_t> model_sizes) {
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 65; ++n) lengths.push_back(n);
  lengths.insert(lengths.end(), model_sizes);
  return lengths;
}

class NormTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(NormTest);

TEST_P(NormTest, LayerNormMatchesReference) {
  // Every row length 0..4N+1 for the widest vector (16 floats), plus the model sizes; data start
  // at a misaligned offset; rows with a large mean exercise the two-pass variance.
  for (size_t cols : RowLengths({128, 192, 640, 768})) {
    const size_t rows = 3, offset = 1;
    std::vector<float> x = RandomVector(rows * cols + offset, -2, 2, 7);
    for (size_t i = offset + cols; i < offset + 2 * cols; ++i) x[i] += 1000.0f;  // row 1
    const std::vector<float> scale = RandomVector(cols + offset, 0.5f, 1.5f, 8);
    const std::vector<float> bias = RandomVector(cols + offset, -1, 1, 9);
    for (const bool with_bias : {true, false}) {
      const float* bias_ptr = with_bias ? bias.data() + offset : nullptr;
      std::vector<float> out(rows * cols + offset, -7.0f), expected(rows * cols);
      std::vector<float> mean(rows), inv_std(rows), mean_ref(rows), inv_std_ref(rows);
      LayerNormF32(x.data() + offset, scale.data() + offset, bias_ptr, rows, cols, 1e-5f,
                   out.data() + offset, mean.data(), inv_std.data());
      LayerNormReference(x.data() + offset, scale.data() + offset, bias_ptr, rows, cols, 1e-5f,
                         expected.data(), mean_ref.data(), inv_std_ref.data());
      ASSERT_EQ(out[0], -7.0f);
      for (size_t i = 0; i < rows * cols; ++i) {
        // Float rounding of the mean (an ulp of |mean|) passes through the normalisation.
        const size_t r = i / cols;
        const float mean_error =
            2e-7f * std::sqrt(cols) * std::fabs(mean_ref[r]) * inv_std_ref[r] * 1.5f;
        ASSERT_NEAR(out[offset + i], expected[i], 2e-6f * (1 + std::fabs(expected[i])) + mean_error)
            << "cols " << cols << " i " << i;
      }
      for (size_t r = 0; r < rows && cols != 0; ++r) {
        ASSERT_NEAR(mean[r], mean_ref[r], 1e-6f * (1 + std::fabs(mean_ref[r])));
        ASSERT_NEAR(inv_std[r], inv_std_ref[r], 1e-5f * inv_std_ref[r]);
      }
    }
  }
}

TEST_P(NormTest, LayerNormInPlaceAndNullStatistics) {
  const size_t rows = 4, cols = 37;
  std::vector<float> x = RandomVector(rows * cols, -3, 3, 11);
  const std::vector<float> scale = RandomVector(cols, 0.5f, 1.5f, 12);
  std::vector<float> out(rows * cols);
  LayerNormF32(x.data(), scale.data(), nullptr, rows, cols, 1e-6f, out.data(), nullptr, nullptr);
  LayerNormF32(x.data(), scale.data(), nullptr, rows, cols, 1e-6f, x.data(), nullptr, nullptr);
  EXPECT_EQ(x, out);
}

TEST_P(NormTest, LayerNormConstantRowIsBias) {
  // var = 0: the output is exactly the bias, with inv_std_dev = 1/sqrt(epsilon).
  const size_t cols = 21;
  const std::vector<float> x(cols, 3.25f), scale(cols, 2.0f);
  const std::vector<float> bias = RandomVector(cols, -1, 1, 13);
  std::vector<float> out(cols);
  float mean = 0, inv_std = 0;
  LayerNormF32(x.data(), scale.data(), bias.data(), 1, cols, 1e-4f, out.data(), &mean, &inv_std);
  EXPECT_EQ(out, bias);
  EXPECT_EQ(mean, 3.25f);
  EXPECT_FLOAT_EQ(inv_std, 100.0f);
}

TEST_P(NormTest, AddLayerNormIsAddThenLayerNormBitForBit) {
  // The sum as a plain float addition, then LayerNormF32 of it: every row length 0..4N+1 and the
  // model sizes, misaligned data, with and without bias.
  for (size_t cols : RowLengths({192, 768})) {
    const size_t rows = 3, offset = 1;
    const std::vector<float> a = RandomVector(rows * cols + offset, -2, 2, 21);
    std::vector<float> b = RandomVector(rows * cols + offset, -2, 2, 22);
    for (size_t i = offset + cols; i < offset + 2 * cols; ++i) b[i] += 500.0f;  // row 1
    const std::vector<float> scale = RandomVector(cols + offset, 0.5f, 1.5f, 23);
    const std::vector<float> bias = RandomVector(cols + offset, -1, 1, 24);
    for (const bool with_bias : {true, false}) {
      const float* bias_ptr = with_bias ? bias.data() + offset : nullptr;
      std::vector<float> want_sum(rows * cols), want(rows * cols);
      for (size_t i = 0; i < rows * cols; ++i) want_sum[i] = a[offset + i] + b[offset + i];
      LayerNormF32(want_sum.data(), scale.data() + offset, bias_ptr, rows, cols, 1e-5f, want.data(),
                   nullptr, nullptr);
      std::vector<float> sum(rows * cols + offset, -7.0f), out(rows * cols + offset, -7.0f);
      AddLayerNormF32(a.data() + offset, b.data() + offset, scale.data() + offset, bias_ptr, rows,
                      cols, 1e-5f, sum.data() + offset, out.data() + offset);
      ASSERT_EQ(sum[0], -7.0f);
      ASSERT_EQ(out[0], -7.0f);
      // Bit patterns (memcmp, never with the null data() of an empty vector).
      const auto same_bits = [](const float* got, const std::vector<float>& want) {
        return want.empty() || std::memcmp(got, want.data(), want.size() * sizeof(float)) == 0;
      };
      ASSERT_TRUE(same_bits(sum.data() + offset, want_sum)) << "cols " << cols;
      ASSERT_TRUE(same_bits(out.data() + offset, want)) << "cols " << cols;
    }
  }
}

TEST_P(NormTest, SoftmaxMatchesReference) {
  for (size_t cols : RowLengths({197, 256})) {
    const size_t rows = 3, offset = 3;
    std::vector<float> x = RandomVector(rows * cols + offset, -20, 20, 21);
    for (size_t i = offset + cols; i < offset + 2 * cols; ++i)
      x[i] += 500.0f;  // row 1: no overflow
    std::vector<float> out(rows * cols + offset, -7.0f), expected(rows * cols);
    SoftmaxF32(x.data() + offset, rows, cols, out.data() + offset);
    SoftmaxReference(x.data() + offset, rows, cols, expected.data());
    for (size_t i = 0; i < offset; ++i) ASSERT_EQ(out[i], -7.0f);
    for (size_t i = 0; i < rows * cols; ++i) {
      ASSERT_NEAR(out[offset + i], expected[i], 1e-6f * expected[i] + 1e-30f)
          << "cols " << cols << " i " << i;
    }
  }
}

TEST_P(NormTest, SoftmaxMaskedEntriesAndInPlace) {
  // -inf entries (attention masks) get probability 0; rows still sum to 1.
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1.0f, -inf, 2.0f, -inf, 0.5f, -1e30f, 3.0f, -inf, -inf, 0.0f};
  std::vector<float> expected(x.size());
  SoftmaxReference(x.data(), 2, 5, expected.data());
  SoftmaxF32(x.data(), 2, 5, x.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], expected[i], 1e-7f);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[5], 0.0f);
}

// SoftmaxExpF32 of a row [0, x...] is exp(x) itself: the exponential every softmax uses, checked
// on a dense sweep of x <= 0 to within 2 ulp of double-precision exp where the result is a normal
// float (x >= -87.33), and 0 or a tiny value below that.
TEST_P(NormTest, SoftmaxExpIsWithinTwoUlp) {
  std::vector<float> row = {0.0f};
  for (float x = -104.0f; x < 0.0f; x += 0.00137f) row.push_back(x);
  for (float x = -1e-3f; x < -1e-38f; x *= 0.7f) row.push_back(x);  // towards 0
  row.push_back(-0.0f);
  std::vector<float> out(row.size());
  float inv_sum = 0;
  SoftmaxExpF32(row.data(), 1, row.size(), out.data(), &inv_sum);
  double sum = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    const double exact = std::exp(static_cast<double>(row[i]));
    sum += out[i];
    if (row[i] < -87.33655f) {
      ASSERT_LE(out[i], 1.2e-38f) << "x " << row[i];
      continue;
    }
    const double ulp =
        std::nextafter(static_cast<float>(exact), INFINITY) - static_cast<float>(exact);
    ASSERT_LE(std::fabs(out[i] - exact), 2 * ulp) << "x " << row[i];
  }
  EXPECT_NEAR(inv_sum, 1.0 / sum, 1e-6 / sum);
}

TEST_P(NormTest, SoftmaxExpSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  // Rows: masked entries; a NaN; all masked (x - max = -inf - -inf = NaN, as in ONNX and torch);
  // empty rows give inv_sum 0.
  std::vector<float> x = {1.0f, -inf, 2.0f, 0.5f, nan, 3.0f, -inf, -inf, -inf};
  std::vector<float> out(x.size());
  float inv_sum[4] = {};
  SoftmaxExpF32(x.data(), 3, 3, out.data(), inv_sum);
  EXPECT_FLOAT_EQ(out[0], std::exp(-1.0f));
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 1.0f);
  EXPECT_FLOAT_EQ(inv_sum[0], 1.0f / (1.0f + std::exp(-1.0f)));
  EXPECT_TRUE(std::isnan(inv_sum[1]));
  EXPECT_TRUE(std::isnan(inv_sum[2]));
  SoftmaxExpF32(x.data(), 1, 0, out.data(), inv_sum + 3);
  EXPECT_EQ(inv_sum[3], 0.0f);
}

}  // namespace
}  // namespace qclip

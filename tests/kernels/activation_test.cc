#include "kernels/activation.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace qclip {
namespace {

// Scalar reference in double precision.
double UnaryReference(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::kIdentity:
      return x;
    case UnaryOp::kErf:
      return std::erf(x);
    case UnaryOp::kGeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case UnaryOp::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case UnaryOp::kTanh:
      return std::tanh(x);
    case UnaryOp::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::kRelu:
      return x < 0 ? 0.0 : x;
    case UnaryOp::kExp:
      return std::exp(x);
    case UnaryOp::kLog:
      return std::log(x);
    case UnaryOp::kSqrt:
      return std::sqrt(x);
    case UnaryOp::kNeg:
      return -x;
    case UnaryOp::kAbs:
      return std::fabs(x);
    case UnaryOp::kReciprocal:
      return 1.0 / x;
  }
  return 0.0;
}

// Distance in float ulps between `actual` and the double `expected` (rounded to float first, so
// a correctly rounded result scores 0).
double UlpError(float actual, double expected) {
  const float e = static_cast<float>(expected);
  if (std::isnan(e) || std::isnan(actual)) return std::isnan(e) == std::isnan(actual) ? 0 : 1e9;
  if (std::isinf(e) || std::isinf(actual)) return e == actual ? 0 : 1e9;
  const float ulp = std::nextafter(std::fabs(e), HUGE_VALF) - std::fabs(e);
  return std::fabs(static_cast<double>(actual) - expected) / ulp;
}

struct OpCase {
  UnaryOp op;
  float lo, hi;      // sampled input range
  double max_ulp;    // error bound for outputs that are not tiny
  double abs_floor;  // errors below abs_floor * max(1, |x|) always pass (cancellation near 0)
};

// Gelu's bounds follow from erf/tanh's: x/2 * (1 + erf(x)) cancels as x -> -inf (an error of
// |x|/2 * ulp(1)), which torch and ORT share; the absolute floor covers that tail.
const OpCase kCases[] = {
    {UnaryOp::kIdentity, -10, 10, 0, 0},     {UnaryOp::kErf, -5, 5, 1.5, 0},
    {UnaryOp::kGeluErf, -10, 10, 1.5, 6e-8}, {UnaryOp::kGeluTanh, -10, 10, 3, 6e-8},
    {UnaryOp::kTanh, -20, 20, 4, 0},         {UnaryOp::kSigmoid, -100, 100, 3, 0},
    {UnaryOp::kRelu, -10, 10, 0, 0},         {UnaryOp::kExp, -100, 88, 1, 0},
    {UnaryOp::kLog, 1e-30f, 1e30f, 2, 0},    {UnaryOp::kSqrt, 0, 1e6f, 0.5, 0},
    {UnaryOp::kNeg, -10, 10, 0, 0},          {UnaryOp::kAbs, -10, 10, 0, 0},
    {UnaryOp::kReciprocal, -10, 10, 0.5, 0},
};

class ActivationTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(ActivationTest);

TEST_P(ActivationTest, MatchesReferenceOverRange) {
  std::mt19937 rng(123);
  for (const OpCase& c : kCases) {
    const size_t n = 20000;
    std::vector<float> in(n), out(n);
    // Log spans many decades: sample its exponent uniformly.
    const bool log_scale = c.op == UnaryOp::kLog;
    std::uniform_real_distribution<float> dist(log_scale ? std::log(c.lo) : c.lo,
                                               log_scale ? std::log(c.hi) : c.hi);
    for (float& x : in) x = log_scale ? std::exp(dist(rng)) : dist(rng);
    UnaryF32(c.op, in.data(), out.data(), n);
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      const double expected = UnaryReference(c.op, in[i]);
      if (std::fabs(out[i] - expected) <= c.abs_floor * std::max(1.0f, std::fabs(in[i]))) continue;
      worst = std::max(worst, UlpError(out[i], expected));
      ASSERT_LE(UlpError(out[i], expected), c.max_ulp)
          << "op " << static_cast<int>(c.op) << " x=" << in[i] << " got " << out[i] << " expected "
          << expected;
    }
    RecordProperty("max_ulp_op" + std::to_string(static_cast<int>(c.op)), std::to_string(worst));
  }
}

TEST_P(ActivationTest, ErfIsWithinOneUlpOnDenseGrid) {
  // Every 4099th float in [1e-30, 4]: covers both branches and the switch point 0.921875.
  std::vector<float> in;
  for (uint32_t bits = 0x0DA24260u; bits < 0x40800000u; bits += 4099) {  // 1e-30 .. 4
    float x;
    std::memcpy(&x, &bits, sizeof(x));
    in.push_back(x);
  }
  std::vector<float> out(in.size());
  UnaryF32(UnaryOp::kErf, in.data(), out.data(), in.size());
  double worst = 0;
  for (size_t i = 0; i < in.size(); ++i) worst = std::max(worst, UlpError(out[i], std::erf(in[i])));
  EXPECT_LE(worst, 1.5);
}

TEST_P(ActivationTest, GeluErfIsWithinOneAndAHalfUlpOnDenseGrid) {
  // Every 997th float of either sign up to 8: both sides of GeluErf's cut-off at |x| = 5.5.
  std::vector<float> in;
  for (uint32_t bits = 0; bits < 0x41000000u; bits += 997) {  // 0 .. 8
    float x;
    std::memcpy(&x, &bits, sizeof(x));
    in.push_back(x);
    in.push_back(-x);
  }
  std::vector<float> out(in.size());
  UnaryF32(UnaryOp::kGeluErf, in.data(), out.data(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const double expected = UnaryReference(UnaryOp::kGeluErf, in[i]);
    // The tail below torch's own cancellation error (see kCases) is exempt.
    if (std::fabs(out[i] - expected) <= 6e-8 * std::max(1.0f, std::fabs(in[i]))) continue;
    ASSERT_LE(UlpError(out[i], expected), 1.5) << "x=" << in[i] << " got " << out[i];
  }
}

TEST_P(ActivationTest, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> in = {0.0f, -0.0f, inf, -inf, nan, 1e-40f, -1e-40f, 1e30f, -1e30f};
  for (const OpCase& c : kCases) {
    std::vector<float> out(in.size());
    UnaryF32(c.op, in.data(), out.data(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const double expected = UnaryReference(c.op, in[i]);
      // Subnormal inputs may be flushed; compare those loosely.
      if (std::fabs(in[i]) < 1e-37f && std::fabs(out[i] - expected) < 1e-30) continue;
      EXPECT_LE(UlpError(out[i], expected), std::max(c.max_ulp, 1.0))
          << "op " << static_cast<int>(c.op) << " x=" << in[i] << " got " << out[i] << " expected "
          << expected;
    }
  }
}

TEST_P(ActivationTest, AllLengthsAndMisalignedPointers) {
  // Lengths 0..4N+1 for the widest vector (16 floats), at every offset within a vector, in place
  // and out of place; the guard elements must be untouched.
  for (size_t n = 0; n <= 4 * 16 + 1; ++n) {
    for (size_t offset = 0; offset < 16; offset += 3) {
      std::vector<float> in(n + offset + 1), out(n + offset + 1, -7.0f);
      for (size_t i = 0; i < in.size(); ++i) in[i] = 0.37f * static_cast<float>(i) - 5.0f;
      UnaryF32(UnaryOp::kGeluErf, in.data() + offset, out.data() + offset, n);
      for (size_t i = 0; i < offset; ++i) ASSERT_EQ(out[i], -7.0f);
      ASSERT_EQ(out[offset + n], -7.0f);
      std::vector<float> inplace = in;
      UnaryF32(UnaryOp::kGeluErf, inplace.data() + offset, inplace.data() + offset, n);
      for (size_t i = 0; i < n; ++i) {
        const float x = in[offset + i];
        ASSERT_NEAR(out[offset + i], UnaryReference(UnaryOp::kGeluErf, x), 1e-6);
        ASSERT_EQ(inplace[offset + i], out[offset + i]);
      }
    }
  }
}

}  // namespace
}  // namespace qclip

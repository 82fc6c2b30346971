// Elementwise ops through RunOp; expected values computed by hand (numpy semantics).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "op_values.h"
#include "ops/op_util.h"

namespace qclip::test {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

// --- float16 conversion -----------------------------------------------------------------------

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    const bool is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    if (is_nan) {
      EXPECT_TRUE(std::isnan(f));
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
    } else {
      ASSERT_EQ(FloatToHalf(f), h) << std::hex << h;
    }
  }
}

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7C00), kInf);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);  // below the halfway point to 2^16
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // halfway: ties to even = infinity
  EXPECT_EQ(FloatToHalf(1e9f), 0x7C00);
  EXPECT_EQ(FloatToHalf(-kInf), 0xFC00);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);         // tie to even: 0
  EXPECT_EQ(FloatToHalf(std::ldexp(1.5f, -25)), 0x0001);         // above the tie
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 units: tie to even 2
  EXPECT_EQ(FloatToHalf(std::ldexp(5.0f, -25)), 0x0002);         // 2.5 units: tie to even 2
  EXPECT_EQ(FloatToHalf(std::ldexp(2047.0f, -25)), 0x0400);      // 1023.5 units: smallest normal
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even: 1
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie to even: up
  EXPECT_EQ(FloatToHalf(kNaN) & 0x7E00, 0x7E00);
}

#if defined(__FLT16_MAX__)
// The compiler's own float -> _Float16 conversion rounds to nearest even too.
TEST(HalfTest, MatchesCompilerConversion) {
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFu; bits += 4093) {
    const uint32_t b = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b, sizeof(f));
    if (std::isnan(f)) continue;
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t expected;
    std::memcpy(&expected, &h, sizeof(expected));
    ASSERT_EQ(FloatToHalf(f), expected) << std::hex << b;
  }
}
#endif

// --- arithmetic -------------------------------------------------------------------------------

TEST(ElementwiseTest, AddSameShapeAndBroadcasts) {
  EXPECT_EQ(Values<float>(Run1("Add", {F32({2, 2}, {1, 2, 3, 4}), F32({2, 2}, {10, 20, 30, 40})})),
            (std::vector<float>{11, 22, 33, 44}));
  // Row vector (bias add), scalar, column.
  EXPECT_EQ(Values<float>(Run1("Add", {Iota({2, 3}), F32({3}, {10, 20, 30})})),
            (std::vector<float>{10, 21, 32, 13, 24, 35}));
  EXPECT_EQ(Values<float>(Run1("Add", {F32({}, {100}), Iota({2, 2})})),
            (std::vector<float>{100, 101, 102, 103}));
  const Tensor outer = Run1("Add", {F32({3, 1}, {0, 10, 20}), F32({1, 4}, {1, 2, 3, 4})});
  EXPECT_EQ(outer.shape(), (Shape{3, 4}));
  EXPECT_EQ(Values<float>(outer), (std::vector<float>{1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24}));
  // Broadcast in a middle dim: [2,1,2] + [2,3,1] -> [2,3,2].
  const Tensor mid =
      Run1("Mul", {F32({2, 1, 2}, {1, 2, 3, 4}), F32({2, 3, 1}, {1, 10, 100, 2, 20, 200})});
  EXPECT_EQ(mid.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(Values<float>(mid),
            (std::vector<float>{1, 2, 10, 20, 100, 200, 6, 8, 60, 80, 600, 800}));
}

TEST(ElementwiseTest, IntegerArithmetic) {
  EXPECT_EQ(Values<int64_t>(Run1("Sub", {I64({3}, {5, 0, -3}), I64({}, {7})})),
            (std::vector<int64_t>{-2, -7, -10}));
  // Integer Div truncates toward zero; division by zero gives 0 instead of trapping.
  EXPECT_EQ(
      Values<int64_t>(Run1("Div", {I64({5}, {7, -7, 7, -7, 5}), I64({5}, {2, 2, -2, -2, 0})})),
      (std::vector<int64_t>{3, -3, -3, 3, 0}));
  EXPECT_EQ(Values<int32_t>(Run1("Mul", {I32({2}, {3, -4}), I32({1}, {6})})),
            (std::vector<int32_t>{18, -24}));
  const int64_t min = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(Values<int64_t>(Run1("Div", {I64({1}, {min}), I64({1}, {-1})})),
            (std::vector<int64_t>{min}));
}

TEST(ElementwiseTest, FloatDivAndSpecials) {
  const std::vector<float> y =
      Values<float>(Run1("Div", {F32({3}, {1, -1, 0}), F32({3}, {0, 0, 0})}));
  EXPECT_EQ(y[0], kInf);
  EXPECT_EQ(y[1], -kInf);
  EXPECT_TRUE(std::isnan(y[2]));
}

TEST(ElementwiseTest, Float16Arithmetic) {
  Tensor a(DType::kFloat16, {3});
  Tensor b(DType::kFloat16, {3});
  const float av[] = {1.0f, 2048.0f, 0.1f}, bv[] = {2.0f, 1.0f, 0.2f};
  for (int i = 0; i < 3; ++i) {
    a.data<uint16_t>()[i] = FloatToHalf(av[i]);
    b.data<uint16_t>()[i] = FloatToHalf(bv[i]);
  }
  const Tensor y = Run1("Add", {a, b});
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  EXPECT_EQ(HalfToFloat(y.data<uint16_t>()[0]), 3.0f);
  EXPECT_EQ(HalfToFloat(y.data<uint16_t>()[1]), 2048.0f);  // 2049 ties to even in half
  EXPECT_EQ(y.data<uint16_t>()[2],
            FloatToHalf(HalfToFloat(FloatToHalf(0.1f)) + HalfToFloat(FloatToHalf(0.2f))));
}

TEST(ElementwiseTest, EmptyTensors) {
  const Tensor y = Run1("Add", {F32({0, 3}, {}), F32({3}, {1, 2, 3})});
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
  EXPECT_EQ(y.size(), 0);
  EXPECT_EQ(Run1("Equal", {I64({0}, {}), I64({1}, {4})}).shape(), (Shape{0}));
}

TEST(ElementwiseTest, Errors) {
  EXPECT_THROW(Run1("Add", {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {1, 2})}), Error);
  EXPECT_THROW(Run1("Add", {F32({1}, {1}), I64({1}, {1})}), Error);
  EXPECT_THROW(Run1("Add", {Bool({1}, {1}), Bool({1}, {1})}), Error);
  EXPECT_THROW(Run1("And", {F32({1}, {1}), F32({1}, {1})}), Error);
  EXPECT_THROW(Run1("Where", {F32({1}, {1}), F32({1}, {1}), F32({1}, {1})}), Error);
  EXPECT_THROW(Run1("Cast", {F32({1}, {1})}, {{"to", IntAttr(5)}}), Error);  // int16
  EXPECT_THROW(Run1("Add", {F32({1}, {1})}), Error);
}

TEST(ElementwiseTest, LargeBroadcastIsThreadCountIndependent) {
  // 3 x 100000 elements: several fixed chunks, long runs cut into pieces.
  const Tensor a = Iota({3, 100000});
  Tensor b(DType::kFloat32, {100000});
  for (int64_t i = 0; i < b.size(); ++i) b.data<float>()[i] = 0.5f * static_cast<float>(i % 7);
  OpCall c;
  c.op_type = "Sub";
  c.inputs = {a, b};
  const Tensor one = RunOp(c)[0];
  c.threads = 4;
  const Tensor four = RunOp(c)[0];
  ASSERT_EQ(one.size(), 300000);
  for (int64_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one.data<float>()[i],
              static_cast<float>(i) - 0.5f * static_cast<float>(i % 100000 % 7));
    ASSERT_EQ(Bits(one.data<float>()[i]), Bits(four.data<float>()[i]));
  }
}

TEST(ElementwiseTest, Pow) {
  const std::vector<float> x = {-1.5f, 0.3f, 2.0f, 7.1f};
  // Exponent 2: x * x. Exponent 0.5 and others: powf.
  const std::vector<float> squared = Values<float>(Run1("Pow", {F32({4}, x), F32({}, {2})}));
  const std::vector<float> roots = Values<float>(Run1("Pow", {F32({4}, x), F32({1}, {0.5f})}));
  const std::vector<float> cubes = Values<float>(Run1("Pow", {F32({4}, x), I64({}, {3})}));
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(squared[i], x[i] * x[i]);
    EXPECT_EQ(cubes[i], x[i] * x[i] * x[i]);
    if (x[i] < 0) {
      EXPECT_TRUE(std::isnan(roots[i]));
    } else {
      EXPECT_EQ(roots[i], std::pow(x[i], 0.5f));
    }
  }
  // Broadcast exponent of another dtype: float ^ int in double.
  EXPECT_EQ(Values<float>(Run1("Pow", {F32({2, 1}, {2, 3}), I64({2}, {0, 4})})),
            (std::vector<float>{1, 16, 1, 81}));
  EXPECT_EQ(Values<int64_t>(Run1("Pow", {I64({3}, {2, -3, 5}), I64({3}, {10, 3, 0})})),
            (std::vector<int64_t>{1024, -27, 1}));
}

TEST(ElementwiseTest, MaxMinVariadic) {
  EXPECT_EQ(Values<float>(Run1("Max", {F32({3}, {1, 5, 3}), F32({1}, {2}), F32({2, 1}, {0, 4})})),
            (std::vector<float>{2, 5, 3, 4, 5, 4}));
  EXPECT_EQ(Values<int64_t>(Run1("Min", {I64({3}, {1, 5, 3}), I64({3}, {4, 2, 6})})),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Values<float>(Run1("Max", {F32({2}, {1, -1})})), (std::vector<float>{1, -1}));
  const std::vector<float> nan =
      Values<float>(Run1("Min", {F32({2}, {kNaN, 1}), F32({2}, {0, kNaN})}));
  EXPECT_TRUE(std::isnan(nan[0]));
  EXPECT_TRUE(std::isnan(nan[1]));
}

// --- comparisons, logic, Where ----------------------------------------------------------------

TEST(ElementwiseTest, Comparisons) {
  const Tensor a = F32({4}, {1, 2, 3, kNaN});
  const Tensor b = F32({}, {2});
  EXPECT_EQ(Values<uint8_t>(Run1("Equal", {a, b})), (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("Less", {a, b})), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("LessOrEqual", {a, b})), (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("Greater", {a, b})), (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("GreaterOrEqual", {a, b})), (std::vector<uint8_t>{0, 1, 1, 0}));
  const Tensor eq = Run1("Equal", {I64({2, 1}, {0, 7}), I64({3}, {0, 7, 0})});
  EXPECT_EQ(eq.dtype(), DType::kBool);
  EXPECT_EQ(Values<uint8_t>(eq), (std::vector<uint8_t>{1, 0, 1, 0, 1, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("Equal", {Bool({2}, {1, 0}), Bool({2}, {1, 1})})),
            (std::vector<uint8_t>{1, 0}));
}

TEST(ElementwiseTest, Logic) {
  const Tensor a = Bool({4}, {0, 0, 1, 1});
  const Tensor b = Bool({4}, {0, 1, 0, 1});
  EXPECT_EQ(Values<uint8_t>(Run1("And", {a, b})), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(Values<uint8_t>(Run1("Or", {a, b})), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(Values<uint8_t>(Run1("Xor", {a, b})), (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("Not", {a})), (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("And", {a, Bool({}, {1})})), (std::vector<uint8_t>{0, 0, 1, 1}));
}

TEST(ElementwiseTest, WhereBroadcastsThreeWays) {
  // The BERT mask pattern: Where(mask [B,1,1,S], scores, -inf) with a scalar fill.
  const Tensor y = Run1("Where", {Bool({2, 1}, {1, 0}), F32({1, 3}, {1, 2, 3}), F32({}, {-kInf})});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 2, 3, -kInf, -kInf, -kInf}));
  EXPECT_EQ(Values<int64_t>(
                Run1("Where", {Bool({3}, {1, 0, 1}), I64({3}, {1, 2, 3}), I64({3}, {-1, -2, -3})})),
            (std::vector<int64_t>{1, -2, 3}));
}

TEST(ElementwiseTest, IsNaNIsInf) {
  const Tensor x = F32({4}, {kNaN, kInf, -kInf, 1});
  EXPECT_EQ(Values<uint8_t>(Run1("IsNaN", {x})), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("IsInf", {x})), (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("IsInf", {x}, {{"detect_negative", IntAttr(0)}})),
            (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(Values<uint8_t>(Run1("IsInf", {x}, {{"detect_positive", IntAttr(0)}})),
            (std::vector<uint8_t>{0, 0, 1, 0}));
}

// --- Cast, Identity ---------------------------------------------------------------------------

Tensor CastTo(const Tensor& x, DType to) {
  return Run1("Cast", {x}, {{"to", IntAttr(static_cast<int64_t>(to))}}, 13);
}

TEST(ElementwiseTest, CastFloatToIntTruncates) {
  const Tensor x = F32({6}, {1.7f, -1.7f, 0.5f, -0.0f, 3e10f, kNaN});
  EXPECT_EQ(Values<int64_t>(CastTo(x, DType::kInt64)),
            (std::vector<int64_t>{1, -1, 0, 0, 30000001024, 0}));
  // Out of range saturates (C++ leaves it undefined).
  EXPECT_EQ(Values<int32_t>(CastTo(x, DType::kInt32)),
            (std::vector<int32_t>{1, -1, 0, 0, std::numeric_limits<int32_t>::max(), 0}));
  EXPECT_EQ(Values<uint8_t>(CastTo(F32({3}, {255.9f, -3, 7.2f}), DType::kUInt8)),
            (std::vector<uint8_t>{255, 0, 7}));
}

TEST(ElementwiseTest, CastBoolAndInts) {
  EXPECT_EQ(Values<uint8_t>(CastTo(F32({4}, {0, -0.0f, 2.5f, kNaN}), DType::kBool)),
            (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(Values<float>(CastTo(Bool({3}, {1, 0, 1}), DType::kFloat32)),
            (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(Values<int32_t>(CastTo(I64({2}, {int64_t{1} << 32 | 5, -1}), DType::kInt32)),
            (std::vector<int32_t>{5, -1}));
  EXPECT_EQ(Values<int8_t>(CastTo(I64({2}, {300, -129}), DType::kInt8)),
            (std::vector<int8_t>{44, 127}));
  EXPECT_EQ(Values<float>(CastTo(I64({2}, {16777217, -3}), DType::kFloat32)),
            (std::vector<float>{16777216.0f, -3.0f}));
  EXPECT_EQ(Values<int64_t>(CastTo(I64({2}, {4, 5}), DType::kInt64)), (std::vector<int64_t>{4, 5}));
}

TEST(ElementwiseTest, CastFloat16) {
  const Tensor h = CastTo(F32({4}, {1.0f, 65520.0f, 1e-8f, -2.5f}), DType::kFloat16);
  ASSERT_EQ(h.dtype(), DType::kFloat16);
  EXPECT_EQ(Values<uint16_t>(h), (std::vector<uint16_t>{0x3C00, 0x7C00, 0x0000, 0xC100}));
  EXPECT_EQ(Values<float>(CastTo(h, DType::kFloat32)),
            (std::vector<float>{1.0f, kInf, 0.0f, -2.5f}));
  EXPECT_EQ(Values<int64_t>(CastTo(h, DType::kInt64)),
            (std::vector<int64_t>{1, std::numeric_limits<int64_t>::max(), 0, -2}));
}

TEST(ElementwiseTest, Identity) {
  const Tensor y = Run1("Identity", {I64({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace qclip::test

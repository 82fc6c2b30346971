// Float16 models: the qclip.RoundToFloat16 kernel, and where PromoteFloat16 rounds a float16
// graph's values the way ONNX Runtime's CPU provider does (see src/graph/float16.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "graph/passes.h"
#include "op_test_util.h"

namespace qclip::test {
namespace {

const float kInf = std::numeric_limits<float>::infinity();

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

std::vector<float> Round(const std::vector<float>& x) {
  OpCall c;
  c.op_type = "RoundToFloat16";
  c.domain = "qclip";
  c.opset = 1;
  c.inputs = {MakeTensor(DType::kFloat32, {static_cast<int64_t>(x.size())}, x)};
  c.threads = 4;
  const Tensor y = RunOp(c)[0];
  return std::vector<float>(y.data<float>(), y.data<float>() + y.size());
}

// Float16 bit pattern h as a float, decoded independently of the code under test.
float HalfValue(uint32_t h) {
  const int exponent = static_cast<int>((h >> 10) & 0x1F);
  const float mantissa = static_cast<float>(h & 0x3FF);
  const float magnitude =
      exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024.0f + mantissa, exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}

TEST(RoundToFloat16Test, EveryFloat16IsKept) {
  std::vector<float> x;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) != 0x7C00) x.push_back(HalfValue(h));  // finite
  }
  const std::vector<float> y = Round(x);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(Bits(y[i]), Bits(x[i])) << x[i];
}

// Between every two neighbouring finite float16 values (subnormals, the subnormal -> normal
// step and every exponent step included): below the midpoint rounds down, above it up, and the
// midpoint itself to the one with an even mantissa.
TEST(RoundToFloat16Test, TiesToEvenEverywhere) {
  std::vector<float> x, want;
  for (uint32_t h = 0; h < 0x7BFF; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const float lo = HalfValue(sign | h);
      const float hi = HalfValue(sign | (h + 1));
      const float mid = (lo + hi) / 2;  // exact: float32 has 13 more mantissa bits
      x.insert(x.end(), {mid, std::nextafter(mid, lo), std::nextafter(mid, hi)});
      want.insert(want.end(), {(h & 1) ? hi : lo, lo, hi});
    }
  }
  const std::vector<float> y = Round(x);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(Bits(y[i]), Bits(want[i])) << x[i];
}

TEST(RoundToFloat16Test, OverflowZeroAndNaN) {
  const float max16 = 65504.0f;
  const std::vector<float> y =
      Round({std::nextafter(65520.0f, 0.0f), 65520.0f, 1e30f, -65520.0f, kInf, -kInf, -0.0f,
             std::ldexp(1.0f, -25), -std::ldexp(1.0f, -25), std::ldexp(1.0f, -140),
             std::numeric_limits<float>::quiet_NaN()});
  EXPECT_EQ(y[0], max16);  // just below the midpoint between 65504 and 2^16
  EXPECT_EQ(y[1], kInf);   // the midpoint: ties to even is 2^16, which is infinity
  EXPECT_EQ(y[2], kInf);
  EXPECT_EQ(y[3], -kInf);
  EXPECT_EQ(y[4], kInf);
  EXPECT_EQ(y[5], -kInf);
  EXPECT_EQ(Bits(y[6]), Bits(-0.0f));
  EXPECT_EQ(Bits(y[7]), Bits(0.0f));   // half the smallest subnormal: ties to even, 0
  EXPECT_EQ(Bits(y[8]), Bits(-0.0f));  // keeping the sign
  EXPECT_EQ(Bits(y[9]), Bits(0.0f));   // a float32 subnormal
  EXPECT_TRUE(std::isnan(y[10]));
}

#if defined(__FLT16_MAX__)
// The compiler's float -> _Float16 conversion rounds to nearest even too.
TEST(RoundToFloat16Test, MatchesCompilerConversion) {
  std::vector<float> x;
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFu; bits += 4093) {
    const uint32_t b = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b, sizeof(f));
    if (!std::isnan(f)) x.push_back(f);
  }
  const std::vector<float> y = Round(x);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(Bits(y[i]), Bits(static_cast<float>(static_cast<_Float16>(x[i])))) << x[i];
  }
}
#endif

// --- where PromoteFloat16 rounds ---------------------------------------------------------------

// A one-element float16 constant from its bit pattern.
Tensor Half1(uint16_t bits) { return MakeTensor<uint16_t>(DType::kFloat16, {1}, {bits}); }
constexpr uint16_t kHalf0 = 0x0000, kHalf05 = 0x3800, kHalf1 = 0x3C00, kHalf2 = 0x4000;
constexpr uint16_t kHalfTiny = 0x0001;  // 6e-8: what the converter makes of BERT's 1e-12

// A float16 graph in the shape convert_float_to_float16(keep_io_types=True) writes: a float32
// input cast to float16, float16 constants, and a Cast back to float32 per output.
class ModelBuilder {
 public:
  ModelBuilder() {
    g_.opsets[""] = 17;
    const int x = g_.AddValue("x", DType::kFloat32);
    g_.inputs.push_back(x);
    x16_ = Op("Cast", {x}, "x16", {{"to", IntAttr(10)}});
  }

  int x16() const { return x16_; }

  int Const(const std::string& name, Tensor t) {
    const int v = g_.AddValue(name, t.dtype());
    g_.values[v].constant = std::move(t);
    return v;
  }

  int Op(const std::string& op, std::vector<int> inputs, const std::string& out,
         std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = out;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {g_.AddValue(out)};
    n.attrs = std::move(attrs);
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back().outputs[0];
  }

  void Output(int v) {
    g_.outputs.push_back(Op("Cast", {v}, Name(v) + "_fp32", {{"to", IntAttr(1)}}));
  }

  Graph& Promoted() {
    PromoteFloat16(g_);
    return g_;
  }

  std::string Name(int v) const { return g_.values[v].name; }

  // The value node `out`'s input i reads, by name.
  std::string InputOf(const std::string& out, size_t i) const {
    for (const Node& n : g_.nodes) {
      if (g_.values[n.outputs[0]].name == out) return Name(n.inputs[i]);
    }
    return "?";
  }

  // Names of the values RoundToFloat16 nodes write.
  std::vector<std::string> Rounded() const {
    std::vector<std::string> names;
    for (const Node& n : g_.nodes) {
      if (n.domain == "qclip" && n.op_type == "RoundToFloat16") names.push_back(Name(n.outputs[0]));
    }
    return names;
  }

 private:
  Graph g_;
  int x16_;
};

using Names = std::vector<std::string>;

// BERT's attention: the projection's result goes through Reshape -> Transpose (float16 kernels)
// to the next float32 op; ORT rounds it for the Reshape only. The residual Add reads it
// unrounded, and the model's input Cast to float16 rounds nothing.
TEST(PromoteFloat16Test, RoundsWhereFloat16KernelsRead) {
  ModelBuilder f;
  const int q = f.Op("Add", {f.x16(), f.Const("bias", Half1(kHalf05))}, "q");
  const int shape = f.Const("shape", MakeTensor<int64_t>(DType::kInt64, {2}, {1, -1}));
  const int r = f.Op("Reshape", {q, shape}, "r");
  const int t = f.Op("Transpose", {r}, "t");
  const int scores = f.Op("Mul", {t, t}, "scores");
  const int residual = f.Op("Add", {q, f.x16()}, "residual");
  f.Output(scores);
  f.Output(residual);
  f.Promoted();
  EXPECT_EQ(f.Rounded(), Names{"q"});
  EXPECT_EQ(f.InputOf("r", 0), "q");
  EXPECT_EQ(f.InputOf("residual", 0), "q/float32");
  EXPECT_EQ(f.InputOf("q/float32", 0), "x16");  // the Add, now writing q unrounded
}

// A lone float16-kernel node between float32 ones runs in float32 too (IsIsolatedFp16NodeOnCpu).
TEST(PromoteFloat16Test, IsolatedFloat16NodeRunsInFloat32) {
  ModelBuilder f;
  const int a = f.Op("Add", {f.x16(), f.x16()}, "a");
  const int shape = f.Const("shape", MakeTensor<int64_t>(DType::kInt64, {1}, {-1}));
  const int r = f.Op("Reshape", {a, shape}, "r");
  f.Output(f.Op("Mul", {r, r}, "m"));
  f.Promoted();
  EXPECT_EQ(f.Rounded(), Names{});
}

// LayerNormalization-17 has a float16 kernel that rounds its result; a Shape reader keeps it
// from being isolated, so it reads its input rounded and its readers see its output rounded.
TEST(PromoteFloat16Test, Float16LayerNormalization) {
  ModelBuilder f;
  const int a = f.Op("Add", {f.x16(), f.x16()}, "a");
  const int ln = f.Op("LayerNormalization",
                      {a, f.Const("gamma", Half1(kHalf1)), f.Const("beta", Half1(kHalf0))}, "ln");
  f.Op("Shape", {ln}, "shape");
  f.Output(f.Op("Mul", {ln, ln}, "m"));
  f.Promoted();
  EXPECT_EQ(f.Rounded(), (Names{"a", "ln"}));
  EXPECT_EQ(f.InputOf("m", 0), "ln");
}

// A model's Cast to float16 that another of its Casts takes back to float32 keeps its rounding.
TEST(PromoteFloat16Test, CastPairRounds) {
  ModelBuilder f;
  const int a = f.Op("Add", {f.x16(), f.x16()}, "a");
  const int back = f.Op("Cast", {a}, "back", {{"to", IntAttr(1)}});
  const int again = f.Op("Cast", {back}, "again", {{"to", IntAttr(10)}});
  const int other = f.Op("Mul", {again, again}, "other");
  f.Output(f.Op("Cast", {again}, "pair", {{"to", IntAttr(1)}}));
  f.Output(other);
  f.Promoted();
  EXPECT_EQ(f.Rounded(), Names{"again"});
  EXPECT_EQ(f.InputOf("other", 0), "again");
}

// ORT's LayerNorm fusion reads no float16 epsilon: the fused node uses 1e-5.
TEST(PromoteFloat16Test, LayerNormEpsilonIsOrtDefault) {
  ModelBuilder f;
  std::map<std::string, Attribute> last_axis = {{"axes", IntsAttr({-1})}};
  const int mean = f.Op("ReduceMean", {f.x16()}, "mean", last_axis);
  const int d = f.Op("Sub", {f.x16(), mean}, "d");
  const int sq = f.Op("Pow", {d, f.Const("two", Half1(kHalf2))}, "sq");
  const int var = f.Op("ReduceMean", {sq}, "var", last_axis);
  const int eps = f.Const("eps", Half1(kHalfTiny));
  const int var_eps = f.Op("Add", {var, eps}, "var_eps");
  const int norm = f.Op("Div", {d, f.Op("Sqrt", {var_eps}, "std")}, "norm");
  Tensor gamma(DType::kFloat16, {4});
  std::memset(gamma.raw(), 0, gamma.bytes());
  f.Output(f.Op("Mul", {norm, f.Const("gamma", std::move(gamma))}, "y"));
  Graph& g = f.Promoted();
  const int used = g.FindValue(f.InputOf("var_eps", 1));
  ASSERT_GE(used, 0);
  ASSERT_EQ(g.values[used].constant.dtype(), DType::kFloat32);
  EXPECT_EQ(g.values[used].constant.data<float>()[0], 1e-5f);
}

}  // namespace
}  // namespace qclip::test

// The float compute ops through RunOp (MatMul, Gemm, Conv, LayerNormalization, Softmax and the
// unary ops), against plain double-precision references written out in each test.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "op_values.h"

namespace qclip::test {
namespace {

Tensor Random(Shape shape, uint32_t seed, float lo = -1, float hi = 1) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

void ExpectNear(const Tensor& actual, const Shape& shape, const std::vector<double>& expected,
                double tolerance) {
  ASSERT_EQ(actual.shape(), shape);
  ASSERT_EQ(actual.size(), static_cast<int64_t>(expected.size()));
  for (int64_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual.data<float>()[i], expected[i], tolerance * (1 + std::fabs(expected[i])))
        << "element " << i;
  }
}

// Element of a row-major tensor at a multi-index, with size-1 dims broadcast.
double At(const Tensor& t, const std::vector<int64_t>& index) {
  int64_t offset = 0;
  for (int d = 0; d < t.rank(); ++d) {
    const size_t i = index.size() - t.rank() + d;
    offset = offset * t.dim(d) + (t.dim(d) == 1 ? 0 : index[i]);
  }
  return t.data<float>()[offset];
}

// --- MatMul -------------------------------------------------------------------------------------

// numpy.matmul reference for A [..., M, K] and B [..., K, N] of the same rank (after the test
// reshapes rank-1 operands itself), batch dims broadcast.
std::vector<double> MatMulReference(const Tensor& a, const Tensor& b, const Shape& batch) {
  const int64_t m = a.dim(a.rank() - 2), k = a.dim(a.rank() - 1), n = b.dim(b.rank() - 1);
  std::vector<double> out;
  const int64_t batches = NumElements(batch);
  for (int64_t i = 0; i < batches; ++i) {
    std::vector<int64_t> index(batch.size());
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1, rest = i; d >= 0; --d) {
      index[d] = rest % batch[d];
      rest /= batch[d];
    }
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t c = 0; c < n; ++c) {
        double sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          std::vector<int64_t> ia = index, ib = index;
          ia.insert(ia.end(), {r, kk});
          ib.insert(ib.end(), {kk, c});
          sum += At(a, ia) * At(b, ib);
        }
        out.push_back(sum);
      }
    }
  }
  return out;
}

Tensor RunMatMul(const Tensor& a, const Tensor& b, bool b_constant, int threads = 1) {
  OpCall c;
  c.op_type = "MatMul";
  c.inputs = {a, b};
  c.constant_at_load = {false, b_constant};
  c.threads = threads;
  return RunOp(c)[0];
}

TEST(MatMulTest, WeightPackedOrNotWithFoldedBatch) {
  const Tensor a = Random({2, 7, 33}, 1), b = Random({33, 70}, 2);
  const Tensor b3 = MakeTensor<float>(DType::kFloat32, {1, 33, 70}, Values<float>(b));
  const std::vector<double> expected = MatMulReference(a, b3, {2});
  for (const bool constant : {true, false}) {
    ExpectNear(RunMatMul(a, b, constant), {2, 7, 70}, expected, 1e-5);
  }
}

TEST(MatMulTest, BroadcastBatchDims) {
  const Tensor a = Random({2, 1, 3, 4}, 3), b = Random({3, 4, 5}, 4);
  const Tensor b4 = MakeTensor<float>(DType::kFloat32, {1, 3, 4, 5}, Values<float>(b));
  ExpectNear(RunMatMul(a, b, false), {2, 3, 3, 5}, MatMulReference(a, b4, {2, 3}), 1e-5);
  // Attention-like: per head [seq, d] x [d, seq].
  const Tensor q = Random({2, 3, 9, 8}, 5), k = Random({2, 3, 8, 9}, 6);
  ExpectNear(RunMatMul(q, k, false), {2, 3, 9, 9}, MatMulReference(q, k, {2, 3}), 1e-5);
}

TEST(MatMulTest, RankOneOperands) {
  const Tensor v = Random({4}, 7), m = Random({4, 5}, 8), batch = Random({2, 3, 4}, 9);
  const Tensor row = MakeTensor<float>(DType::kFloat32, {1, 4}, Values<float>(v));
  const Tensor col = MakeTensor<float>(DType::kFloat32, {4, 1}, Values<float>(v));
  const Tensor col3 = MakeTensor<float>(DType::kFloat32, {1, 4, 1}, Values<float>(v));
  for (const bool constant : {true, false}) {
    ExpectNear(RunMatMul(v, m, constant), {5}, MatMulReference(row, m, {}), 1e-5);
    ExpectNear(RunMatMul(batch, v, constant), {2, 3}, MatMulReference(batch, col3, {2}), 1e-5);
    ExpectNear(RunMatMul(v, v, constant), {}, MatMulReference(row, col, {}), 1e-5);
  }
}

TEST(MatMulTest, EmptyAndZeroDepth) {
  EXPECT_EQ(RunMatMul(Random({0, 3, 4}, 1), Random({4, 5}, 2), true).shape(), (Shape{0, 3, 5}));
  EXPECT_EQ(RunMatMul(Random({2, 0, 4}, 1), Random({2, 4, 5}, 2), false).shape(), (Shape{2, 0, 5}));
  const Tensor zeros = RunMatMul(Random({3, 0}, 1), Random({0, 2}, 2), true);
  EXPECT_EQ(zeros.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(zeros), std::vector<float>(6, 0.0f));
}

TEST(MatMulTest, ThreadCountDoesNotChangeBits) {
  const Tensor a = Random({300, 200}, 1), b = Random({200, 600}, 2);
  const Tensor q = Random({4, 100, 64}, 3), k = Random({4, 64, 100}, 4);
  for (const bool constant : {true, false}) {
    EXPECT_EQ(Values<float>(RunMatMul(a, b, constant, 1)),
              Values<float>(RunMatMul(a, b, constant, 3)));
  }
  EXPECT_EQ(Values<float>(RunMatMul(q, k, false, 1)), Values<float>(RunMatMul(q, k, false, 2)));
}

TEST(MatMulTest, Errors) {
  EXPECT_THROW(RunMatMul(Random({3, 4}, 1), Random({5, 6}, 2), true), Error);
  EXPECT_THROW(RunMatMul(Random({3, 4}, 1), Random({5}, 2), false), Error);
  EXPECT_THROW(RunMatMul(Random({2, 3, 4}, 1), Random({3, 4, 5}, 2), false), Error);
  EXPECT_THROW(RunMatMul(Random({}, 1), Random({1}, 2), false), Error);
  EXPECT_THROW(RunMatMul(Ints({1, 2}), Random({2, 1}, 2), false), Error);
}

// --- Gemm ---------------------------------------------------------------------------------------

struct GemmCase {
  bool trans_a, trans_b;
  float alpha, beta;
  Shape c_shape;  // {} with has_c = false: no C
  bool has_c;
  bool b_constant;
};

TEST(GemmTest, TransposesScalesAndBroadcastC) {
  const int64_t m = 5, k = 7, n = 9;
  const GemmCase cases[] = {
      {false, false, 1.0f, 1.0f, {n}, true, true},      // Linear: bias
      {false, true, 1.0f, 1.0f, {1, n}, true, true},    // torch export: transB, bias
      {true, false, 0.5f, 2.0f, {m, 1}, true, false},   // column C, scaled
      {true, true, -1.5f, 0.25f, {m, n}, true, true},   // full C
      {false, false, 1.0f, 1.0f, {m, n}, true, false},  // full C as the addend
      {false, false, 2.0f, 3.0f, {}, true, false},      // scalar C
      {false, true, 1.0f, 1.0f, {}, false, false},      // no C
      {false, false, 1.0f, 0.0f, {m, n}, true, true},   // beta = 0: C ignored
  };
  uint32_t seed = 10;
  for (const GemmCase& g : cases) {
    const Tensor a = Random(g.trans_a ? Shape{k, m} : Shape{m, k}, seed++);
    const Tensor b = Random(g.trans_b ? Shape{n, k} : Shape{k, n}, seed++);
    const Tensor c = Random(g.c_shape, seed++);
    std::vector<double> expected;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          sum += At(a, g.trans_a ? std::vector<int64_t>{kk, i} : std::vector<int64_t>{i, kk}) *
                 At(b, g.trans_b ? std::vector<int64_t>{j, kk} : std::vector<int64_t>{kk, j});
        }
        expected.push_back(g.alpha * sum + (g.has_c ? g.beta * At(c, {i, j}) : 0.0));
      }
    }
    OpCall call;
    call.op_type = "Gemm";
    call.attrs = {{"transA", IntAttr(g.trans_a)},
                  {"transB", IntAttr(g.trans_b)},
                  {"alpha", FloatAttr(g.alpha)},
                  {"beta", FloatAttr(g.beta)}};
    call.inputs = {a, b};
    if (g.has_c) call.inputs.push_back(c);
    call.constant_at_load = {false, g.b_constant, true};
    ExpectNear(RunOp(call)[0], {m, n}, expected, 1e-5);
  }
}

TEST(GemmTest, Errors) {
  EXPECT_THROW(Run1("Gemm", {Random({3, 4}, 1), Random({5, 6}, 2)}), Error);
  EXPECT_THROW(Run1("Gemm", {Random({3, 4}, 1), Random({4, 6}, 2), Random({2, 6}, 3)}), Error);
  EXPECT_THROW(Run1("Gemm", {Random({2, 3, 4}, 1), Random({4, 6}, 2)}), Error);
  EXPECT_THROW(Run1("Gemm", {Random({3, 4}, 1), Random({6, 4}, 2)}, {{"transB", IntAttr(0)}}),
               Error);
}

// --- Conv ---------------------------------------------------------------------------------------

// Direct convolution; pads are {top, left, bottom, right}.
std::vector<double> ConvReference(const Tensor& x, const Tensor& w, const Tensor* bias,
                                  const Shape& out_shape, std::vector<int64_t> strides,
                                  std::vector<int64_t> pads, std::vector<int64_t> dilations,
                                  int64_t groups) {
  std::vector<double> out;
  const int64_t group_in = w.dim(1), group_out = w.dim(0) / groups;
  for (int64_t b = 0; b < out_shape[0]; ++b) {
    for (int64_t m = 0; m < out_shape[1]; ++m) {
      const int64_t g = m / group_out;
      for (int64_t oy = 0; oy < out_shape[2]; ++oy) {
        for (int64_t ox = 0; ox < out_shape[3]; ++ox) {
          double sum = bias != nullptr ? bias->data<float>()[m] : 0.0;
          for (int64_t c = 0; c < group_in; ++c) {
            for (int64_t ky = 0; ky < w.dim(2); ++ky) {
              for (int64_t kx = 0; kx < w.dim(3); ++kx) {
                const int64_t iy = oy * strides[0] - pads[0] + ky * dilations[0];
                const int64_t ix = ox * strides[1] - pads[1] + kx * dilations[1];
                if (iy < 0 || iy >= x.dim(2) || ix < 0 || ix >= x.dim(3)) continue;
                sum += At(x, {b, g * group_in + c, iy, ix}) * At(w, {m, c, ky, kx});
              }
            }
          }
          out.push_back(sum);
        }
      }
    }
  }
  return out;
}

Tensor RunConv(const Tensor& x, const Tensor& w, const Tensor* bias,
               std::map<std::string, Attribute> attrs, bool w_constant = true, int threads = 1) {
  OpCall c;
  c.op_type = "Conv";
  c.attrs = std::move(attrs);
  c.inputs = {x, w};
  if (bias != nullptr) c.inputs.push_back(*bias);
  c.constant_at_load = {false, w_constant, true};
  c.threads = threads;
  return RunOp(c)[0];
}

TEST(ConvTest, PatchEmbedding) {
  // ViT: kernel = stride = 16, no padding; 3 channels, a 32 x 48 image -> 2 x 3 patches.
  const Tensor x = Random({2, 3, 32, 48}, 1), w = Random({8, 3, 16, 16}, 2), b = Random({8}, 3);
  const std::map<std::string, Attribute> attrs = {{"kernel_shape", IntsAttr({16, 16})},
                                                  {"strides", IntsAttr({16, 16})},
                                                  {"pads", IntsAttr({0, 0, 0, 0})}};
  const Shape out_shape = {2, 8, 2, 3};
  const std::vector<double> expected =
      ConvReference(x, w, &b, out_shape, {16, 16}, {0, 0}, {1, 1}, 1);
  ExpectNear(RunConv(x, w, &b, attrs), out_shape, expected, 1e-5);
  ExpectNear(RunConv(x, w, &b, attrs, /*w_constant=*/false), out_shape, expected, 1e-5);
  EXPECT_EQ(Values<float>(RunConv(x, w, &b, attrs, true, 1)),
            Values<float>(RunConv(x, w, &b, attrs, true, 2)));
}

TEST(ConvTest, StridesPadsDilationsGroups) {
  const Tensor x = Random({2, 4, 9, 11}, 4), w = Random({6, 2, 3, 2}, 5), b = Random({6}, 6);
  const std::map<std::string, Attribute> attrs = {{"strides", IntsAttr({2, 1})},
                                                  {"pads", IntsAttr({1, 2, 0, 1})},
                                                  {"dilations", IntsAttr({2, 3})},
                                                  {"group", IntAttr(2)}};
  // Height: (9 + 1 + 0 - 5) / 2 + 1 = 3; width: (11 + 2 + 1 - 4) / 1 + 1 = 11.
  const Shape out_shape = {2, 6, 3, 11};
  ExpectNear(RunConv(x, w, &b, attrs), out_shape,
             ConvReference(x, w, &b, out_shape, {2, 1}, {1, 2}, {2, 3}, 2), 1e-5);
  ExpectNear(RunConv(x, w, nullptr, attrs, false), out_shape,
             ConvReference(x, w, nullptr, out_shape, {2, 1}, {1, 2}, {2, 3}, 2), 1e-5);
}

TEST(ConvTest, AutoPad) {
  const Tensor x = Random({1, 2, 7, 8}, 7), w = Random({3, 2, 3, 4}, 8);
  const std::map<std::string, Attribute> strides = {{"strides", IntsAttr({2, 3})}};
  // SAME: out = ceil(in / stride) = 4 x 3; total pads 2 (height) and 2 (width).
  auto with = [&](const char* mode) {
    std::map<std::string, Attribute> attrs = strides;
    attrs["auto_pad"] = StringAttr(mode);
    return attrs;
  };
  ExpectNear(RunConv(x, w, nullptr, with("SAME_UPPER")), {1, 3, 4, 3},
             ConvReference(x, w, nullptr, {1, 3, 4, 3}, {2, 3}, {1, 1}, {1, 1}, 1), 1e-5);
  ExpectNear(RunConv(x, w, nullptr, with("SAME_LOWER")), {1, 3, 4, 3},
             ConvReference(x, w, nullptr, {1, 3, 4, 3}, {2, 3}, {1, 1}, {1, 1}, 1), 1e-5);
  ExpectNear(RunConv(x, w, nullptr, with("VALID")), {1, 3, 3, 2},
             ConvReference(x, w, nullptr, {1, 3, 3, 2}, {2, 3}, {0, 0}, {1, 1}, 1), 1e-5);
  // Odd total padding: SAME_UPPER puts the extra row at the end, SAME_LOWER at the start.
  const Tensor x5 = Random({1, 1, 5, 5}, 9), w2 = Random({1, 1, 2, 2}, 10);
  ExpectNear(RunConv(x5, w2, nullptr, {{"auto_pad", StringAttr("SAME_UPPER")}}), {1, 1, 5, 5},
             ConvReference(x5, w2, nullptr, {1, 1, 5, 5}, {1, 1}, {0, 0}, {1, 1}, 1), 1e-5);
  ExpectNear(RunConv(x5, w2, nullptr, {{"auto_pad", StringAttr("SAME_LOWER")}}), {1, 1, 5, 5},
             ConvReference(x5, w2, nullptr, {1, 1, 5, 5}, {1, 1}, {1, 1}, {1, 1}, 1), 1e-5);
}

TEST(ConvTest, Errors) {
  const Tensor x = Random({1, 3, 8, 8}, 1);
  EXPECT_THROW(RunConv(x, Random({4, 2, 3, 3}, 2), nullptr, {}), Error);  // channels
  EXPECT_THROW(RunConv(x, Random({4, 3, 9, 9}, 2), nullptr, {}), Error);  // kernel too big
  EXPECT_THROW(RunConv(Random({1, 3, 8}, 1), Random({4, 3, 3}, 2), nullptr, {}), Error);  // 1-D
  const Tensor bias = Random({5}, 3);
  EXPECT_THROW(RunConv(x, Random({4, 3, 3, 3}, 2), &bias, {}), Error);
  EXPECT_THROW(RunConv(x, Random({4, 3, 3, 3}, 2), nullptr, {{"auto_pad", StringAttr("SAME")}}),
               Error);
}

// --- LayerNormalization, Softmax ----------------------------------------------------------------

TEST(LayerNormTest, AxesBiasAndStatistics) {
  const Tensor x = Random({2, 3, 4, 5}, 1, -3, 3);
  for (const int64_t axis : {-1, 2, -3}) {
    const int a = axis < 0 ? axis + 4 : static_cast<int>(axis);
    const Shape normalized(x.shape().begin() + a, x.shape().end());
    const Tensor scale = Random(normalized, 2, 0.5f, 1.5f), bias = Random(normalized, 3);
    const int64_t cols = NumElements(normalized), rows = x.size() / cols;
    std::vector<double> expected, means, inv_stds;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x.data<float>() + r * cols;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < cols; ++i) mean += row[i] / static_cast<double>(cols);
      for (int64_t i = 0; i < cols; ++i) var += (row[i] - mean) * (row[i] - mean) / cols;
      const double inv_std = 1 / std::sqrt(var + 1e-3);
      for (int64_t i = 0; i < cols; ++i) {
        expected.push_back((row[i] - mean) * inv_std * scale.data<float>()[i] +
                           bias.data<float>()[i]);
      }
      means.push_back(mean);
      inv_stds.push_back(inv_std);
    }
    OpCall c;
    c.op_type = "LayerNormalization";
    c.attrs = {{"axis", IntAttr(axis)}, {"epsilon", FloatAttr(1e-3f)}};
    c.inputs = {x, scale, bias};
    c.constant_at_load = {false, true, true};
    c.num_outputs = 3;
    const std::vector<Tensor> out = RunOp(c);
    Shape stats_shape(x.shape().begin(), x.shape().begin() + a);
    stats_shape.resize(4, 1);
    ExpectNear(out[0], x.shape(), expected, 1e-5);
    ExpectNear(out[1], stats_shape, means, 1e-5);
    ExpectNear(out[2], stats_shape, inv_stds, 1e-5);
  }
}

TEST(LayerNormTest, NoBiasAndBroadcastScale) {
  const Tensor x = Random({3, 4}, 4);
  const Tensor scale = F32({1}, {2.0f});
  const Tensor y = Run1("LayerNormalization", {x, scale}, {}, 17);
  const Tensor y_full = Run1("LayerNormalization", {x, F32({4}, {2, 2, 2, 2})}, {}, 17);
  EXPECT_EQ(Values<float>(y), Values<float>(y_full));
  EXPECT_THROW(Run1("LayerNormalization", {x, F32({3}, {1, 1, 1})}, {}, 17), Error);
  EXPECT_THROW(Run1("LayerNormalization", {x, scale}, {{"axis", IntAttr(2)}}, 17), Error);
}

std::vector<double> SoftmaxReference(const Tensor& x, int64_t outer, int64_t len, int64_t inner) {
  std::vector<double> out(static_cast<size_t>(x.size()));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* base = x.data<float>() + o * len * inner + i;
      double max = -INFINITY, sum = 0;
      for (int64_t l = 0; l < len; ++l) max = std::max<double>(max, base[l * inner]);
      for (int64_t l = 0; l < len; ++l) sum += std::exp(base[l * inner] - max);
      for (int64_t l = 0; l < len; ++l) {
        out[o * len * inner + l * inner + i] = std::exp(base[l * inner] - max) / sum;
      }
    }
  }
  return out;
}

TEST(SoftmaxTest, AxisSemanticsPerVersion) {
  const Tensor x = Random({2, 3, 4, 5}, 5, -4, 4);
  ExpectNear(Run1("Softmax", {x}), x.shape(), SoftmaxReference(x, 24, 5, 1), 1e-6);
  ExpectNear(Run1("Softmax", {x}, {{"axis", IntAttr(1)}}), x.shape(), SoftmaxReference(x, 2, 3, 20),
             1e-6);
  ExpectNear(Run1("Softmax", {x}, {{"axis", IntAttr(-2)}}), x.shape(), SoftmaxReference(x, 6, 4, 5),
             1e-6);
  // Softmax-11: flatten at axis (default 1) and normalise whole rows.
  ExpectNear(Run1("Softmax", {x}, {}, 11), x.shape(), SoftmaxReference(x, 2, 60, 1), 1e-6);
  ExpectNear(Run1("Softmax", {x}, {{"axis", IntAttr(2)}}, 11), x.shape(),
             SoftmaxReference(x, 6, 20, 1), 1e-6);
  EXPECT_THROW(Run1("Softmax", {x}, {{"axis", IntAttr(4)}}), Error);
}

// --- unary ops ----------------------------------------------------------------------------------

TEST(UnaryTest, FloatOpsMatchLibm) {
  const Tensor x = Random({3, 37}, 6, -4, 4);
  const Tensor positive = Random({3, 37}, 7, 0.01f, 9);
  struct Case {
    const char* op;
    double (*fn)(double);
    const Tensor* input;
  };
  const Case cases[] = {
      {"Erf", [](double v) { return std::erf(v); }, &x},
      {"Tanh", [](double v) { return std::tanh(v); }, &x},
      {"Sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }, &x},
      {"Relu", [](double v) { return v < 0 ? 0.0 : v; }, &x},
      {"Exp", [](double v) { return std::exp(v); }, &x},
      {"Neg", [](double v) { return -v; }, &x},
      {"Abs", [](double v) { return std::fabs(v); }, &x},
      {"Reciprocal", [](double v) { return 1 / v; }, &positive},
      {"Log", [](double v) { return std::log(v); }, &positive},
      {"Sqrt", [](double v) { return std::sqrt(v); }, &positive},
      {"Gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, &x},
  };
  for (const Case& c : cases) {
    std::vector<double> expected;
    for (float v : Values<float>(*c.input)) expected.push_back(c.fn(v));
    SCOPED_TRACE(c.op);
    ExpectNear(Run1(c.op, {*c.input}, {}, 20), c.input->shape(), expected, 1e-6);
  }
}

TEST(UnaryTest, GeluTanhAndIntegerOps) {
  const Tensor x = Random({50}, 8, -5, 5);
  std::vector<double> expected;
  for (float v : Values<float>(x)) {
    expected.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
  }
  ExpectNear(Run1("Gelu", {x}, {{"approximate", StringAttr("tanh")}}, 20), {50}, expected, 1e-6);
  EXPECT_THROW(Run1("Gelu", {x}, {{"approximate", StringAttr("fast")}}, 20), Error);
  EXPECT_EQ(Values<int64_t>(Run1("Neg", {Ints({3, -4, 0})})), (std::vector<int64_t>{-3, 4, 0}));
  EXPECT_EQ(Values<int64_t>(Run1("Abs", {Ints({3, -4, 0})})), (std::vector<int64_t>{3, 4, 0}));
  EXPECT_EQ(Values<int32_t>(Run1("Relu", {I32({2}, {-5, 5})})), (std::vector<int32_t>{0, 5}));
  EXPECT_THROW(Run1("Erf", {Ints({1})}), Error);
}

}  // namespace
}  // namespace qclip::test

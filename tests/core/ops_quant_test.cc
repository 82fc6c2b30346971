// The quantization ops through RunOp: hand values from the ONNX operator docs, naive int64
// references, and the fused QuantizedLinear against the unfused ORT chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>

#include "kernels/quantize.h"
#include "op_values.h"
#include "ops/quantized_linear.h"
#include "util/thread_pool.h"

namespace qclip::test {
namespace {

Tensor U8(Shape shape, const std::vector<uint8_t>& v) {
  return MakeTensor<uint8_t>(DType::kUInt8, std::move(shape), v);
}
Tensor S8(Shape shape, const std::vector<int8_t>& v) {
  return MakeTensor<int8_t>(DType::kInt8, std::move(shape), v);
}

// A tensor of `dtype` (int8 or uint8) with uniform random values in [lo, hi].
Tensor Random8(DType dtype, Shape shape, int lo, int hi, std::mt19937& rng) {
  Tensor t(dtype, std::move(shape));
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i) static_cast<uint8_t*>(t.raw())[i] = dist(rng);
  return t;
}

int32_t At8(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt8 ? t.data<int8_t>()[i] : t.data<uint8_t>()[i];
}

OpCall Call(const std::string& op, std::vector<Tensor> inputs, int num_outputs = 1) {
  OpCall c;
  c.op_type = op;
  c.inputs = std::move(inputs);
  c.num_outputs = num_outputs;
  return c;
}

// ------------------------------ DynamicQuantizeLinear

struct DqlResult {
  std::vector<uint8_t> y;
  float scale;
  uint8_t zero_point;
};

DqlResult RunDynamicQuantizeLinear(const Tensor& x, int threads = 1) {
  OpCall c = Call("DynamicQuantizeLinear", {x}, 3);
  c.threads = threads;
  const std::vector<Tensor> out = RunOp(c);
  EXPECT_EQ(out[0].shape(), x.shape());
  EXPECT_EQ(out[1].shape(), Shape{});
  return {Values<uint8_t>(out[0]), out[1].data<float>()[0], out[2].data<uint8_t>()[0]};
}

// The examples of the ONNX operator documentation.
TEST(DynamicQuantizeLinearTest, OnnxExamples) {
  DqlResult r = RunDynamicQuantizeLinear(F32({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f}));
  EXPECT_FLOAT_EQ(r.scale, 0.019607844f);
  EXPECT_EQ(r.zero_point, 153);
  EXPECT_EQ(r.y, (std::vector<uint8_t>{153, 255, 0, 26, 221, 179}));

  // All negative: the range is widened to include 0, the zero point goes to the top.
  r = RunDynamicQuantizeLinear(F32({6}, {-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f}));
  EXPECT_FLOAT_EQ(r.scale, 0.015686275f);
  EXPECT_EQ(r.zero_point, 255);
  EXPECT_EQ(r.y, (std::vector<uint8_t>{191, 121, 172, 96, 42, 0}));

  // All positive, 2-D.
  r = RunDynamicQuantizeLinear(
      F32({3, 4}, {1, 2.1f, 1.3f, 2.5f, 3.34f, 4.0f, 1.5f, 2.6f, 3.9f, 4.0f, 3.0f, 2.345f}));
  EXPECT_FLOAT_EQ(r.scale, 0.015686275f);
  EXPECT_EQ(r.zero_point, 0);
  EXPECT_EQ(r.y, (std::vector<uint8_t>{64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149}));
}

TEST(DynamicQuantizeLinearTest, AllZeroAndEmptyInputs) {
  // ORT: max == min -> scale 1 (no division by zero, no NaN), zero point 0.
  DqlResult r = RunDynamicQuantizeLinear(F32({2, 2}, {0, 0, -0.0f, 0}));
  EXPECT_EQ(r.scale, 1.0f);
  EXPECT_EQ(r.zero_point, 0);
  EXPECT_EQ(r.y, (std::vector<uint8_t>{0, 0, 0, 0}));
  r = RunDynamicQuantizeLinear(F32({0, 3}, {}));
  EXPECT_EQ(r.scale, 1.0f);
  EXPECT_EQ(r.zero_point, 0);
}

TEST(DynamicQuantizeLinearTest, LargeInputDoesNotDependOnThreads) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.5f, 2.0f);
  Tensor x(DType::kFloat32, {300, 1000});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = dist(rng);
  x.data<float>()[123456] = 40.0f;  // the max, in a later chunk
  const DqlResult one = RunDynamicQuantizeLinear(x, 1);
  const DqlResult two = RunDynamicQuantizeLinear(x, 2);
  EXPECT_EQ(one.y, two.y);
  EXPECT_EQ(one.scale, two.scale);
  float min = 0, max = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    min = std::min(min, x.data<float>()[i]);
    max = std::max(max, x.data<float>()[i]);
  }
  EXPECT_EQ(one.scale, (max - min) / 255.0f);
}

// ------------------------------ QuantizeLinear, DequantizeLinear

TEST(QuantizeLinearTest, PerTensorUint8AndInt8) {
  // ONNX example: y = saturate(round(x / 2) + 128), ties to even.
  Tensor x = F32({6}, {0, 2, 3, 1000, -254, -1000});
  EXPECT_EQ(Values<uint8_t>(Run1("QuantizeLinear", {x, F32({}, {2}), U8({}, {128})})),
            (std::vector<uint8_t>{128, 129, 130, 255, 1, 0}));
  EXPECT_EQ(Values<int8_t>(Run1("QuantizeLinear", {x, F32({}, {2}), S8({}, {-1})})),
            (std::vector<int8_t>{-1, 0, 1, 127, -128, -128}));
  // No zero point: uint8 with zero point 0.
  const Tensor y = Run1("QuantizeLinear", {F32({3}, {-1, 0.5f, 1.5f}), F32({}, {1})});
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(Values<uint8_t>(y), (std::vector<uint8_t>{0, 0, 2}));
}

TEST(QuantizeLinearTest, PerAxis) {
  // x [1, 3, 2], axis 1: one scale and zero point per channel.
  Tensor x = F32({1, 3, 2}, {-2, 4, 10, 12, 6, 8});
  OpCall c = Call("QuantizeLinear", {x, F32({3}, {2, 4, 2}), U8({3}, {84, 24, 196})});
  c.attrs["axis"] = IntAttr(1);
  EXPECT_EQ(Values<uint8_t>(RunOp(c)[0]), (std::vector<uint8_t>{83, 86, 26, 27, 199, 200}));
  c.opset = 10;  // per-axis parameters arrived in opset 13
  EXPECT_THROW(RunOp(c), Error);
}

TEST(DequantizeLinearTest, PerTensorAndPerAxis) {
  EXPECT_EQ(Values<float>(
                Run1("DequantizeLinear", {U8({4}, {0, 3, 128, 255}), F32({}, {2}), U8({}, {128})})),
            (std::vector<float>{-256, -250, 0, 254}));
  EXPECT_EQ(Values<float>(Run1("DequantizeLinear", {S8({3}, {-128, 0, 127}), F32({}, {0.5f})})),
            (std::vector<float>{-64, 0, 63.5f}));
  EXPECT_EQ(Values<float>(Run1("DequantizeLinear", {I32({2}, {-70000, 70000}), F32({}, {0.5f})})),
            (std::vector<float>{-35000, 35000}));
  // x [1, 3, 2], axis 1.
  OpCall c = Call("DequantizeLinear", {U8({1, 3, 2}, {3, 89, 34, 200, 74, 59}), F32({3}, {2, 4, 5}),
                                       U8({3}, {5, 1, 0})});
  EXPECT_EQ(Values<float>(RunOp(c)[0]), (std::vector<float>{-4, 168, 132, 796, 370, 295}));
}

// Int8 embedding tables: Gather of rows, then DequantizeLinear with a scalar scale and zero
// point, as ORT's quantize_dynamic writes them. Values round-trip through QuantizeLinear.
TEST(DequantizeLinearTest, RoundTripsQuantizeLinear) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-0.99f, 0.99f);
  Tensor x(DType::kFloat32, {4, 33});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = dist(rng);
  const Tensor scale = F32({}, {2.0f / 255}), zp = U8({}, {128});
  const Tensor q = Run1("QuantizeLinear", {x, scale, zp});
  const std::vector<float> back = Values<float>(Run1("DequantizeLinear", {q, scale, zp}));
  for (int64_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(back[i], x.data<float>()[i], 0.5f * 2.0f / 255 + 1e-6f);
  }
}

// Per-tensor parameters over more than one work chunk, on two threads.
TEST(DequantizeLinearTest, LargeTensorsAcrossChunks) {
  std::mt19937 rng(12);
  const Tensor q = Random8(DType::kUInt8, {3, 100001}, 0, 255, rng);
  OpCall c = Call("DequantizeLinear", {q, F32({}, {0.25f}), U8({}, {7})});
  c.threads = 2;
  const Tensor y = RunOp(c)[0];
  for (int64_t i = 0; i < q.size(); ++i) {
    ASSERT_EQ(y.data<float>()[i], (q.data<uint8_t>()[i] - 7) * 0.25f);
  }
  c = Call("QuantizeLinear", {y, F32({}, {0.25f}), U8({}, {7})});
  c.threads = 2;
  EXPECT_EQ(Values<uint8_t>(RunOp(c)[0]), Values<uint8_t>(q));
}

// ------------------------------ MatMulInteger

TEST(MatMulIntegerTest, OnnxExample) {
  const Tensor a = U8({4, 3}, {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0});
  const Tensor b = U8({3, 2}, {1, 4, 2, 5, 3, 6});
  for (bool b_constant : {false, true}) {
    OpCall c = Call("MatMulInteger", {a, b, U8({}, {12}), U8({}, {0})});
    c.constant_at_load = {false, b_constant, false, b_constant};
    const Tensor y = RunOp(c)[0];
    EXPECT_EQ(y.dtype(), DType::kInt32);
    EXPECT_EQ(y.shape(), (Shape{4, 2}));
    EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{-38, -83, -44, -98, -50, -113, -56, -128}));
  }
}

// Naive reference: batch-broadcast [.., M, K] x [.., K, N] with scalar or per-row / per-column
// zero points, in int64.
std::vector<int32_t> ReferenceMatMulInteger(const Tensor& a, const Tensor& b, const Tensor* a_zp,
                                            const Tensor* b_zp, int64_t batches, int64_t M,
                                            int64_t K, int64_t N, bool broadcast_a) {
  std::vector<int32_t> y;
  for (int64_t i = 0; i < batches; ++i) {
    const int64_t ai = broadcast_a ? 0 : i;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        const int64_t azp = a_zp == nullptr ? 0 : At8(*a_zp, a_zp->size() == 1 ? 0 : m);
        const int64_t bzp = b_zp == nullptr ? 0 : At8(*b_zp, b_zp->size() == 1 ? 0 : n);
        int64_t sum = 0;
        for (int64_t k = 0; k < K; ++k) {
          sum += (At8(a, (ai * M + m) * K + k) - azp) * (At8(b, (i * K + k) * N + n) - bzp);
        }
        y.push_back(static_cast<int32_t>(sum));
      }
    }
  }
  return y;
}

TEST(MatMulIntegerTest, MatchesReferenceForAllTypesAndZeroPoints) {
  std::mt19937 rng(3);
  const int64_t M = 13, K = 70, N = 67;
  for (DType a_type : {DType::kUInt8, DType::kInt8}) {
    for (DType b_type : {DType::kUInt8, DType::kInt8}) {
      const int a_lo = a_type == DType::kInt8 ? -128 : 0;
      const int b_lo = b_type == DType::kInt8 ? -128 : 0;
      const Tensor a = Random8(a_type, {M, K}, a_lo, a_lo + 255, rng);
      const Tensor b = Random8(b_type, {K, N}, b_lo, b_lo + 255, rng);
      const Tensor a_zps[] = {Random8(a_type, {}, a_lo, a_lo + 255, rng),
                              Random8(a_type, {M}, a_lo, a_lo + 255, rng)};
      const Tensor b_zps[] = {Random8(b_type, {1}, b_lo, b_lo + 255, rng),
                              Random8(b_type, {N}, b_lo, b_lo + 255, rng)};
      for (const Tensor& a_zp : a_zps) {
        for (const Tensor& b_zp : b_zps) {
          for (bool b_constant : {false, true}) {
            OpCall c = Call("MatMulInteger", {a, b, a_zp, b_zp});
            c.constant_at_load = {false, b_constant, false, b_constant};
            c.threads = 2;
            EXPECT_EQ(Values<int32_t>(RunOp(c)[0]),
                      ReferenceMatMulInteger(a, b, &a_zp, &b_zp, 1, M, K, N, false))
                << DTypeName(a_type) << " x " << DTypeName(b_type);
          }
        }
      }
    }
  }
}

TEST(MatMulIntegerTest, BatchBroadcastAndVectors) {
  std::mt19937 rng(4);
  // A [1, M, K] broadcast against B [3, K, N], no zero points.
  const Tensor a = Random8(DType::kUInt8, {1, 5, 9}, 0, 255, rng);
  const Tensor b = Random8(DType::kInt8, {3, 9, 4}, -128, 127, rng);
  const Tensor y = Run1("MatMulInteger", {a, b});
  EXPECT_EQ(y.shape(), (Shape{3, 5, 4}));
  EXPECT_EQ(Values<int32_t>(y), ReferenceMatMulInteger(a, b, nullptr, nullptr, 3, 5, 9, 4, true));
  // 1-D A: [K] x [K, N] -> [N].
  const Tensor v = Random8(DType::kUInt8, {9}, 0, 255, rng);
  const Tensor b2 = Random8(DType::kUInt8, {9, 4}, 0, 255, rng);
  const Tensor yv = Run1("MatMulInteger", {v, b2});
  EXPECT_EQ(yv.shape(), (Shape{4}));
  EXPECT_EQ(Values<int32_t>(yv),
            ReferenceMatMulInteger(v, b2, nullptr, nullptr, 1, 1, 9, 4, false));
  // Empty K: all zeros.
  EXPECT_EQ(Values<int32_t>(Run1("MatMulInteger", {U8({2, 0}, {}), U8({0, 3}, {})})),
            std::vector<int32_t>(6, 0));
  EXPECT_THROW(
      Run1("MatMulInteger", {U8({2, 3}, {1, 2, 3, 4, 5, 6}), U8({2, 3}, {1, 2, 3, 4, 5, 6})}),
      Error);
}

// ------------------------------ ConvInteger

TEST(ConvIntegerTest, OnnxExamples) {
  const Tensor x = U8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
  const Tensor w = U8({1, 1, 2, 2}, {1, 1, 1, 1});
  const Tensor y = Run1("ConvInteger", {x, w, U8({}, {1})});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{12, 16, 24, 28}));
  // Padding takes the zero point, so padded taps add nothing.
  const Tensor padded =
      Run1("ConvInteger", {x, w, U8({}, {1})}, {{"pads", IntsAttr({1, 1, 1, 1})}});
  EXPECT_EQ(padded.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(Values<int32_t>(padded),
            (std::vector<int32_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
}

struct ConvCase {
  int64_t batch, C, H, W, M, kh, kw, group;
  std::vector<int64_t> strides, pads, dilations;
  DType x_type, w_type;
  bool per_channel;
};

TEST(ConvIntegerTest, MatchesReference) {
  std::mt19937 rng(5);
  const ConvCase cases[] = {
      {1, 3, 16, 16, 8, 4, 4, 1, {4, 4}, {0, 0, 0, 0}, {1, 1}, DType::kUInt8, DType::kInt8, false},
      {2, 4, 7, 9, 6, 3, 2, 2, {2, 1}, {1, 0, 2, 1}, {2, 1}, DType::kInt8, DType::kUInt8, true},
      {1, 2, 5, 5, 4, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, DType::kUInt8, DType::kUInt8, true},
  };
  for (const ConvCase& cc : cases) {
    const int x_lo = cc.x_type == DType::kInt8 ? -128 : 0;
    const int w_lo = cc.w_type == DType::kInt8 ? -128 : 0;
    const Tensor x = Random8(cc.x_type, {cc.batch, cc.C, cc.H, cc.W}, x_lo, x_lo + 255, rng);
    const Tensor w =
        Random8(cc.w_type, {cc.M, cc.C / cc.group, cc.kh, cc.kw}, w_lo, w_lo + 255, rng);
    const Tensor x_zp = Random8(cc.x_type, {}, x_lo, x_lo + 255, rng);
    const Tensor w_zp = Random8(cc.w_type, {cc.per_channel ? cc.M : 1}, w_lo, w_lo + 255, rng);
    for (bool w_constant : {false, true}) {
      OpCall c = Call("ConvInteger", {x, w, x_zp, w_zp});
      c.constant_at_load = {false, w_constant, false, w_constant};
      c.attrs = {{"strides", IntsAttr(cc.strides)},
                 {"pads", IntsAttr(cc.pads)},
                 {"dilations", IntsAttr(cc.dilations)},
                 {"group", IntAttr(cc.group)}};
      const Tensor y = RunOp(c)[0];
      const int64_t out_h =
          (cc.H + cc.pads[0] + cc.pads[2] - (cc.kh - 1) * cc.dilations[0] - 1) / cc.strides[0] + 1;
      const int64_t out_w =
          (cc.W + cc.pads[1] + cc.pads[3] - (cc.kw - 1) * cc.dilations[1] - 1) / cc.strides[1] + 1;
      ASSERT_EQ(y.shape(), (Shape{cc.batch, cc.M, out_h, out_w}));
      const int64_t Cg = cc.C / cc.group, Mg = cc.M / cc.group;
      for (int64_t n = 0; n < cc.batch; ++n) {
        for (int64_t m = 0; m < cc.M; ++m) {
          const int64_t g = m / Mg;
          const int64_t wzp = At8(w_zp, cc.per_channel ? m : 0);
          for (int64_t oy = 0; oy < out_h; ++oy) {
            for (int64_t ox = 0; ox < out_w; ++ox) {
              int64_t sum = 0;
              for (int64_t c2 = 0; c2 < Cg; ++c2) {
                for (int64_t i = 0; i < cc.kh; ++i) {
                  for (int64_t j = 0; j < cc.kw; ++j) {
                    const int64_t iy = oy * cc.strides[0] - cc.pads[0] + i * cc.dilations[0];
                    const int64_t ix = ox * cc.strides[1] - cc.pads[1] + j * cc.dilations[1];
                    if (iy < 0 || iy >= cc.H || ix < 0 || ix >= cc.W) continue;
                    const int64_t xv = At8(x, ((n * cc.C + g * Cg + c2) * cc.H + iy) * cc.W + ix);
                    const int64_t wv = At8(w, ((m * Cg + c2) * cc.kh + i) * cc.kw + j);
                    sum += (xv - At8(x_zp, 0)) * (wv - wzp);
                  }
                }
              }
              ASSERT_EQ(y.data<int32_t>()[((n * cc.M + m) * out_h + oy) * out_w + ox], sum)
                  << "n=" << n << " m=" << m << " oy=" << oy << " ox=" << ox;
            }
          }
        }
      }
    }
  }
}

TEST(ConvIntegerTest, AutoPadSame) {
  const Tensor x = U8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
  const Tensor w = U8({1, 1, 2, 2}, {1, 1, 1, 1});
  // SAME_UPPER pads the end: the 2x2 windows starting at every pixel.
  const Tensor y =
      Run1("ConvInteger", {x, w, U8({}, {1})}, {{"auto_pad", StringAttr("SAME_UPPER")}});
  EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{12, 16, 9, 24, 28, 15, 15, 17, 9}));
}

// ------------------------------ QuantizedLinear

// A QuantizedLinear problem: X [2, 5, K] with an outlier channel and token, W [K, N] of the
// given dtype with per-tensor or per-column scale and zero point, bias [N].
struct LinearCase {
  Tensor x, w, w_scale, w_zp, bias;
};

LinearCase MakeLinearCase(DType w_type, bool per_channel, std::mt19937& rng, int64_t K = 70,
                          int64_t N = 100) {
  LinearCase lc;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  lc.x = Tensor(DType::kFloat32, {2, 5, K});
  for (int64_t i = 0; i < lc.x.size(); ++i) lc.x.data<float>()[i] = normal(rng);
  for (int64_t t = 0; t < 10; ++t) lc.x.data<float>()[t * K + 3] *= 4.0f;  // outlier channel
  for (int64_t k = 0; k < K; ++k) lc.x.data<float>()[7 * K + k] *= 6.0f;   // outlier token
  const int lo = w_type == DType::kInt8 ? -128 : 0;
  lc.w = Random8(w_type, {K, N}, lo, lo + 255, rng);
  const int64_t params = per_channel ? N : 1;
  lc.w_scale = Tensor(DType::kFloat32, per_channel ? Shape{N} : Shape{});
  for (int64_t i = 0; i < params; ++i) lc.w_scale.data<float>()[i] = 0.002f + 0.001f * (i % 7);
  lc.w_zp = Random8(w_type, per_channel ? Shape{N} : Shape{}, lo + 100, lo + 155, rng);
  lc.bias = Tensor(DType::kFloat32, {N});
  for (int64_t i = 0; i < N; ++i) lc.bias.data<float>()[i] = 0.1f * normal(rng);
  return lc;
}

// Runs a QuantizedLinear node of `outputs` products on inputs `in` (X, then W, w_scale,
// w_zero_point and optionally bias per product) as the interpreter does (RunOp has no
// KernelInit options): all but X constant at load, the kernel prepared for `mode`.
std::vector<Tensor> RunQuantizedLinearNode(const std::vector<const Tensor*>& in, size_t outputs,
                                           Int8Activations mode, bool exact, int threads) {
  Node node;
  node.name = "QuantizedLinear_test";
  node.op_type = "QuantizedLinear";
  node.domain = "qclip";
  for (size_t i = 0; i < in.size(); ++i) {
    node.inputs.push_back(static_cast<int>(i));
  }
  for (size_t p = 0; p < outputs; ++p) {
    node.outputs.push_back(static_cast<int>(in.size() + p));
  }
  const OpSchema* schema = BuiltinOps().Find("qclip", "QuantizedLinear", 1);
  KernelInit init{node, schema->since_version, {}};
  init.int8_activations = mode;
  for (size_t i = 0; i < in.size(); ++i) {
    init.constants.push_back(i == 0 ? nullptr : in[i]);
  }
  const std::unique_ptr<OpKernel> kernel = schema->make(init);
  std::vector<Tensor> meta(outputs);
  kernel->Infer(in, &meta);
  std::vector<Tensor> y;
  y.reserve(meta.size());
  for (const Tensor& m : meta) {
    y.emplace_back(m.dtype(), m.shape());
  }
  std::vector<Tensor*> out;
  out.reserve(y.size());
  for (Tensor& t : y) {
    out.push_back(&t);
  }
  ThreadPool pool(threads);
  RunContext ctx{&pool, exact};
  RunUnplanned(*kernel, in, out, ctx);
  return y;
}

// One product: W, its scale and zero point and the bias of `lc`.
Tensor RunQuantizedLinear(const LinearCase& lc, Int8Activations mode, bool exact = false,
                          bool with_bias = true, int threads = 1) {
  std::vector<const Tensor*> in = {&lc.x, &lc.w, &lc.w_scale, &lc.w_zp};
  if (with_bias) {
    in.push_back(&lc.bias);
  }
  return std::move(RunQuantizedLinearNode(in, 1, mode, exact, threads)[0]);
}

// Exact mode, as the interpreter sets it up (RunContext::exact).
Tensor RunQuantizedLinear(const LinearCase& lc, bool exact, bool with_bias = true,
                          int threads = 1) {
  return RunQuantizedLinear(lc, exact ? Int8Activations::kPerTensor : Int8Activations::kBlockwise,
                            exact, with_bias, threads);
}

// ORT's unfused graph, with our DynamicQuantizeLinear and MatMulInteger and the float tail
// written out: Cast(int32 -> float), Mul by Mul(x_scale, w_scale), Add(bias).
std::vector<float> UnfusedChain(const LinearCase& lc, bool with_bias) {
  const std::vector<Tensor> q = RunOp(Call("DynamicQuantizeLinear", {lc.x}, 3));
  const Tensor acc = Run1("MatMulInteger", {q[0], lc.w, q[2], lc.w_zp});
  const float x_scale = q[1].data<float>()[0];
  const int64_t N = lc.w.dim(1);
  std::vector<float> y(static_cast<size_t>(acc.size()));
  for (int64_t i = 0; i < acc.size(); ++i) {
    const int64_t n = i % N;
    const float scale = x_scale * lc.w_scale.data<float>()[lc.w_scale.size() == 1 ? 0 : n];
    const float product = static_cast<float>(acc.data<int32_t>()[i]) * scale;
    y[i] = with_bias ? product + lc.bias.data<float>()[n] : product;
  }
  return y;
}

// The float32 result with dequantized weights: what the quantized op approximates.
std::vector<float> Float32Linear(const LinearCase& lc) {
  const int64_t K = lc.w.dim(0), N = lc.w.dim(1), rows = lc.x.size() / K;
  std::vector<float> y(static_cast<size_t>(rows * N));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t n = 0; n < N; ++n) {
      const int64_t p = lc.w_scale.size() == 1 ? 0 : n;
      double sum = lc.bias.data<float>()[n];
      for (int64_t k = 0; k < K; ++k) {
        const double w =
            (At8(lc.w, k * N + n) - At8(lc.w_zp, p)) * double{lc.w_scale.data<float>()[p]};
        sum += lc.x.data<float>()[r * K + k] * w;
      }
      y[r * N + n] = static_cast<float>(sum);
    }
  }
  return y;
}

TEST(QuantizedLinearTest, ExactModeMatchesUnfusedChainBitForBit) {
  std::mt19937 rng(6);
  for (DType w_type : {DType::kInt8, DType::kUInt8}) {
    for (bool per_channel : {false, true}) {
      for (bool with_bias : {false, true}) {
        const LinearCase lc = MakeLinearCase(w_type, per_channel, rng);
        const Tensor y = RunQuantizedLinear(lc, /*exact=*/true, with_bias);
        ASSERT_EQ(y.shape(), (Shape{2, 5, 100}));
        const std::vector<float> expected = UnfusedChain(lc, with_bias);
        ASSERT_EQ(0, std::memcmp(y.data<float>(), expected.data(), y.bytes()))
            << DTypeName(w_type) << " per_channel=" << per_channel << " bias=" << with_bias;
      }
    }
  }
}

// Golden outputs of ONNX Runtime 1.30 (onnxruntime-node, CPU, default optimizations, which
// fuse the chain into MatMulIntegerToFloat) for X [4, 13] -> DynamicQuantizeLinear ->
// MatMulInteger(W [13, 6]) -> Cast -> Mul(x_scale * w_scale) -> Add(bias): QUInt8 per tensor
// and QInt8 per column. The inputs are exact float formulas, reproduced here.
TEST(QuantizedLinearTest, ExactModeMatchesOnnxRuntimeGolden) {
  const int64_t R = 4, K = 13, N = 6;
  Tensor x(DType::kFloat32, {R, K});
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t k = 0; k < K; ++k) {
      float v = static_cast<float>((r * 7 + k * 13) % 23 - 11) * 0.173f;
      x.data<float>()[r * K + k] = k == 3 ? v * 4.0f : v;  // an outlier channel
    }
  }
  Tensor bias(DType::kFloat32, {N});
  for (int64_t n = 0; n < N; ++n) bias.data<float>()[n] = static_cast<float>(n - 2) * 0.05f;
  Tensor w_u8(DType::kUInt8, {K, N}), w_s8(DType::kInt8, {K, N});
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) {
      w_u8.data<uint8_t>()[k * N + n] = static_cast<uint8_t>((k * 31 + n * 17 + 5) % 256);
      w_s8.data<int8_t>()[k * N + n] = static_cast<int8_t>((k * 31 + n * 17 + 5) % 256 - 128);
    }
  }
  const LinearCase cases[] = {
      {x, w_u8, F32({}, {0.0031f}), U8({}, {131}), bias},
      {x, w_s8, F32({N}, {0.0021f, 0.0035f, 0.0012f, 0.0048f, 0.0027f, 0.0019f}),
       S8({N}, {0, 0, 0, 0, 0, 0}), bias},
  };
  const std::vector<uint32_t> ort[] = {
      {0x3fc963c3, 0x3fcc34c3, 0x3e74c9ca, 0x3ecc3ab0, 0x3f559a0e, 0x3f7e84f4,
       0x3f0c73c0, 0xbf5722df, 0xbee00b6d, 0xbf395516, 0xbfd9887e, 0xbffe302f,
       0xbf6ce52f, 0x3d92cc80, 0xbe9e8182, 0xbed49284, 0x3f7ed035, 0x3f63c7b4,
       0x3ec3cb25, 0x3f1902cd, 0xbf10b908, 0xbef9c968, 0x3e104cfa, 0x3e5f9e46},
      {0x3f85fa15, 0x3fea2ea2, 0x3dcce122, 0x3f1ec6cf, 0x3f41aa47, 0x3f2de6c2,
       0x3e992f96, 0xbf81334c, 0xbe44fba8, 0xbf9ec1e3, 0xbfc26e2a, 0xbf99046e,
       0xbf2d7f51, 0x3d66eca9, 0xbe059935, 0xbf3679c8, 0x3f5b1d72, 0x3f1629d0,
       0x3e6b9902, 0x3f2fce73, 0xbe5e2a87, 0xbf467b5e, 0x3e0f3740, 0x3e478e3c},
  };
  for (int i = 0; i < 2; ++i) {
    const Tensor y = RunQuantizedLinear(cases[i], /*exact=*/true);
    ASSERT_EQ(y.size(), R * N);
    for (int64_t j = 0; j < y.size(); ++j) {
      uint32_t bits;
      std::memcpy(&bits, y.data<float>() + j, 4);
      EXPECT_EQ(bits, ort[i][j]) << "case " << i << " element " << j;
    }
    const std::vector<float> unfused = UnfusedChain(cases[i], true);
    EXPECT_EQ(0, std::memcmp(y.data<float>(), unfused.data(), y.bytes()));
  }
}

// Max |error| relative to max |y| of the float32 result.
double RelativeError(const Tensor& y, const std::vector<float>& reference) {
  double max_error = 0.0, max_abs = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    max_error = std::max(max_error, std::fabs(double{y.data<float>()[i]} - reference[i]));
    max_abs = std::max(max_abs, std::fabs(double{reference[i]}));
  }
  return max_error / max_abs;
}

// The block-wise formula of kernels/gemm_s8.h written out: each block of 32 values of a row
// quantized as DynamicQuantizeLinear would quantize it alone, exact integer block sums, then
// y = (sum_b s_b * float(C_b)) * w_scale + bias in that order.
std::vector<float> BlockwiseLinear(const LinearCase& lc) {
  const int64_t K = lc.w.dim(0), N = lc.w.dim(1), rows = lc.x.size() / K;
  std::vector<float> y(static_cast<size_t>(rows * N));
  std::vector<uint8_t> q(static_cast<size_t>(K));
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = lc.x.data<float>() + r * K;
    std::vector<QuantParams> params;
    for (int64_t begin = 0; begin < K; begin += 32) {
      const int64_t len = std::min<int64_t>(32, K - begin);
      const QuantParams p = DynamicQuantParamsU8(*std::min_element(x + begin, x + begin + len),
                                                 *std::max_element(x + begin, x + begin + len));
      QuantizeU8(x + begin, static_cast<size_t>(len), p.scale, p.zero_point, q.data() + begin);
      params.push_back(p);
    }
    for (int64_t n = 0; n < N; ++n) {
      const int64_t c = lc.w_scale.size() == 1 ? 0 : n;
      float acc = 0.0f;
      for (int64_t begin = 0, b = 0; begin < K; begin += 32, ++b) {
        int64_t sum = 0;
        for (int64_t k = begin; k < std::min<int64_t>(K, begin + 32); ++k) {
          sum += (q[k] - params[b].zero_point) * int64_t{At8(lc.w, k * N + n) - At8(lc.w_zp, c)};
        }
        const float product = params[b].scale * static_cast<float>(sum);
        acc = acc + product;
      }
      const float scaled = acc * lc.w_scale.data<float>()[c];
      y[r * N + n] = scaled + lc.bias.data<float>()[n];
    }
  }
  return y;
}

TEST(QuantizedLinearTest, BlockwiseModeMatchesItsFormulaBitForBit) {
  std::mt19937 rng(10);
  for (DType w_type : {DType::kInt8, DType::kUInt8}) {
    for (bool per_channel : {false, true}) {
      for (int64_t K : {31, 70, 200}) {
        LinearCase lc = MakeLinearCase(w_type, per_channel, rng, K, 100);
        // Random weight zero points, then ORT's symmetric ones (0 for int8, 128 for uint8: 0
        // as packed), for which the kernel skips the blocks' sums of values.
        for (const bool symmetric : {false, true}) {
          if (symmetric) {
            for (int64_t i = 0; i < lc.w_zp.size(); ++i) {
              if (w_type == DType::kInt8) {
                lc.w_zp.data<int8_t>()[i] = 0;
              } else {
                lc.w_zp.data<uint8_t>()[i] = 128;
              }
            }
          }
          const Tensor y = RunQuantizedLinear(lc, Int8Activations::kBlockwise);
          const std::vector<float> expected = BlockwiseLinear(lc);
          ASSERT_EQ(0, std::memcmp(y.data<float>(), expected.data(), y.bytes()))
              << DTypeName(w_type) << " per_channel=" << per_channel << " K=" << K
              << " symmetric=" << symmetric;
        }
      }
    }
  }
}

TEST(QuantizedLinearTest, FloatModeIsTheFloat32Product) {
  std::mt19937 rng(11);
  for (DType w_type : {DType::kInt8, DType::kUInt8}) {
    const LinearCase lc = MakeLinearCase(w_type, /*per_channel=*/true, rng);
    EXPECT_LT(RelativeError(RunQuantizedLinear(lc, Int8Activations::kFloat), Float32Linear(lc)),
              1e-6);
  }
}

TEST(QuantizedLinearTest, BlockwiseModeIsCloserToFloat32) {
  std::mt19937 rng(7);
  for (DType w_type : {DType::kInt8, DType::kUInt8}) {
    const LinearCase lc = MakeLinearCase(w_type, /*per_channel=*/true, rng);
    const std::vector<float> reference = Float32Linear(lc);
    const double blockwise = RelativeError(RunQuantizedLinear(lc, /*exact=*/false), reference);
    const double per_tensor = RelativeError(RunQuantizedLinear(lc, /*exact=*/true), reference);
    EXPECT_LT(blockwise, 0.01);
    EXPECT_LT(blockwise, per_tensor);  // the outlier token and channel no longer coarsen the rest
  }
}

// A row's result depends on that row alone: computed with the others or by itself, the same bits.
TEST(QuantizedLinearTest, BlockwiseRowsAreIndependent) {
  std::mt19937 rng(12);
  const LinearCase lc = MakeLinearCase(DType::kInt8, false, rng, 70, 100);
  const Tensor all = RunQuantizedLinear(lc, Int8Activations::kBlockwise);
  for (int64_t row : {0, 7, 9}) {
    LinearCase one = lc;
    one.x = Tensor(DType::kFloat32, {1, 70});
    std::memcpy(one.x.data<float>(), lc.x.data<float>() + row * 70, 70 * sizeof(float));
    const Tensor y = RunQuantizedLinear(one, Int8Activations::kBlockwise);
    EXPECT_EQ(0, std::memcmp(y.data<float>(), all.data<float>() + row * 100, y.bytes()))
        << "row " << row;
  }
}

// kFloat and kPerTensor kernels, and a kernel built for kBlockwise but run in exact mode.
TEST(QuantizedLinearTest, ModesAndExactMode) {
  std::mt19937 rng(13);
  const LinearCase lc = MakeLinearCase(DType::kUInt8, true, rng);
  const Tensor per_tensor = RunQuantizedLinear(lc, Int8Activations::kPerTensor);
  const Tensor exact = RunQuantizedLinear(lc, Int8Activations::kBlockwise, /*exact=*/true);
  EXPECT_EQ(0, std::memcmp(per_tensor.data<float>(), exact.data<float>(), exact.bytes()));
  const std::vector<float> unfused = UnfusedChain(lc, true);
  EXPECT_EQ(0, std::memcmp(per_tensor.data<float>(), unfused.data(), per_tensor.bytes()));
}

TEST(QuantizedLinearTest, ResultsDoNotDependOnThreads) {
  std::mt19937 rng(8);
  const LinearCase lc = MakeLinearCase(DType::kUInt8, false, rng, 200, 300);
  for (Int8Activations mode :
       {Int8Activations::kBlockwise, Int8Activations::kPerTensor, Int8Activations::kFloat}) {
    const Tensor one = RunQuantizedLinear(lc, mode, false, true, 1);
    const Tensor two = RunQuantizedLinear(lc, mode, false, true, 2);
    EXPECT_EQ(0, std::memcmp(one.data<float>(), two.data<float>(), one.bytes()));
  }
}

// One node with a product per case, all reading cases[0].x (MergeQuantizedLinears' form: inputs
// X, then W, w_scale, w_zero_point, bias of each product); its outputs.
std::vector<Tensor> RunMergedQuantizedLinear(const std::vector<LinearCase>& cases,
                                             Int8Activations mode, bool exact, int threads) {
  std::vector<const Tensor*> in = {&cases[0].x};
  for (const LinearCase& lc : cases) {
    for (const Tensor* t : {&lc.w, &lc.w_scale, &lc.w_zp, &lc.bias}) {
      in.push_back(t);
    }
  }
  return RunQuantizedLinearNode(in, cases.size(), mode, exact, threads);
}

// A merged node's products run as one pass over the pool, their panels side by side: widths
// that are not whole panels (100 = 64 + 36, 5) and a whole one, each output what a node of its
// own gives, in every mode, at 1 to 3 threads, on AMX tiles (K = 128) and vector tiles (K = 70).
TEST(QuantizedLinearTest, MergedProductsMatchSeparateNodes) {
  for (int64_t K : {70, 128}) {
    std::mt19937 rng(static_cast<unsigned>(K));
    std::vector<LinearCase> cases;
    for (int64_t N : {100, 64, 5}) {
      cases.push_back(MakeLinearCase(N == 64 ? DType::kInt8 : DType::kUInt8, N != 5, rng, K, N));
      cases.back().x = cases[0].x;
    }
    for (Int8Activations mode :
         {Int8Activations::kBlockwise, Int8Activations::kPerTensor, Int8Activations::kFloat}) {
      for (int threads : {1, 2, 3}) {
        SCOPED_TRACE("K " + std::to_string(K) + ", mode " + std::to_string(static_cast<int>(mode)) +
                     ", threads " + std::to_string(threads));
        const std::vector<Tensor> merged = RunMergedQuantizedLinear(cases, mode, false, threads);
        ASSERT_EQ(merged.size(), cases.size());
        for (size_t p = 0; p < cases.size(); ++p) {
          const Tensor alone = RunQuantizedLinear(cases[p], mode, false, true, threads);
          ASSERT_EQ(merged[p].shape(), alone.shape());
          EXPECT_EQ(0, std::memcmp(merged[p].data<float>(), alone.data<float>(), alone.bytes()))
              << "product " << p;
        }
      }
    }
  }
}

TEST(QuantizedLinearTest, RejectsRuntimeWeightsAndBadShapes) {
  std::mt19937 rng(9);
  const LinearCase lc = MakeLinearCase(DType::kInt8, false, rng);
  OpCall c = Call("QuantizedLinear", {lc.x, lc.w, lc.w_scale});
  c.domain = "qclip";
  c.opset = 1;
  c.constant_at_load = {false, false, true};
  EXPECT_THROW(RunOp(c), Error);
  c.constant_at_load = {false, true, true};
  c.inputs[0] = F32({2, 3}, {1, 2, 3, 4, 5, 6});  // K = 3, W has K = 70
  EXPECT_THROW(RunOp(c), Error);
}

// Packing at load spreads the panels over the session's threads; the packed bytes, column sums
// and block terms are those of packing on one thread (N not a whole number of panels, K not of
// blocks, both weight types).
TEST(QuantizedWeightsTest, PackingInParallelGivesTheSameBytes) {
  std::mt19937 rng(10);
  std::uniform_int_distribution<int> byte(0, 255);
  ThreadPool pool(3);
  for (DType dtype : {DType::kInt8, DType::kUInt8}) {
    for (const auto& [K, N] : {std::pair<size_t, size_t>{100, 1000}, {768, 200}, {4, 3}}) {
      std::vector<uint8_t> w(K * N);
      for (uint8_t& v : w) v = static_cast<uint8_t>(byte(rng));
      std::vector<int32_t> zps(N);
      for (int32_t& z : zps) z = dtype == DType::kInt8 ? byte(rng) - 128 : byte(rng);
      const QuantizedWeights one =
          QuantizedWeights::Pack(dtype, w.data(), K, N, N, 1, zps, true, nullptr, nullptr);
      const QuantizedWeights many =
          QuantizedWeights::Pack(dtype, w.data(), K, N, N, 1, zps, true, nullptr, &pool);
      std::vector<int8_t> whole(PackedWeightsS8Size(K, N));  // the kernel's own packing
      PackWeightsS8(reinterpret_cast<const int8_t*>(w.data()), K, N, N, 1, whole.data(),
                    dtype == DType::kUInt8 ? 0x80 : 0);
      ASSERT_EQ(one.packed.bytes(), static_cast<int64_t>(whole.size()));
      EXPECT_EQ(0, std::memcmp(one.packed.raw(), whole.data(), whole.size()));
      ASSERT_EQ(one.packed.bytes(), many.packed.bytes());
      EXPECT_EQ(0, std::memcmp(one.packed.raw(), many.packed.raw(), one.packed.bytes()));
      ASSERT_EQ(one.block_terms.bytes(), many.block_terms.bytes());
      EXPECT_EQ(
          0, std::memcmp(one.block_terms.raw(), many.block_terms.raw(), one.block_terms.bytes()));
      EXPECT_EQ(one.column_sums, many.column_sums);
      EXPECT_EQ(one.zero_points, many.zero_points);
    }
  }
}

}  // namespace
}  // namespace qclip::test

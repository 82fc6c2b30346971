// qclip.Attention against a plain reference on materialised operands, for the layouts the
// exporters produce (Q, K, V split out of one packed projection and transposed; an output
// transpose) and for operands strided in both matrix dims; and the FuseAttention pass on the
// fixture models: every layer fused, outputs within float rounding of the unfused graph.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "graph/passes.h"
#include "onnx/loader.h"
#include "op_test_util.h"
#include "qclip/qclip.h"
#include "tower_fixtures.h"

namespace qclip {
namespace {

using test::IntAttr;
using test::IntsAttr;
using test::MakeTensor;
using test::OpCall;
using test::RunOp;

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// out[l][s][e] = softmax_t(sum_d q[l][s][d] * kt[l][d][t] * scale + mask[l][s][t]) . v[l][t][e],
// in double.
std::vector<double> Reference(int64_t L, int64_t S, int64_t D, int64_t T, int64_t E,
                              const std::function<double(int64_t, int64_t, int64_t)>& q,
                              const std::function<double(int64_t, int64_t, int64_t)>& kt,
                              const std::function<double(int64_t, int64_t, int64_t)>& v,
                              const std::function<double(int64_t, int64_t, int64_t)>& mask,
                              double scale) {
  std::vector<double> out(static_cast<size_t>(L * S * E));
  std::vector<double> p(static_cast<size_t>(T));
  for (int64_t l = 0; l < L; ++l) {
    for (int64_t s = 0; s < S; ++s) {
      double max = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t t = 0; t < T; ++t) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += q(l, s, d) * kt(l, d, t);
        p[t] = dot * scale + mask(l, s, t);
        max = std::max(max, p[t]);
      }
      for (int64_t t = 0; t < T; ++t) sum += (p[t] = std::exp(p[t] - max));
      for (int64_t e = 0; e < E; ++e) {
        double acc = 0;
        for (int64_t t = 0; t < T; ++t) acc += p[t] / sum * v(l, t, e);
        out[(l * S + s) * E + e] = acc;
      }
    }
  }
  return out;
}

// The vision tower's layout: qkv [B, S, 3, H, D] -> Transpose(2, 0, 3, 1, 4) -> Split(axis 0)
// -> Squeeze(0) per operand, Kᵀ by one more Transpose(0, 1, 3, 2), Q and Kᵀ each scaled, the
// output transposed to [B, S, H, D]; a [B, 1, 1, T] mask.
TEST(Attention, PackedProjectionLayoutMatchesReference) {
  for (const auto& [B, S, H, D] : std::vector<std::array<int64_t, 4>>{
           {1, 1, 1, 1}, {1, 5, 2, 3}, {2, 49, 3, 8}, {1, 197, 2, 16}}) {
    const Shape qkv_shape = {B, S, 3, H, D};
    const std::vector<float> qkv = Random(static_cast<size_t>(B * S * 3 * H * D), 7);
    const std::vector<float> mask = Random(static_cast<size_t>(B * S), 8);
    const float q_scale = 0.5f, kt_scale = 0.25f, score_scale = 2.0f;
    auto views = [](int64_t index, bool transpose_last) {
      std::vector<int64_t> v = {0, 5, 2, 0, 3, 1, 4, 1, 3, 0, index, 3, 2, 1, 0};
      if (transpose_last) v.insert(v.end(), {0, 4, 0, 1, 3, 2});
      return v;
    };
    for (int threads : {1, 2}) {
      OpCall c;
      c.op_type = "Attention";
      c.domain = "qclip";
      c.opset = 1;
      c.threads = threads;
      c.attrs["q_views"] = IntsAttr(views(0, false));
      c.attrs["kt_views"] = IntsAttr(views(1, true));
      c.attrs["v_views"] = IntsAttr(views(2, false));
      c.attrs["out_perm"] = IntsAttr({0, 2, 1, 3});
      c.attrs["divide_scores"] = IntAttr(1);
      c.inputs = {MakeTensor(DType::kFloat32, qkv_shape, qkv),
                  MakeTensor(DType::kFloat32, qkv_shape, qkv),
                  MakeTensor(DType::kFloat32, qkv_shape, qkv),
                  MakeTensor(DType::kFloat32, {B, 1, 1, S}, mask),
                  MakeTensor(DType::kFloat32, {}, std::vector<float>{q_scale}),
                  MakeTensor(DType::kFloat32, {1}, std::vector<float>{kt_scale}),
                  MakeTensor(DType::kFloat32, {}, std::vector<float>{score_scale})};
      c.constant_at_load = {false, false, false, false, true, true, true};
      const Tensor y = RunOp(c)[0];
      ASSERT_EQ(y.shape(), (Shape{B, S, H, D}));
      const auto at = [&](int64_t l, int64_t s, int64_t which, int64_t d) {
        const int64_t b = l / H, h = l % H;
        return static_cast<double>(qkv[(((b * S + s) * 3 + which) * H + h) * D + d]);
      };
      const std::vector<double> want = Reference(
          B * H, S, D, S, D, [&](int64_t l, int64_t s, int64_t d) { return at(l, s, 0, d); },
          [&](int64_t l, int64_t d, int64_t t) { return at(l, t, 1, d); },
          [&](int64_t l, int64_t t, int64_t e) { return at(l, t, 2, e); },
          [&](int64_t l, int64_t, int64_t t) { return static_cast<double>(mask[l / H * S + t]); },
          q_scale * kt_scale / score_scale);
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t s = 0; s < S; ++s) {
          for (int64_t h = 0; h < H; ++h) {
            for (int64_t d = 0; d < D; ++d) {
              const float got = y.data<float>()[((b * S + s) * H + h) * D + d];
              ASSERT_NEAR(got, want[((b * H + h) * S + s) * D + d], 2e-5)
                  << "B=" << B << " S=" << S << " H=" << H << " D=" << D;
            }
          }
        }
      }
    }
  }
}

// Operands whose matrix dims are both strided (copied before the products), no mask, and the
// thread count changes no bit.
TEST(Attention, StridedOperandsAndThreadCountIndependence) {
  const int64_t L = 3, S = 13, D = 5, T = 11, E = 7;
  const std::vector<float> q = Random(static_cast<size_t>(L * S * D), 1);
  const std::vector<float> k = Random(static_cast<size_t>(T * L * D * 2), 2);  // [T, L, D, 2]
  const std::vector<float> v = Random(static_cast<size_t>(L * T * E), 3);
  std::vector<float> first;
  for (int threads : {1, 2, 3}) {
    OpCall c;
    c.op_type = "Attention";
    c.domain = "qclip";
    c.opset = 1;
    c.threads = threads;
    // k [T, L, D, 2] -> Split(axis 3, index 1) -> Squeeze(3) -> Transpose(1, 2, 0) = Kᵀ [L, D, T]
    c.attrs["kt_views"] = IntsAttr({1, 3, 3, 1, 2, 2, 1, 3, 0, 3, 1, 2, 0});
    c.inputs = {MakeTensor(DType::kFloat32, {L, S, D}, q),
                MakeTensor(DType::kFloat32, {T, L, D, 2}, k),
                MakeTensor(DType::kFloat32, {L, T, E}, v)};
    const Tensor y = RunOp(c)[0];
    ASSERT_EQ(y.shape(), (Shape{L, S, E}));
    const std::vector<double> want = Reference(
        L, S, D, T, E,
        [&](int64_t l, int64_t s, int64_t d) {
          return static_cast<double>(q[(l * S + s) * D + d]);
        },
        [&](int64_t l, int64_t d, int64_t t) {
          return static_cast<double>(k[((t * L + l) * D + d) * 2 + 1]);
        },
        [&](int64_t l, int64_t t, int64_t e) {
          return static_cast<double>(v[(l * T + t) * E + e]);
        },
        [](int64_t, int64_t, int64_t) { return 0.0; }, 1.0);
    const std::vector<float> got(y.data<float>(), y.data<float>() + y.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 2e-5) << i;
    if (first.empty()) first = got;
    EXPECT_EQ(got, first) << threads << " threads";
  }
}

TEST(Attention, MismatchedOperandsAreRefused) {
  OpCall c;
  c.op_type = "Attention";
  c.domain = "qclip";
  c.opset = 1;
  c.inputs = {MakeTensor(DType::kFloat32, {2, 4, 3}, Random(24, 1)),
              MakeTensor(DType::kFloat32, {2, 5, 4}, Random(40, 2)),
              MakeTensor(DType::kFloat32, {2, 4, 6}, Random(48, 3))};
  try {
    RunOp(c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not chain"), std::string::npos) << e.what();
  }
}

// A file can hold a qclip.Attention node itself: malformed view lists are refused, never read
// out of bounds.
TEST(Attention, MalformedViewsAreRefused) {
  const std::vector<std::pair<std::vector<int64_t>, const char*>> cases = {
      {{0, 3, 0, 0, 2}, "repeated"},                // Transpose perm repeating an axis
      {{0, 2, 0, 1}, "does not fit"},               // perm of the wrong rank
      {{1, 3, 0, -1, 2}, "malformed Split"},        // negative index
      {{1, 3, 0, 2, 2}, "malformed Split"},         // index past the outputs
      {{1, 5, 0, 0, 2, -1, 3}, "malformed Split"},  // negative size
      {{1, 5, 0, 0, 2, 1, 0}, "do not add up"},     // sizes do not cover the axis
      {{2, -5, 0}, "malformed view list"},          // negative record length
      {{2, 9, 0}, "malformed view list"},           // record past the end
      {{7, 0}, "unknown view kind"},
  };
  for (const auto& [views, needle] : cases) {
    OpCall c;
    c.op_type = "Attention";
    c.domain = "qclip";
    c.opset = 1;
    c.attrs["q_views"] = IntsAttr(views);
    c.inputs = {MakeTensor(DType::kFloat32, {2, 4, 3}, Random(24, 1)),
                MakeTensor(DType::kFloat32, {2, 3, 4}, Random(24, 2)),
                MakeTensor(DType::kFloat32, {2, 4, 6}, Random(48, 3))};
    try {
      RunOp(c);
      ADD_FAILURE() << "expected an error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

// The fixture towers: one qclip.Attention per layer and no Softmax left; FP32 outputs within
// float rounding of the unfused graph (and fixtures_test holds every model to ORT's outputs).
TEST(Attention, FixtureModelsAreFusedAndAgreeWithTheUnfusedGraph) {
  const std::filesystem::path models = test::FixtureModels();
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    const std::filesystem::path dir = models / c.dir;
    for (const char* file : {"fp32.onnx", "int8_qint8.onnx"}) {
      SCOPED_TRACE(std::string(c.dir) + "/" + file);
      Graph g = LoadOnnxModel((dir / file).string());
      RunGraphPasses(g);
      RemoveDeadNodes(g);
      int attention = 0, softmax = 0;
      for (const Node& n : g.nodes) {
        attention += n.domain == "qclip" && n.op_type == "Attention";
        softmax += n.op_type == "Softmax";
      }
      EXPECT_GE(attention, 2);
      EXPECT_EQ(softmax, 0);

      // INT8 graphs unfused also lose the fused QuantizedLinear and its activation scheme, so
      // only the FP32 ones compare like for like.
      if (std::string(file) != "fp32.onnx") continue;
      const Tensor input = ReadNpy((dir / c.file).string());
      SessionOptions fused, unfused;
      unfused.fuse = false;
      const Tensor a = Session::Load((dir / file).string(), fused)->Run({{c.input, input}})[0];
      const Tensor b = Session::Load((dir / file).string(), unfused)->Run({{c.input, input}})[0];
      ASSERT_EQ(a.shape(), b.shape());
      for (int64_t i = 0; i < a.size(); ++i) {
        ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-5) << i;
      }
    }
  }
}

}  // namespace
}  // namespace qclip

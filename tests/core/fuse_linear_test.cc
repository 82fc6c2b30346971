// FuseLinear: MatMul by a constant weight followed by the Add of a constant [N] bias becomes one
// qclip.Linear (bias, and GELU through FuseLinearActivation, in the GEMM's epilogue). The fixture
// FP32 towers lose every such pair and the Gelu after each; their outputs stay within float
// rounding of the unfused graph (the bias now starts each sum instead of ending it) and keep
// the same bits at any thread count. Malformed qclip.Linear nodes are refused with a clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "graph/interpreter.h"
#include "graph/passes.h"
#include "onnx/loader.h"
#include "qclip/qclip.h"
#include "tower_fixtures.h"

namespace qclip {
namespace {

// RunGraphPasses without FuseLinear.
void RunPassesButLinear(Graph& g) {
  FuseLayerNorm(g);
  FuseGelu(g);
  FuseQuantizedLinear(g);
  FuseLinearActivation(g);
  FuseAttention(g);
}

int CountOps(const Graph& g, const std::string& op, const std::string& activation = "") {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
    return n.op_type == op && n.GetString("activation", "") == activation;
  }));
}

Tensor RunGraph(const Graph& g, const Tensor& input, int threads) {
  InterpreterOptions options;
  options.fuse = false;  // the graphs are already rewritten
  options.threads = threads;
  return Interpreter(g, options).Run({input})[0];
}

TEST(FuseLinear, FixtureTowersBecomeLinearNodes) {
  const std::filesystem::path models = test::FixtureModels();
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    SCOPED_TRACE(c.dir);
    const auto [separate, fused] = test::LoadWithAndWithoutPass(c, "fp32.onnx", RunPassesButLinear);
    // Every product with a constant weight has a bias in these towers (the projection heads
    // excepted: bias-free Linear layers stay MatMul nodes).
    const int linear = CountOps(fused, "Linear") + CountOps(fused, "Linear", "gelu");
    const int gelu = CountOps(separate, "Gelu");
    EXPECT_GE(linear, 4);
    EXPECT_EQ(CountOps(fused, "MatMul") + linear, CountOps(separate, "MatMul"));
    EXPECT_EQ(CountOps(fused, "Add") + linear, CountOps(separate, "Add"));
    // Each layer's GELU goes into its Linear; the text head's follows a bias-free MatMul.
    EXPECT_GE(CountOps(fused, "Linear", "gelu"), 2);
    EXPECT_EQ(CountOps(fused, "Linear", "gelu") + CountOps(fused, "Gelu"), gelu);

    const Tensor input = ReadNpy((models / c.dir / c.file).string());
    const Tensor want = RunGraph(separate, input, 1);
    const Tensor got = RunGraph(fused, input, 1);
    ASSERT_EQ(want.shape(), got.shape());
    // L2-normalized embeddings: a few float32 roundings apart.
    for (int64_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(want.data<float>()[i], got.data<float>()[i], 2e-6f) << i;
    }
    for (int threads : {2, 3}) {
      const Tensor again = RunGraph(fused, input, threads);
      for (int64_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got.data<float>()[i], again.data<float>()[i]) << threads << " threads, " << i;
      }
    }
  }
}

// Changes the first qclip.Linear node with `edit` and expects loading to fail naming `what`.
template <typename Edit>
void ExpectEditRefused(const Edit& edit, const std::string& what) {
  const std::filesystem::path models = test::FixtureModels();
  const test::TowerFixture& c = test::kTowerFixtures[0];
  Graph g = LoadOnnxModel((models / c.dir / "fp32.onnx").string());
  RunGraphPasses(g);
  const auto it = std::find_if(g.nodes.begin(), g.nodes.end(),
                               [](const Node& n) { return n.op_type == "Linear"; });
  ASSERT_NE(it, g.nodes.end());
  edit(g, *it);
  test::ExpectRefused(g, what);
}

TEST(FuseLinear, MalformedNodesAreRefused) {
  ExpectEditRefused(
      [](Graph&, Node& n) {
        n.attrs["activation"].type = Attribute::Type::kString;
        n.attrs["activation"].s = "swish";
      },
      "swish");
  ExpectEditRefused([](Graph&, Node& n) { n.inputs.pop_back(); }, "bias");
  ExpectEditRefused([](Graph&, Node& n) { n.inputs[2] = n.inputs[1]; }, "bias must be");
  ExpectEditRefused([](Graph&, Node& n) { n.inputs[1] = n.inputs[0]; }, "weight");
}

}  // namespace
}  // namespace qclip

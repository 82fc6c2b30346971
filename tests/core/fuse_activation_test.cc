// FuseLinearActivation: a Gelu reading only a qclip.QuantizedLinear becomes the product's
// activation attribute, applied to each output tile inside the product's tasks. The fixture INT8
// towers lose every such Gelu, and their outputs keep the same bits in every activation mode and
// at 1 and 2 threads; a QuantizedLinear node with an unknown activation is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "graph/interpreter.h"
#include "graph/passes.h"
#include "onnx/loader.h"
#include "qclip/qclip.h"
#include "tower_fixtures.h"

namespace qclip {
namespace {

// RunGraphPasses without FuseLinearActivation.
void RunPassesButActivation(Graph& g) {
  FuseLayerNorm(g);
  FuseGelu(g);
  FuseQuantizedLinear(g);
  FuseAttention(g);
}

struct Counts {
  int gelu = 0;
  int fused = 0;  // QuantizedLinear with an activation
};

Counts Count(const Graph& g) {
  Counts c;
  for (const Node& n : g.nodes) {
    c.gelu += n.op_type == "Gelu";
    c.fused += n.op_type == "QuantizedLinear" && n.GetString("activation", "") == "gelu";
  }
  return c;
}

TEST(FuseLinearActivation, FixtureTowersLoseTheirGeluAndKeepTheirBits) {
  const std::filesystem::path models = test::FixtureModels();
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    SCOPED_TRACE(c.dir);
    const auto [separate, fused] =
        test::LoadWithAndWithoutPass(c, "int8_qint8.onnx", RunPassesButActivation);
    const Counts before = Count(separate), after = Count(fused);
    EXPECT_GE(before.gelu, 2);
    EXPECT_EQ(after.gelu, 0);
    EXPECT_EQ(after.fused, before.gelu);

    test::ExpectSameBits(separate, fused, ReadNpy((models / c.dir / c.file).string()));
  }
}

TEST(FuseLinearActivation, UnknownActivationIsRefused) {
  const std::filesystem::path models = test::FixtureModels();
  const test::TowerFixture& c = test::kTowerFixtures[0];
  Graph g = LoadOnnxModel((models / c.dir / "int8_qint8.onnx").string());
  RunGraphPasses(g);
  bool changed = false;
  for (Node& n : g.nodes) {
    if (n.op_type != "QuantizedLinear" || changed) continue;
    n.attrs["activation"].type = Attribute::Type::kString;
    n.attrs["activation"].s = "swish";
    changed = true;
  }
  ASSERT_TRUE(changed);
  test::ExpectRefused(g, "swish");
}

}  // namespace
}  // namespace qclip

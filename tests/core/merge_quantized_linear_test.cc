// MergeQuantizedLinears: qclip.QuantizedLinear nodes reading the same X with the same activation
// (each attention layer's Q, K and V) become one node with an output per product, which
// quantizes X once. The fixture INT8 towers keep their bits in every activation mode and at 1 and
// 2 threads; nodes that differ stay apart; malformed merged nodes are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "graph/interpreter.h"
#include "graph/passes.h"
#include "onnx/loader.h"
#include "qclip/qclip.h"
#include "tower_fixtures.h"

namespace qclip {
namespace {

// Outputs of the QuantizedLinear nodes, keyed by their node's output count.
std::map<size_t, int> OutputCounts(const Graph& g) {
  std::map<size_t, int> counts;
  for (const Node& n : g.nodes) {
    if (n.op_type == "QuantizedLinear") ++counts[n.outputs.size()];
  }
  return counts;
}

// Model `file` of tower `c` after RunGraphPasses, twice (MergeQuantizedLinears is not one of
// them: the tests apply it to one copy).
test::PassPair LoadFused(const test::TowerFixture& c, const char* file) {
  return test::LoadWithAndWithoutPass(c, file, RunGraphPasses);
}

// The text tower (HF BERT: separate query, key and value Linears) gets one 3-output node per
// layer; the vision tower (timm's ViT: one qkv Linear) has nothing to merge and stays as it was.
TEST(MergeQuantizedLinears, FixtureTowersQuantizeEachInputOnceAndKeepTheirBits) {
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    const bool text = std::string(c.input) == "input_ids";
    for (const char* file : {"int8_qint8.onnx", "int8_quint8.onnx"}) {
      if (!std::filesystem::exists(test::FixtureModels() / c.dir / file)) continue;
      SCOPED_TRACE(std::string(c.dir) + "/" + file);
      auto [separate, merged] = LoadFused(c, file);
      MergeQuantizedLinears(merged);
      const std::map<size_t, int> before = OutputCounts(separate), after = OutputCounts(merged);
      ASSERT_EQ(before.size(), 1u);
      if (!text) {
        EXPECT_EQ(after, before);
        continue;
      }
      // Per layer: Q, K and V merged; the output projection and the two MLP products alone.
      ASSERT_EQ(after.size(), 2u) << "expected nodes of 1 and 3 outputs";
      const int layers = after.at(3);
      EXPECT_GE(layers, 2);
      EXPECT_EQ(after.at(1) + 3 * layers, before.at(1));
      // No two nodes left that could be merged.
      std::map<std::pair<int, std::string>, int> readers;
      for (const Node& n : merged.nodes) {
        if (n.op_type == "QuantizedLinear") {
          const std::pair<int, std::string> key(n.inputs[0], n.GetString("activation", ""));
          EXPECT_EQ(++readers[key], 1) << n.name;
        }
      }
      test::ExpectSameBits(separate, merged,
                           ReadNpy((test::FixtureModels() / c.dir / c.file).string()));
    }
  }
}

const test::TowerFixture& TextTower() { return test::kTowerFixtures[1]; }

TEST(MergeQuantizedLinears, NodesThatDifferStayApart) {
  const test::TowerFixture& c = TextTower();
  auto [separate, merged] = LoadFused(c, "int8_qint8.onnx");
  // The first layer's K product (the second of the three reading one X) gets an activation.
  int seen = 0;
  for (Graph* g : {&separate, &merged}) {
    std::map<int, int> by_input;
    for (Node& n : g->nodes) {
      if (n.op_type == "QuantizedLinear" && ++by_input[n.inputs[0]] == 2) {
        n.attrs["activation"].type = Attribute::Type::kString;
        n.attrs["activation"].s = "gelu";
        ++seen;
        break;
      }
    }
  }
  ASSERT_EQ(seen, 2);
  MergeQuantizedLinears(merged);
  const std::map<size_t, int> counts = OutputCounts(merged);
  EXPECT_EQ(counts.at(2), 1);  // Q and V of the first layer
  EXPECT_GE(counts.at(3), 1);  // the other layers
  test::ExpectSameBits(separate, merged,
                       ReadNpy((test::FixtureModels() / c.dir / c.file).string()));
}

TEST(MergeQuantizedLinears, MalformedMergedNodesAreRefused) {
  const test::TowerFixture& c = TextTower();
  Graph g = LoadFused(c, "int8_qint8.onnx").separate;
  MergeQuantizedLinears(g);
  Node* merged = nullptr;
  int other_k = -1;  // a W whose K differs from the merged products' (the MLP's second product)
  for (Node& n : g.nodes) {
    if (n.op_type != "QuantizedLinear") continue;
    if (n.outputs.size() == 3 && merged == nullptr) merged = &n;
    if (n.outputs.size() == 1 && merged != nullptr && other_k < 0 &&
        g.values[n.inputs[1]].constant.dim(0) != g.values[merged->inputs[1]].constant.dim(0)) {
      other_k = n.inputs[1];
    }
  }
  ASSERT_NE(merged, nullptr);
  ASSERT_GE(other_k, 0);

  Graph short_inputs = g;
  for (Node& n : short_inputs.nodes) {
    if (n.name == merged->name) n.inputs.pop_back();
  }
  test::ExpectRefused(short_inputs, "expected 13 inputs for 3 output(s), got 12");

  Graph mixed_k = g;
  for (Node& n : mixed_k.nodes) {
    if (n.name == merged->name) n.inputs[5] = other_k;  // the second product's W
  }
  test::ExpectRefused(mixed_k, "the products of one node need the same K");
}

}  // namespace
}  // namespace qclip

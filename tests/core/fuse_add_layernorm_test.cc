// FuseAddLayerNorm: an Add whose sum one LayerNormalization over the last axis normalises
// becomes a qclip.AddLayerNorm that also outputs the sum for its other readers. The fixture
// towers (pre-LN ViT: the sum is the residual stream, read again; post-LN BERT: it is not) lose
// every such pair and keep their bits in every activation mode and at 1 and 2 threads; sums
// that broadcast are made before the normalisation, with the same bits as the two ops.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "graph/interpreter.h"
#include "graph/passes.h"
#include "onnx/loader.h"
#include "op_test_util.h"
#include "qclip/qclip.h"
#include "tower_fixtures.h"

namespace qclip {
namespace {

struct Counts {
  int layer_norms = 0;
  int after_add = 0;  // LayerNormalization nodes that normalise an Add's output
  int fused = 0;      // qclip.AddLayerNorm
};

Counts Count(const Graph& g) {
  const ValueUses uses(g);
  Counts c;
  for (const Node& n : g.nodes) {
    c.fused += n.op_type == "AddLayerNorm";
    if (n.op_type != "LayerNormalization") continue;
    ++c.layer_norms;
    const int producer = uses.producer[n.inputs[0]];
    c.after_add += producer >= 0 && g.nodes[producer].op_type == "Add";
  }
  return c;
}

TEST(FuseAddLayerNorm, FixtureTowersFuseEveryPairAndKeepTheirBits) {
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    for (const char* file : {"int8_qint8.onnx", "fp32.onnx"}) {
      const std::filesystem::path path = test::FixtureModels() / c.dir / file;
      if (!std::filesystem::exists(path)) continue;
      SCOPED_TRACE(std::string(c.dir) + "/" + file);
      // As the interpreter rewrites them, with and without this pass (its last).
      Graph separate = LoadOnnxModel(path.string());
      RunGraphPasses(separate);
      MergeQuantizedLinears(separate);
      Graph fused = separate;
      FuseAddLayerNorm(fused);
      const Counts before = Count(separate), after = Count(fused);
      EXPECT_GE(before.after_add, 4);  // two per layer at least
      EXPECT_EQ(after.fused, before.after_add);
      EXPECT_EQ(after.layer_norms, before.layer_norms - before.after_add);
      test::ExpectSameBits(separate, fused,
                           ReadNpy((test::FixtureModels() / c.dir / c.file).string()));
    }
  }
}

// Add then LayerNormalization, as two ops.
std::vector<Tensor> Unfused(const Tensor& a, const Tensor& b, const Tensor& scale,
                            const Tensor& bias) {
  test::OpCall add{"Add", "", 14, {}, {a, b}, {}, 1};
  const Tensor sum = test::RunOp(add)[0];
  test::OpCall ln{"LayerNormalization", "", 17, {}, {sum, scale, bias}, {false, true, true}, 1};
  ln.attrs["epsilon"] = test::FloatAttr(1e-6f);
  return {test::RunOp(ln)[0], sum};
}

std::vector<Tensor> Fused(const Tensor& a, const Tensor& b, const Tensor& scale, const Tensor& bias,
                          int threads) {
  test::OpCall c{
      "AddLayerNorm", "qclip", 1, {}, {a, b, scale, bias}, {false, false, true, true}, 2};
  c.attrs["epsilon"] = test::FloatAttr(1e-6f);
  c.threads = threads;
  return test::RunOp(c);
}

Tensor Random(Shape shape, uint32_t seed) {
  Tensor t(DType::kFloat32, std::move(shape));
  uint32_t x = seed;
  for (int64_t i = 0; i < t.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data<float>()[i] = static_cast<float>(x >> 8) / 8388608.0f - 1.0f;
  }
  return t;
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

TEST(AddLayerNormOp, EqualsAddThenLayerNormalizationForEveryBroadcast) {
  const Tensor a = Random({2, 3, 40}, 1);
  const Tensor scale = Random({40}, 2), bias = Random({40}, 3);
  for (const Shape& b_shape : {Shape{2, 3, 40}, Shape{40}, Shape{2, 1, 40}, Shape{3, 1}}) {
    SCOPED_TRACE(ShapeToString(b_shape));
    const Tensor b = Random(b_shape, 4);
    const std::vector<Tensor> want = Unfused(a, b, scale, bias);
    for (int threads : {1, 2}) {
      const std::vector<Tensor> got = Fused(a, b, scale, bias, threads);
      EXPECT_TRUE(SameBits(got[0], want[0]));
      EXPECT_TRUE(SameBits(got[1], want[1]));
      const std::vector<Tensor> swapped = Fused(b, a, scale, bias, threads);  // b + a
      EXPECT_TRUE(SameBits(swapped[0], want[0]));
    }
  }
}

TEST(AddLayerNormOp, RefusesParametersOfAnotherWidth) {
  const Tensor a = Random({2, 8}, 1), b = Random({2, 8}, 2);
  try {
    Fused(a, b, Random({7}, 3), Random({8}, 4), 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Scale"), std::string::npos) << e.what();
  }
  try {
    Fused(a, Random({3, 8}, 5), Random({8}, 3), Random({8}, 4), 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be broadcast"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qclip

// SelectRowsEarly on the fixture towers: the pooled CLS row is selected before the last layer's
// row-wise ops, and the embeddings are bit-identical to the graph without that rewrite (FP32 and
// INT8 with block-wise activations); with per-tensor activations (exact mode) QuantizedLinear
// couples the rows, so the rewrite stops before it.
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

int CountSelections(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.name.find("/select_row0") != std::string::npos;
  return n;
}

TEST(SelectRowsEarly, FixtureTowersGiveTheSameBits) {
  const std::filesystem::path models = test::FixtureModels();
  for (const test::TowerFixture& c : test::kTowerFixtures) {
    for (const char* file : {"fp32.onnx", "int8_qint8.onnx"}) {
      SCOPED_TRACE(std::string(c.dir) + "/" + file);
      const std::string path = (models / c.dir / file).string();
      Graph fused = LoadOnnxModel(path);
      RunGraphPasses(fused);
      Graph selected = fused;
      SelectRowsEarly(selected, /*quantized_rows_independent=*/true);
      EXPECT_GT(CountSelections(selected), 0) << "the rewrite did not apply";
      Graph per_tensor = fused;
      SelectRowsEarly(per_tensor, /*quantized_rows_independent=*/false);

      const Tensor input = ReadNpy((models / c.dir / c.file).string());
      InterpreterOptions options;
      options.fuse = false;  // the graphs are already rewritten
      const Tensor want = Interpreter(fused, options).Run({input})[0];
      const Tensor got = Interpreter(selected, options).Run({input})[0];
      ASSERT_EQ(want.shape(), got.shape());
      for (int64_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(want.data<float>()[i], got.data<float>()[i]) << i;
      }
      if (std::string(file) != "fp32.onnx") {
        options.int8_activations = Int8Activations::kPerTensor;
        const Tensor exact = Interpreter(fused, options).Run({input})[0];
        const Tensor exact_selected = Interpreter(per_tensor, options).Run({input})[0];
        for (int64_t i = 0; i < exact.size(); ++i) {
          ASSERT_EQ(exact.data<float>()[i], exact_selected.data<float>()[i]) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace qclip

// The compact fixture towers of tests/data/models that graph-pass tests run end to end: one
// vision and one text tower, each with an input batch.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "graph/interpreter.h"
#include "graph/ir.h"
#include "graph/passes.h"
#include "onnx/loader.h"

namespace qclip::test {

struct TowerFixture {
  const char* dir;    // under tests/data/models
  const char* input;  // the graph input's name
  const char* file;   // its .npy, in dir
};

inline constexpr TowerFixture kTowerFixtures[] = {
    {"biomedclip_vision_tiny_legacy_op17", "pixel_values", "images_b4.in.pixel_values.npy"},
    {"biomedclip_text_tiny_pubmedvocab_legacy_op18", "input_ids", "padded256_b8.in.input_ids.npy"},
};

inline std::filesystem::path FixtureModels() {
  return std::filesystem::path(QCLIP_TEST_DATA) / "models";
}

// Model `file` of tower `c` loaded twice: rewritten by `passes` (every pass but the one under
// test) and by RunGraphPasses.
struct PassPair {
  Graph separate, fused;
};
inline PassPair LoadWithAndWithoutPass(const TowerFixture& c, const char* file,
                                       void (*passes)(Graph&)) {
  const std::string path = (FixtureModels() / c.dir / file).string();
  PassPair p{LoadOnnxModel(path), LoadOnnxModel(path)};
  passes(p.separate);
  RunGraphPasses(p.fused);
  return p;
}

// `separate` and `fused` (both already rewritten) give the same bits for `input` in every INT8
// activation mode, at 1 and 2 threads.
inline void ExpectSameBits(const Graph& separate, const Graph& fused, const Tensor& input) {
  for (Int8Activations mode :
       {Int8Activations::kBlockwise, Int8Activations::kPerTensor, Int8Activations::kFloat}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE("mode " + std::to_string(static_cast<int>(mode)) + ", threads " +
                   std::to_string(threads));
      InterpreterOptions options;
      options.fuse = false;
      options.int8_activations = mode;
      options.threads = threads;
      const Tensor want = Interpreter(separate, options).Run({input})[0];
      const Tensor got = Interpreter(fused, options).Run({input})[0];
      ASSERT_EQ(want.shape(), got.shape());
      for (int64_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(want.data<float>()[i], got.data<float>()[i]) << i;
      }
    }
  }
}

// Making an interpreter of the already rewritten `g` fails with an error that names `what`.
inline void ExpectRefused(const Graph& g, const std::string& what) {
  InterpreterOptions options;
  options.fuse = false;
  try {
    Interpreter interpreter(g, options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

}  // namespace qclip::test

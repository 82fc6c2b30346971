// Fuzzes model loading end to end: the ONNX protobuf parser and loader (initializers, external
// data, Constant nodes, topological sort), the interpreter's preparation (float16 promotion,
// load-time folding, fusion passes, kernel construction), planning for one set of input shapes
// (shape inference and constant folding) and a run on small inputs.
//
// Any bytes must end in outputs or a qclip::Error. External data is looked up in a folder made
// at start-up that holds one 4 KiB file, weights.bin, which the seed models point into.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "graph/interpreter.h"
#include "onnx/loader.h"
#include "qclip/error.h"
#include "qclip/tensor.h"

namespace {

// Graph inputs with more elements than this are not run (the model is still parsed and
// prepared): the run would only measure the kernels' speed under ASan.
constexpr int64_t kMaxInputElements = int64_t{1} << 16;

// The external-data folder: weights.bin holds the floats 0, 1/64, 2/64, ... (4 KiB).
const std::string& DataDir() {
  static const std::string dir = [] {
    const std::filesystem::path d = std::filesystem::temp_directory_path() /
                                    ("qclip_load_model_fuzzer_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::ofstream f(d / "weights.bin", std::ios::binary);
    for (int i = 0; i < 1024; ++i) {
      const float v = static_cast<float>(i) / 64.0f;
      f.write(reinterpret_cast<const char*>(&v), sizeof(v));
    }
    return d.string();
  }();
  return dir;
}

// A symbolic dim's size, the same for every input that names it: 1 to 4.
int64_t SymbolicDim(const std::string& name) {
  return 1 + static_cast<int64_t>(std::hash<std::string>{}(name) % 4);
}

// Small, varied values that are valid token ids, masks and indices for the seed models.
qclip::Tensor MakeInput(const qclip::Value& v) {
  qclip::Shape shape;
  for (size_t d = 0; d < v.shape.size(); ++d) {
    shape.push_back(v.shape[d] >= 0 ? v.shape[d] : SymbolicDim(v.dim_names[d]));
  }
  if (qclip::NumElements(shape) > kMaxInputElements) throw qclip::Error("input too large to run");
  qclip::Tensor t(v.dtype, shape);
  for (int64_t i = 0; i < t.size(); ++i) {
    const int small = static_cast<int>(i % 3);
    switch (v.dtype) {
      case qclip::DType::kFloat32:
        t.data<float>()[i] = std::sin(static_cast<float>(i)) * 2.0f;
        break;
      case qclip::DType::kFloat16:
        t.data<uint16_t>()[i] = static_cast<uint16_t>(0x3C00 + 0x100 * small);  // 1, 1.25, 1.5
        break;
      case qclip::DType::kInt64:
        t.data<int64_t>()[i] = small;
        break;
      case qclip::DType::kInt32:
        t.data<int32_t>()[i] = small;
        break;
      case qclip::DType::kInt8:
      case qclip::DType::kUInt8:
      case qclip::DType::kBool:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(i % 2);
        break;
      case qclip::DType::kUndefined:
        break;
    }
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    qclip::Graph graph = qclip::ParseOnnxModel(data, size, "fuzz.onnx", DataDir());
    // The mode from the input's size, so that both run; fusion on most of the time.
    qclip::InterpreterOptions options;
    options.threads = 1;
    options.exact = size % 2 == 1;
    options.fuse = size % 8 != 7;
    qclip::Interpreter interpreter(std::move(graph), options);
    std::vector<qclip::Tensor> inputs;
    for (const int v : interpreter.graph().inputs) {
      inputs.push_back(MakeInput(interpreter.graph().values[v]));
    }
    const std::vector<qclip::Tensor> outputs = interpreter.Run(inputs);
    if (outputs.size() != interpreter.graph().outputs.size()) std::abort();
    for (const qclip::Tensor& t : outputs) {
      if (!t.has_data()) std::abort();
    }
  } catch (const qclip::Error& e) {
    // QCLIP_FUZZ_VERBOSE=1 shows why each input was refused (to check that seeds run).
    if (std::getenv("QCLIP_FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "%s\n", e.what());
  }
  return 0;
}

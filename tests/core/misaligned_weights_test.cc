// Float32 weights whose raw_data lies misaligned in the model file: the loader views large ones
// in place (kInPlaceMisalignedBytes), MatMul packs them from there, and every other reader gets
// an aligned copy first (AlignConstant). Each output must equal the same model's with the
// weight aligned, bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "graph/interpreter.h"
#include "onnx/loader.h"
#include "onnx_qclip/onnx.pb.h"

namespace qclip {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kK = 128, kN = 160;  // W: 80 KiB, above kInPlaceMisalignedBytes
static_assert(kK * kN * sizeof(float) >= kInPlaceMisalignedBytes);

void AddInput(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims) {
  onnx::ValueInfoProto* x = g->add_input();
  x->set_name(name);
  auto* tt = x->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void AddNode(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& in,
             const std::string& out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(out);
  for (const std::string& i : in) n->add_input(i);
  n->add_output(out);
}

std::vector<float> Values(int64_t n, float step) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 7919) % 1013) * step - 1.0f;
  return v;
}

// The readers of W besides MatMul (which packs it) that a model has.
enum Readers { kPackerOnly, kAdd, kTranspose, kOutput, kGraphOutput };

// Outputs: y = x · W, and with `readers` z = W + b (Add reads W as the model runs),
// Transpose(W) (folded at load), Identity(W), or W itself as a graph output. raw_data of W starts
// at a file offset that is `misalignment` modulo 4.
onnx::ModelProto Model(int misalignment, Readers readers) {
  const std::vector<float> w = Values(kK * kN, 1.0f / 512);
  const std::string raw(reinterpret_cast<const char*>(w.data()), w.size() * sizeof(float));
  for (int pad = 0; pad < 4; ++pad) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    m.set_producer_name(std::string(pad, 'p'));
    onnx::GraphProto* g = m.mutable_graph();
    AddInput(g, "x", {3, kK});
    AddInput(g, "b", {kN});
    onnx::TensorProto* t = g->add_initializer();
    t->set_name("W");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(kK);
    t->add_dims(kN);
    t->set_raw_data(raw);
    AddNode(g, "MatMul", {"x", "W"}, "y");
    g->add_output()->set_name("y");
    if (readers == kAdd) AddNode(g, "Add", {"W", "b"}, "z");
    if (readers == kTranspose) AddNode(g, "Transpose", {"W"}, "z");
    if (readers == kOutput) AddNode(g, "Identity", {"W"}, "z");
    if (readers != kPackerOnly) g->add_output()->set_name(readers == kGraphOutput ? "W" : "z");
    const std::string bytes = m.SerializeAsString();
    if (bytes.find(raw) % 4 == static_cast<size_t>(misalignment)) return m;
  }
  ADD_FAILURE() << "no padding gives misalignment " << misalignment;
  return {};
}

class MisalignedWeightsTest : public testing::TestWithParam<std::tuple<int, Readers>> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qclip_misaligned_test_" + std::to_string(getpid()) + "_" +
                                        std::to_string(std::get<0>(GetParam())) + "_" +
                                        std::to_string(std::get<1>(GetParam())));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<Tensor> Run(int misalignment, int threads) {
    const Readers readers = std::get<1>(GetParam());
    const std::string path = (dir_ / ("m" + std::to_string(misalignment) + ".onnx")).string();
    {
      std::ofstream f(path, std::ios::binary);
      Model(misalignment, readers).SerializeToOstream(&f);
    }
    Graph g = LoadOnnxModel(path);
    const Tensor& w = g.values[g.FindValue("W")].constant;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w.raw()) % 4, static_cast<uintptr_t>(misalignment))
        << "the loader copied the weight";
    EXPECT_EQ(IsMisaligned(w), misalignment != 0);
    InterpreterOptions options;
    options.threads = threads;
    Interpreter interpreter(std::move(g), options);
    // Packed or aligned: what the kernels read while the model runs is aligned (Highway's loads
    // and memcpy are not checked by the sanitizers, so this is checked here).
    for (const Value& v : interpreter.graph().values) {
      EXPECT_FALSE(IsMisaligned(v.constant)) << v.name << " is read misaligned";
    }
    if (readers == kPackerOnly) {  // packed where it lay, then let go
      const Graph& run = interpreter.graph();
      EXPECT_FALSE(run.values[run.FindValue("W")].constant.has_data());
    }
    const std::vector<float> x = Values(3 * kK, 1.0f / 256), b = Values(kN, 1.0f / 64);
    Tensor xt(DType::kFloat32, {3, kK}), bt(DType::kFloat32, {kN});
    std::memcpy(xt.raw(), x.data(), xt.bytes());
    std::memcpy(bt.raw(), b.data(), bt.bytes());
    return interpreter.Run({xt, bt});
  }

  fs::path dir_;
};

TEST_P(MisalignedWeightsTest, SameBitsAsAligned) {
  const Readers readers = std::get<1>(GetParam());
  for (int threads : {1, 3}) {
    const std::vector<Tensor> want = Run(0, threads);
    const std::vector<Tensor> got = Run(std::get<0>(GetParam()), threads);
    ASSERT_EQ(want.size(), readers == kPackerOnly ? 1u : 2u);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
      EXPECT_EQ(std::memcmp(got[i].raw(), want[i].raw(), want[i].bytes()), 0) << "output " << i;
    }
    // The reference itself: y against a plain dot product, W's copies against the stored values.
    const std::vector<float> x = Values(3 * kK, 1.0f / 256), w = Values(kK * kN, 1.0f / 512);
    for (int64_t r = 0; r < 3; ++r) {
      for (int64_t n = 0; n < kN; ++n) {
        double sum = 0;
        for (int64_t k = 0; k < kK; ++k) sum += double{x[r * kK + k]} * w[k * kN + n];
        EXPECT_NEAR(want[0].data<float>()[r * kN + n], sum, 1e-4) << r << "," << n;
      }
    }
    if (readers == kOutput || readers == kGraphOutput) {
      EXPECT_EQ(std::memcmp(want[1].raw(), w.data(), w.size() * sizeof(float)), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Offsets, MisalignedWeightsTest,
                         testing::Combine(testing::Values(1, 2, 3),
                                          testing::Values(kPackerOnly, kAdd, kTranspose, kOutput,
                                                          kGraphOutput)));

}  // namespace
}  // namespace qclip

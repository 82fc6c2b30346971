// qclip-quantize against ONNX Runtime's own quantize_dynamic files, node for node and byte for
// byte (the compact fixtures in tests/data always, every ORT file of the golden fixtures when
// they are there), and quantize on load through the Session API.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "onnx/model_proto.h"
#include "onnx/quantize.h"
#include "onnx_qclip/onnx.pb.h"
#include "qclip/qclip.h"

namespace fs = std::filesystem;

namespace qclip {
namespace {

using onnx::ModelProto;
using onnx::NodeProto;
using onnx::TensorProto;

const std::string kData = QCLIP_TEST_DATA;

// ---------------------------------------------------------------- ONNX Runtime's own files

// Node for node and initializer for initializer (explicit data_location = DEFAULT, which ORT's
// save-and-reload adds to large tensors, counts as absent); value_info is not compared.
void ExpectSameLayout(const ModelProto& ours, const ModelProto& ort) {
  ASSERT_EQ(ours.graph().node_size(), ort.graph().node_size());
  for (int i = 0; i < ort.graph().node_size(); ++i) {
    EXPECT_TRUE(ours.graph().node(i).SerializeAsString() == ort.graph().node(i).SerializeAsString())
        << "node " << i << ": " << ours.graph().node(i).name() << " vs " << ort.graph().node(i).name();
  }
  ASSERT_EQ(ours.graph().initializer_size(), ort.graph().initializer_size());
  for (int i = 0; i < ort.graph().initializer_size(); ++i) {
    TensorProto a = ours.graph().initializer(i), b = ort.graph().initializer(i);
    for (TensorProto* t : {&a, &b}) {
      if (t->data_location() == TensorProto::DEFAULT) t->clear_data_location();
    }
    EXPECT_TRUE(a.SerializeAsString() == b.SerializeAsString())
        << "initializer " << i << ": " << a.name() << " vs " << b.name();
  }
  EXPECT_EQ(ours.graph().input_size(), ort.graph().input_size());
  EXPECT_EQ(ours.graph().output_size(), ort.graph().output_size());
}

struct OrtVariant {
  const char* model;
  const char* file;
  WeightType type;
  bool per_channel;
};

TEST(QuantizeOrtParityTest, CompactFixturesMatchOnnxRuntimeByteForByte) {
  const OrtVariant variants[] = {
      {"biomedclip_text_tiny_pubmedvocab_legacy_op18", "int8_qint8.onnx", WeightType::kQInt8, false},
      {"biomedclip_vision_tiny_legacy_op17", "int8_qint8.onnx", WeightType::kQInt8, false},
      {"biomedclip_vision_tiny_legacy_op17", "int8_quint8.onnx", WeightType::kQUInt8, false},
      {"biomedclip_vision_tiny_legacy_op17", "int8_qint8_perchannel.onnx", WeightType::kQInt8, true},
  };
  for (const OrtVariant& v : variants) {
    SCOPED_TRACE(std::string(v.model) + "/" + v.file);
    const std::string dir = kData + "/models/" + v.model;
    std::unique_ptr<ModelProto> ours = ReadModelProto(dir + "/fp32.onnx");
    QuantizeOptions opts;
    opts.weight_type = v.type;
    opts.per_channel = v.per_channel;
    ExternalData external(dir);
    QuantizeModel(*ours, opts, &external);
    ExpectSameLayout(*ours, *ReadModelProto(dir + "/" + v.file));
  }
}

// Every ORT INT8 file of the golden fixtures, with the quantize_dynamic arguments its manifest
// lists (op_types_to_quantize=[Gather] as the exclusion of every MatMul and Conv).
TEST(QuantizeOrtParityTest, SharedFixturesMatchOnnxRuntimeByteForByte) {
  const fs::path root = fs::path(QCLIP_SHARED_FIXTURES) / "models";
  if (!fs::is_directory(root)) GTEST_SKIP() << "no shared fixtures at " << root;
  int files = 0;
  for (const fs::directory_entry& dir : fs::directory_iterator(root)) {
    if (!fs::exists(dir.path() / "manifest.json") || !fs::exists(dir.path() / "fp32.onnx")) continue;
    const nlohmann::json manifest = nlohmann::json::parse(std::ifstream(dir.path() / "manifest.json"));
    for (const auto& [variant, file] : manifest["files"].items()) {
      if (!file.contains("quantize_dynamic")) continue;
      const nlohmann::json& args = file["quantize_dynamic"];
      SCOPED_TRACE(dir.path().filename().string() + "/" + file["file"].get<std::string>());
      std::unique_ptr<ModelProto> ours = ReadModelProto((dir.path() / "fp32.onnx").string());
      QuantizeOptions opts;
      opts.weight_type = args.value("weight_type", "QInt8") == "QUInt8" ? WeightType::kQUInt8
                                                                          : WeightType::kQInt8;
      opts.per_channel = args.value("per_channel", false);
      opts.exclude = args.value("nodes_to_exclude", std::vector<std::string>{});
      if (args.contains("op_types_to_quantize")) {
        ASSERT_EQ(args["op_types_to_quantize"], nlohmann::json::array({"Gather"}));
        for (const NodeProto& n : ours->graph().node()) {
          if (n.op_type() == "MatMul" || n.op_type() == "Conv") opts.exclude.push_back(n.name());
        }
      }
      ExternalData external(dir.path().string());
      QuantizeModel(*ours, opts, &external);
      EmbedExternalData(*ours, external);  // ORT's files are self-contained too
      ExpectSameLayout(*ours, *ReadModelProto((dir.path() / file["file"].get<std::string>()).string()));
      ++files;
    }
  }
  EXPECT_GT(files, 0);
  std::printf("compared %d ONNX Runtime files\n", files);
}

// ---------------------------------------------------------------- quantize on load

float Cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return static_cast<float>(ab / std::sqrt(aa * bb));
}

TEST(QuantizeOnLoadTest, Fp32FileRunsQuantizedCloseToFp32) {
  const std::string dir = kData + "/models/biomedclip_vision_tiny_legacy_op17";
  const Tensor pixels = ReadNpy(dir + "/images_b4.in.pixel_values.npy");
  const Tensor fp32 = ReadNpy(dir + "/images_b4.out.embeddings.ort_fp32.npy");
  const Tensor ort_perchannel = ReadNpy(dir + "/images_b4.out.embeddings.ort_int8_qint8_perchannel.npy");
  SessionOptions opts;
  opts.threads = 1;
  opts.quantize_weights = true;
  auto session = Session::Load(dir + "/fp32.onnx", opts);
  const std::vector<Tensor> out = session->Run({{"pixel_values", pixels}});
  ASSERT_EQ(out[0].shape(), fp32.shape());
  const size_t rows = static_cast<size_t>(fp32.dim(0)), dim = static_cast<size_t>(fp32.dim(1));
  for (size_t r = 0; r < rows; ++r) {
    EXPECT_GE(Cosine(out[0].data<float>() + r * dim, fp32.data<float>() + r * dim, dim), 0.999f);
    EXPECT_GE(Cosine(out[0].data<float>() + r * dim, ort_perchannel.data<float>() + r * dim, dim),
              0.999f);
  }
  // With exact (per-tensor) activations it is ORT's per-channel INT8 file, run as ORT runs it.
  opts.exact = true;
  auto exact = Session::Load(dir + "/fp32.onnx", opts);
  const std::vector<Tensor> e = exact->Run({{"pixel_values", pixels}});
  for (size_t r = 0; r < rows; ++r) {
    EXPECT_GE(Cosine(e[0].data<float>() + r * dim, ort_perchannel.data<float>() + r * dim, dim),
              0.9999f);
  }
}

TEST(QuantizeOnLoadTest, AnInt8FileLoadsUnchanged) {
  const std::string dir = kData + "/models/biomedclip_text_tiny_pubmedvocab_legacy_op18";
  const Tensor ids = ReadNpy(dir + "/unpadded_b1.in.input_ids.npy");
  SessionOptions opts;
  opts.threads = 1;
  const std::vector<Tensor> plain = Session::Load(dir + "/int8_qint8.onnx", opts)->Run({{"input_ids", ids}});
  opts.quantize_weights = true;
  const std::vector<Tensor> again = Session::Load(dir + "/int8_qint8.onnx", opts)->Run({{"input_ids", ids}});
  ASSERT_EQ(plain[0].bytes(), again[0].bytes());
  EXPECT_EQ(std::memcmp(plain[0].raw(), again[0].raw(), plain[0].bytes()), 0);
}

TEST(QuantizeOnLoadTest, ErrorsNameTheFile) {
  SessionOptions opts;
  opts.quantize_weights = true;
  try {
    Session::Load(kData + "/models/none.onnx", opts);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none.onnx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qclip

// The ONNX loader and Session against malformed and hostile model files: each must end in a
// qclip::Error whose message names the problem, never a crash.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "onnx_qclip/onnx.pb.h"
#include "qclip/qclip.h"

namespace fs = std::filesystem;

namespace {

class LoaderTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qclip_loader_test_" + std::to_string(getpid()));
    fs::create_directories(dir_ / "model");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // y = x + w with x float [2, 3] and w a float [3] initializer.
  static onnx::ModelProto AddModel() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    onnx::GraphProto* g = m.mutable_graph();
    onnx::ValueInfoProto* x = g->add_input();
    x->set_name("x");
    auto* tt = x->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("batch");
    tt->mutable_shape()->add_dim()->set_dim_value(3);
    onnx::TensorProto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(3);
    const float values[3] = {1, 2, 3};
    w->set_raw_data(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
    onnx::NodeProto* n = g->add_node();
    n->set_name("add");
    n->set_op_type("Add");
    n->add_input("x");
    n->add_input("w");
    n->add_output("y");
    g->add_output()->set_name("y");
    return m;
  }

  std::string Write(const onnx::ModelProto& m, const std::string& name = "model/m.onnx") {
    const fs::path p = dir_ / name;
    std::ofstream f(p, std::ios::binary);
    m.SerializeToOstream(&f);
    return p.string();
  }

  std::string WriteBytes(const std::string& bytes, const std::string& name) {
    const fs::path p = dir_ / name;
    std::ofstream f(p, std::ios::binary);
    f << bytes;
    return p.string();
  }

  // Loads `path` and returns the error message ("" if it loaded).
  static std::string LoadError(const std::string& path) {
    try {
      qclip::Session::Load(path);
    } catch (const qclip::Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

#define EXPECT_ERROR_HAS(message, needle) \
  EXPECT_NE(std::string(message).find(needle), std::string::npos) << "message: " << (message)

TEST_F(LoaderTest, MissingFile) {
  EXPECT_ERROR_HAS(LoadError((dir_ / "nope.onnx").string()), "cannot open");
}

TEST_F(LoaderTest, Directory) { EXPECT_ERROR_HAS(LoadError(dir_.string()), "not a regular file"); }

TEST_F(LoaderTest, EmptyFileHasNoGraph) {
  EXPECT_ERROR_HAS(LoadError(WriteBytes("", "empty.onnx")), "no graph");
}

TEST_F(LoaderTest, GarbageAndTruncation) {
  EXPECT_ERROR_HAS(LoadError(WriteBytes(std::string(1000, '\xff'), "junk.onnx")),
                   "not a valid ONNX model");
  std::string bytes;
  AddModel().SerializeToString(&bytes);
  for (size_t cut : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string msg = LoadError(WriteBytes(bytes.substr(0, cut), "cut.onnx"));
    EXPECT_FALSE(msg.empty()) << "truncated at " << cut;
  }
}

TEST_F(LoaderTest, OpsetOutOfRange) {
  onnx::ModelProto m = AddModel();
  m.mutable_opset_import(0)->set_version(7);
  EXPECT_ERROR_HAS(LoadError(Write(m)), "opset 7 is not supported");
}

TEST_F(LoaderTest, UnsupportedOpIsNamed) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyOp");
  EXPECT_ERROR_HAS(LoadError(Write(m)), "unsupported operators: FancyOp");
}

TEST_F(LoaderTest, RawDataSizeMismatch) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_initializer(0)->set_raw_data("abc");
  EXPECT_ERROR_HAS(LoadError(Write(m)), "tensor 'w' has 3 bytes of data");
}

TEST_F(LoaderTest, OverflowingAndNegativeDims) {
  onnx::ModelProto m = AddModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{1} << 40);
  w->add_dims(int64_t{1} << 40);
  EXPECT_ERROR_HAS(LoadError(Write(m)), "overflows");
  w->clear_dims();
  w->add_dims(-3);
  EXPECT_ERROR_HAS(LoadError(Write(m)), "negative dimension");
}

TEST_F(LoaderTest, TypedDataCountMismatch) {
  onnx::ModelProto m = AddModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->add_float_data(1.0f);
  EXPECT_ERROR_HAS(LoadError(Write(m)), "has 1 values for shape [3]");
}

TEST_F(LoaderTest, DanglingInputAndCycle) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_input(1, "ghost");
  EXPECT_ERROR_HAS(LoadError(Write(m)), "reads 'ghost'");

  onnx::ModelProto c = AddModel();
  onnx::GraphProto* g = c.mutable_graph();
  g->mutable_node(0)->set_input(0, "z");
  onnx::NodeProto* back = g->add_node();
  back->set_name("back");
  back->set_op_type("Add");
  back->add_input("y");
  back->add_input("w");
  back->add_output("z");
  EXPECT_ERROR_HAS(LoadError(Write(c)), "cycle");
}

TEST_F(LoaderTest, OutputNotProduced) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_output(0)->set_name("nothing");
  EXPECT_ERROR_HAS(LoadError(Write(m)), "graph output 'nothing'");
}

onnx::ModelProto WithExternal(onnx::ModelProto m, const std::string& location,
                              const std::string& offset, const std::string& length) {
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", offset);
  add("length", length);
  return m;
}

TEST_F(LoaderTest, ExternalDataConfinedAndBounded) {
  const float values[3] = {1, 2, 3};
  WriteBytes(std::string(4, '\0') + std::string(reinterpret_cast<const char*>(values), 12),
             "model/m.onnx.data");
  WriteBytes("secret", "outside.data");
  EXPECT_EQ(LoadError(Write(WithExternal(AddModel(), "m.onnx.data", "4", "12"))), "");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "../outside.data", "0", ""))),
                   "plain relative path");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), (dir_ / "outside.data").string(), "0", ""))),
                   "plain relative path");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "m.onnx.data", "8", ""))),
                   "past the end");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "m.onnx.data", "99999999999", ""))),
                   "past the end");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "m.onnx.data", "0", "8"))),
                   "does not match shape");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "missing.data", "0", ""))),
                   "not found");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "m.onnx.data", "-1", ""))),
                   "past the end");
  fs::create_symlink(dir_ / "outside.data", dir_ / "model" / "link.data");
  EXPECT_ERROR_HAS(LoadError(Write(WithExternal(AddModel(), "link.data", "0", ""))),
                   "outside the model's folder");
}

TEST_F(LoaderTest, RunChecksInputs) {
  auto session = qclip::Session::Load(Write(AddModel()));
  qclip::Tensor x(qclip::DType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) x.data<float>()[i] = static_cast<float>(i);
  const std::vector<qclip::Tensor> y = session->Run({{"x", x}});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].data<float>()[5], 8.0f);

  auto run_error = [&](const std::vector<std::pair<std::string, qclip::Tensor>>& in) {
    try {
      session->Run(in);
    } catch (const qclip::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_ERROR_HAS(run_error({{"nope", x}}), "has no input 'nope' (its inputs: 'x')");
  EXPECT_ERROR_HAS(run_error({}), "input 'x' is missing");
  EXPECT_ERROR_HAS(run_error({{"x", x}, {"x", x}}), "given twice");
  EXPECT_ERROR_HAS(run_error({{"x", qclip::Tensor(qclip::DType::kInt64, {2, 3})}}),
                   "must be float32, got int64");
  EXPECT_ERROR_HAS(run_error({{"x", qclip::Tensor(qclip::DType::kFloat32, {2, 4})}}),
                   "must have shape [batch, 3], got [2, 4]");
}

}  // namespace

// qclip's dynamic quantizer (src/onnx/quantize): ORT's arithmetic against hand-computed values,
// the node and initializer layout on small hand-built models, options, external data and errors.
// Parity with ONNX Runtime's own files and quantize on load: onnx_quantize_parity_test.cc.

#include "onnx/quantize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "onnx/model_proto.h"
#include "onnx_qclip/onnx.pb.h"
#include "qclip/error.h"

namespace fs = std::filesystem;

namespace qclip {
namespace {

using onnx::ModelProto;
using onnx::NodeProto;
using onnx::TensorProto;

const std::string kData = QCLIP_TEST_DATA;

// ---------------------------------------------------------------- the arithmetic

TEST(QuantizeMathTest, SymmetricInt8ScaleIsMaxAbsOver127) {
  // max|w| = 63.5: scale = 2 * 63.5 / 254 = 0.5 exactly, zero point 0.
  WeightQuantParams p = ComputeWeightQuantParams(-63.5f, 10.0f, true);
  EXPECT_EQ(p.scale, 0.5f);
  EXPECT_EQ(p.zero_point, 0);
  p = ComputeWeightQuantParams(-1.0f, 63.5f, true);
  EXPECT_EQ(p.scale, 0.5f);
  // Only positive values: the range still includes 0, symmetric around it.
  p = ComputeWeightQuantParams(1.0f, 2.0f, true);
  EXPECT_EQ(p.scale, static_cast<float>(4.0 / 254.0));
  EXPECT_EQ(p.zero_point, 0);
}

TEST(QuantizeMathTest, RoundsHalfToEvenAndClips) {
  const WeightQuantParams p{0.5f, 0};
  // x / 0.5 = 0.5, 1.5, 2.5, -0.5, -1.5: numpy's round half to even.
  EXPECT_EQ(QuantizeWeightValue(0.25f, p, true), 0);
  EXPECT_EQ(QuantizeWeightValue(0.75f, p, true), 2);
  EXPECT_EQ(QuantizeWeightValue(1.25f, p, true), 2);
  EXPECT_EQ(QuantizeWeightValue(-0.25f, p, true), 0);
  EXPECT_EQ(QuantizeWeightValue(-0.75f, p, true), -2);
  EXPECT_EQ(QuantizeWeightValue(63.5f, p, true), 127);
  EXPECT_EQ(QuantizeWeightValue(-63.5f, p, true), -127);
  // Clipped to the type's range ([-128, 127]: quantize_nparray clips to the full int8 range).
  EXPECT_EQ(QuantizeWeightValue(100.0f, p, true), 127);
  EXPECT_EQ(QuantizeWeightValue(-100.0f, p, true), -128);
  EXPECT_EQ(QuantizeWeightValue(-1.0f, WeightQuantParams{0.5f, 10}, false), 8);
  EXPECT_EQ(QuantizeWeightValue(-100.0f, WeightQuantParams{0.5f, 10}, false), 0);
  EXPECT_EQ(QuantizeWeightValue(200.0f, WeightQuantParams{0.5f, 10}, false), 255);
}

TEST(QuantizeMathTest, AsymmetricUint8) {
  // [-1, 3]: scale = 4 / 255, zero point = round(1 / (4 / 255)) = round(63.75) = 64.
  WeightQuantParams p = ComputeWeightQuantParams(-1.0f, 3.0f, false);
  EXPECT_EQ(p.scale, static_cast<float>(4.0 / 255.0));
  EXPECT_EQ(p.zero_point, 64);
  EXPECT_EQ(QuantizeWeightValue(-1.0f, p, false), 0);  // round(-63.75) + 64
  EXPECT_EQ(QuantizeWeightValue(0.0f, p, false), 64);
  EXPECT_EQ(QuantizeWeightValue(3.0f, p, false), 255);  // round(191.25) + 64
  // Zero points round half to even too: range 127.5 -> scale 0.5; -rmin / scale = 0.5 and 1.5.
  EXPECT_EQ(ComputeWeightQuantParams(-0.25f, 127.25f, false).zero_point, 0);
  EXPECT_EQ(ComputeWeightQuantParams(-0.75f, 126.75f, false).zero_point, 2);
  // Only positive values: rmin = 0, zero point 0.
  p = ComputeWeightQuantParams(1.0f, 2.0f, false);
  EXPECT_EQ(p.scale, static_cast<float>(2.0 / 255.0));
  EXPECT_EQ(p.zero_point, 0);
}

TEST(QuantizeMathTest, AsymmetricRangeIsRoundedToFloatFirst) {
  // numpy computes rmax - rmin in float32, then divides in float64.
  const float rmin = -0.1f, rmax = 0.7f;
  const float range = rmax - rmin;
  const WeightQuantParams p = ComputeWeightQuantParams(rmin, rmax, false);
  EXPECT_EQ(p.scale, static_cast<float>(static_cast<double>(range) / 255.0));
  EXPECT_EQ(p.zero_point, static_cast<int32_t>(std::nearbyint(
                              -static_cast<double>(rmin) / (static_cast<double>(range) / 255.0))));
}

TEST(QuantizeMathTest, ZeroAndTinyRangesGetScaleOne) {
  for (bool is_signed : {true, false}) {
    WeightQuantParams p = ComputeWeightQuantParams(0.0f, 0.0f, is_signed);
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero_point, 0);
    // 2e-38 / 254 is below FLT_MIN.
    p = ComputeWeightQuantParams(0.0f, 1e-38f, is_signed);
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero_point, 0);
  }
}

TEST(QuantizeMathTest, PerTensorAndPerColumn) {
  // [2, 3] row-major; columns: {-1, 2}, {0.5, 0.25}, {-4, 4}.
  const std::vector<float> w = {-1.0f, 0.5f, -4.0f, 2.0f, 0.25f, 4.0f};
  std::vector<uint8_t> q(w.size());
  const std::vector<WeightQuantParams> t = QuantizeWeights(w.data(), w.size(), 0, true, q.data());
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].scale, static_cast<float>(8.0 / 254.0));
  const std::vector<WeightQuantParams> c = QuantizeWeights(w.data(), w.size(), 3, true, q.data());
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].scale, static_cast<float>(4.0 / 254.0));
  EXPECT_EQ(c[1].scale, static_cast<float>(1.0 / 254.0));
  EXPECT_EQ(c[2].scale, static_cast<float>(8.0 / 254.0));
  // Column maxima map to +-127; the layout stays row-major.
  const std::vector<int8_t> expected = {-64, 127, -127, 127, 64, 127};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(static_cast<int8_t>(q[i]), expected[i]) << i;
  // QUInt8 per column: each column its own zero point.
  const std::vector<WeightQuantParams> u = QuantizeWeights(w.data(), w.size(), 3, false, q.data());
  EXPECT_EQ(u[0].zero_point, 85);  // round(1 / (3 / 255))
  EXPECT_EQ(u[1].zero_point, 0);
  EXPECT_EQ(u[2].zero_point, 128);  // round(4 / (8 / 255)) = round(127.5)
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[3], 255);
}

// ---------------------------------------------------------------- hand-built models

TensorProto FloatTensor(const std::string& name, std::vector<int64_t> dims,
                        const std::vector<float>& values) {
  TensorProto t;
  t.set_name(name);
  t.set_data_type(TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()),
                             values.size() * sizeof(float)));
  return t;
}

std::vector<float> Ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i % 7) - 3.0f) + 0.01f * i;
  return v;
}

NodeProto* AddNode(ModelProto& m, const std::string& op, const std::string& name,
                   std::vector<std::string> inputs, std::vector<std::string> outputs) {
  NodeProto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  if (!name.empty()) n->set_name(name);
  for (const std::string& in : inputs) n->add_input(in);
  for (const std::string& out : outputs) n->add_output(out);
  return n;
}

void AddInput(ModelProto& m, const std::string& name, int32_t type, std::vector<int64_t> dims) {
  onnx::ValueInfoProto* v = m.mutable_graph()->add_input();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

// x [2, 4] -> MatMul(x, w1 [4, 3]) "mm1" -> y1; MatMul(x, w2 [4, 3]) "mm2" -> y2;
// MatMul(y1, w3 [3, 2]) "head/mm3" -> y3. Outputs y2, y3.
ModelProto MatMulModel() {
  ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  AddInput(m, "x", TensorProto::FLOAT, {2, 4});
  *m.mutable_graph()->add_initializer() = FloatTensor("w1", {4, 3}, Ramp(12, 0.1f));
  *m.mutable_graph()->add_initializer() = FloatTensor("w2", {4, 3}, Ramp(12, -0.2f));
  *m.mutable_graph()->add_initializer() = FloatTensor("w3", {3, 2}, Ramp(6, 0.3f));
  AddNode(m, "MatMul", "mm1", {"x", "w1"}, {"y1"});
  AddNode(m, "MatMul", "mm2", {"x", "w2"}, {"y2"});
  AddNode(m, "MatMul", "head/mm3", {"y1", "w3"}, {"y3"});
  m.mutable_graph()->add_output()->set_name("y2");
  m.mutable_graph()->add_output()->set_name("y3");
  return m;
}

const NodeProto* FindNode(const ModelProto& m, const std::string& name) {
  for (const NodeProto& n : m.graph().node()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

const TensorProto* FindInit(const ModelProto& m, const std::string& name) {
  for (const TensorProto& t : m.graph().initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

int CountOps(const ModelProto& m, const std::string& op) {
  int n = 0;
  for (const NodeProto& node : m.graph().node()) n += node.op_type() == op;
  return n;
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

TEST(QuantizeModelTest, MatMulBecomesOrtsIntegerPattern) {
  ModelProto m = MatMulModel();
  QuantizeOptions opts;
  opts.per_channel = false;
  const QuantizeReport r = QuantizeModel(m, opts, nullptr);
  EXPECT_EQ(r.matmul, 3);
  EXPECT_EQ(r.dynamic_quantize, 2);  // x (shared by mm1 and mm2) and y1
  EXPECT_EQ(CountOps(m, "DynamicQuantizeLinear"), 2);
  EXPECT_EQ(CountOps(m, "MatMul"), 0);

  const NodeProto* dql = FindNode(m, "x_QuantizeLinear");
  ASSERT_NE(dql, nullptr);
  EXPECT_EQ(Strings(dql->output()),
            (std::vector<std::string>{"x_quantized", "x_scale", "x_zero_point"}));
  const NodeProto* mmi = FindNode(m, "mm1_quant");
  ASSERT_NE(mmi, nullptr);
  EXPECT_EQ(mmi->op_type(), "MatMulInteger");
  EXPECT_EQ(Strings(mmi->input()), (std::vector<std::string>{"x_quantized", "w1_quantized",
                                                             "x_zero_point", "w1_zero_point"}));
  EXPECT_EQ(Strings(mmi->output()), std::vector<std::string>{"y1_output_quantized"});
  const NodeProto* cast = FindNode(m, "y1_output_quantized_cast");
  ASSERT_NE(cast, nullptr);
  ASSERT_EQ(cast->attribute_size(), 1);
  EXPECT_EQ(cast->attribute(0).name(), "to");
  EXPECT_EQ(cast->attribute(0).i(), TensorProto::FLOAT);
  const NodeProto* scales = FindNode(m, "mm1_quant_scales_mul");
  ASSERT_NE(scales, nullptr);
  EXPECT_EQ(Strings(scales->input()), (std::vector<std::string>{"x_scale", "w1_scale"}));
  EXPECT_EQ(Strings(scales->output()), std::vector<std::string>{"mm1_quant_scales_mul:0"});
  const NodeProto* out = FindNode(m, "mm1_quant_output_scale_mul");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(Strings(out->input()), (std::vector<std::string>{"y1_output_quantized_cast_output",
                                                             "mm1_quant_scales_mul:0"}));
  EXPECT_EQ(Strings(out->output()), std::vector<std::string>{"y1"});

  // The FP32 weights are gone; each has scale, zero point and data, scalars per tensor, in the
  // order ORT appends them.
  std::vector<std::string> names;
  for (const TensorProto& t : m.graph().initializer()) names.push_back(t.name());
  EXPECT_EQ(names, (std::vector<std::string>{"w1_scale", "w1_zero_point", "w1_quantized",
                                             "w2_scale", "w2_zero_point", "w2_quantized",
                                             "w3_scale", "w3_zero_point", "w3_quantized"}));
  const TensorProto* q = FindInit(m, "w1_quantized");
  EXPECT_EQ(q->data_type(), TensorProto::INT8);
  EXPECT_EQ(std::vector<int64_t>(q->dims().begin(), q->dims().end()),
            (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(q->raw_data().size(), 12u);
  const TensorProto* scale = FindInit(m, "w1_scale");
  EXPECT_EQ(scale->dims_size(), 0);
  ASSERT_EQ(scale->float_data_size(), 1);
  const std::vector<float> w1 = Ramp(12, 0.1f);
  float absmax = 0;
  for (float v : w1) absmax = std::max(absmax, std::fabs(v));
  EXPECT_EQ(scale->float_data(0), static_cast<float>(2.0 * absmax / 254.0));
  const TensorProto* zp = FindInit(m, "w1_zero_point");
  EXPECT_EQ(zp->data_type(), TensorProto::INT8);
  ASSERT_EQ(zp->int32_data_size(), 1);
  EXPECT_EQ(zp->int32_data(0), 0);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(static_cast<int8_t>(q->raw_data()[i]),
              QuantizeWeightValue(w1[i], {scale->float_data(0), 0}, true));
  }
  EXPECT_EQ(m.producer_name(), "qclip-quantize");
}

TEST(QuantizeModelTest, PerChannelScalesPerOutputColumn) {
  ModelProto m = MatMulModel();
  QuantizeModel(m, QuantizeOptions{}, nullptr);  // default: QInt8 per channel
  const TensorProto* scale = FindInit(m, "w1_scale");
  ASSERT_EQ(scale->dims_size(), 1);
  EXPECT_EQ(scale->dims(0), 3);
  ASSERT_EQ(scale->float_data_size(), 3);
  const std::vector<float> w1 = Ramp(12, 0.1f);
  for (int c = 0; c < 3; ++c) {
    float absmax = 0;
    for (int r = 0; r < 4; ++r) absmax = std::max(absmax, std::fabs(w1[r * 3 + c]));
    EXPECT_EQ(scale->float_data(c), static_cast<float>(2.0 * absmax / 254.0));
  }
  const TensorProto* zp = FindInit(m, "w1_zero_point");
  EXPECT_EQ(zp->dims(0), 3);
  EXPECT_EQ(zp->int32_data_size(), 3);
}

TEST(QuantizeModelTest, QUInt8IsAsymmetric) {
  ModelProto m = MatMulModel();
  QuantizeOptions opts;
  opts.weight_type = WeightType::kQUInt8;
  opts.per_channel = false;
  QuantizeModel(m, opts, nullptr);
  const TensorProto* q = FindInit(m, "w1_quantized");
  EXPECT_EQ(q->data_type(), TensorProto::UINT8);
  const TensorProto* zp = FindInit(m, "w1_zero_point");
  EXPECT_EQ(zp->data_type(), TensorProto::UINT8);
  const std::vector<float> w1 = Ramp(12, 0.1f);
  const float lo = *std::min_element(w1.begin(), w1.end());
  const float hi = *std::max_element(w1.begin(), w1.end());
  const WeightQuantParams p = ComputeWeightQuantParams(lo, hi, false);
  EXPECT_GT(p.zero_point, 0);
  EXPECT_EQ(zp->int32_data(0), p.zero_point);
  EXPECT_EQ(FindInit(m, "w1_scale")->float_data(0), p.scale);
  // The extremes land on the ends of [0, 255].
  uint8_t qmin = 255, qmax = 0;
  for (char c : q->raw_data()) {
    qmin = std::min<uint8_t>(qmin, static_cast<uint8_t>(c));
    qmax = std::max<uint8_t>(qmax, static_cast<uint8_t>(c));
  }
  EXPECT_EQ(qmin, 0);
  EXPECT_EQ(qmax, 255);
}

TEST(QuantizeModelTest, ExcludeByNameSubstringAndGlob) {
  for (const char* pattern : {"mm2", "m2", "*mm2", "mm[2]"}) {
    ModelProto m = MatMulModel();
    QuantizeOptions opts;
    opts.exclude = {pattern};
    const QuantizeReport r = QuantizeModel(m, opts, nullptr);
    EXPECT_EQ(r.matmul, 2) << pattern;
    EXPECT_EQ(r.excluded, 1) << pattern;
    ASSERT_NE(FindNode(m, "mm2"), nullptr) << pattern;
    EXPECT_EQ(FindNode(m, "mm2")->op_type(), "MatMul");
    EXPECT_NE(FindInit(m, "w2"), nullptr) << "the excluded MatMul keeps its FP32 weight";
    EXPECT_EQ(FindInit(m, "w2_quantized"), nullptr);
  }
  // A glob matches the whole name, a plain pattern any part of it.
  ModelProto m = MatMulModel();
  QuantizeOptions opts;
  opts.exclude = {"head/*"};
  EXPECT_EQ(QuantizeModel(m, opts, nullptr).excluded, 1);
  EXPECT_EQ(FindNode(m, "head/mm3")->op_type(), "MatMul");
  m = MatMulModel();
  opts.exclude = {"mm?"};
  EXPECT_EQ(QuantizeModel(m, opts, nullptr).excluded, 2);  // not head/mm3
}

TEST(QuantizeModelTest, AnExactNodeNameMatchesThatNodeOnly) {
  ModelProto m = MatMulModel();
  m.mutable_graph()->mutable_node(0)->set_name("a/MatMul");
  m.mutable_graph()->mutable_node(1)->set_name("a/MatMul_1");
  QuantizeOptions opts;
  opts.exclude = {"a/MatMul"};  // as ORT's nodes_to_exclude: not a/MatMul_1
  const QuantizeReport r = QuantizeModel(m, opts, nullptr);
  EXPECT_EQ(r.excluded, 1);
  EXPECT_EQ(FindNode(m, "a/MatMul")->op_type(), "MatMul");
  EXPECT_NE(FindNode(m, "a/MatMul_1_quant"), nullptr);
  m = MatMulModel();
  m.mutable_graph()->mutable_node(0)->set_name("a/MatMul");
  m.mutable_graph()->mutable_node(1)->set_name("a/MatMul_1");
  opts.exclude = {"a/"};  // no node's name: a substring
  EXPECT_EQ(QuantizeModel(m, opts, nullptr).excluded, 2);
}

TEST(QuantizeModelTest, KeepLastMatMulsInFp32) {
  ModelProto m = MatMulModel();
  QuantizeOptions opts;
  opts.keep_fp32_last = 2;
  const QuantizeReport r = QuantizeModel(m, opts, nullptr);
  EXPECT_EQ(r.matmul, 1);
  EXPECT_EQ(r.excluded, 2);
  EXPECT_EQ(FindNode(m, "mm1_quant")->op_type(), "MatMulInteger");
  EXPECT_EQ(FindNode(m, "mm2")->op_type(), "MatMul");
  EXPECT_EQ(FindNode(m, "head/mm3")->op_type(), "MatMul");
  // Excluded nodes do not count among the last N.
  m = MatMulModel();
  opts.exclude = {"head/mm3"};
  opts.keep_fp32_last = 1;
  EXPECT_EQ(QuantizeModel(m, opts, nullptr).matmul, 1);
  EXPECT_EQ(FindNode(m, "mm2")->op_type(), "MatMul");
  m = MatMulModel();
  opts.exclude = {};
  opts.keep_fp32_last = 100;
  EXPECT_EQ(QuantizeModel(m, opts, nullptr).matmul, 0);
}

TEST(QuantizeModelTest, UnsupportedMatMulsStayFp32) {
  ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  AddInput(m, "x", TensorProto::FLOAT, {2, 4});
  AddInput(m, "y", TensorProto::FLOAT, {4, 2});
  *m.mutable_graph()->add_initializer() = FloatTensor("w3d", {1, 4, 2}, Ramp(8, 1));
  std::vector<float> nan = Ramp(8, 1);
  nan[3] = std::numeric_limits<float>::quiet_NaN();
  *m.mutable_graph()->add_initializer() = FloatTensor("wnan", {4, 2}, nan);
  AddNode(m, "MatMul", "activations", {"x", "y"}, {"a"});  // no constant weight
  AddNode(m, "MatMul", "rank3", {"x", "w3d"}, {"b"});
  AddNode(m, "MatMul", "not_finite", {"x", "wnan"}, {"c"});
  for (const char* o : {"a", "b", "c"}) m.mutable_graph()->add_output()->set_name(o);
  const QuantizeReport r = QuantizeModel(m, QuantizeOptions{}, nullptr);
  EXPECT_EQ(r.quantized(), 0);
  EXPECT_EQ(r.unsupported, 3);
  EXPECT_EQ(CountOps(m, "MatMul"), 3);
  EXPECT_EQ(CountOps(m, "DynamicQuantizeLinear"), 0);
  EXPECT_EQ(m.graph().initializer_size(), 2);
}

// ids int64 [1, 3] -> Gather(table [5, 4], ids) -> Add(., bias) -> y; also a Shape -> Gather.
ModelProto GatherModel() {
  ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  AddInput(m, "ids", TensorProto::INT64, {1, 3});
  *m.mutable_graph()->add_initializer() = FloatTensor("table", {5, 4}, Ramp(20, 0.05f));
  *m.mutable_graph()->add_initializer() = FloatTensor("bias", {4}, {1, 2, 3, 4});
  AddNode(m, "Gather", "emb", {"table", "ids"}, {"e"});
  AddNode(m, "Add", "add", {"e", "bias"}, {"y"});
  AddNode(m, "Shape", "shape", {"ids"}, {"s"});
  TensorProto zero;
  zero.set_name("zero");
  zero.set_data_type(TensorProto::INT64);
  zero.add_int64_data(0);
  *m.mutable_graph()->add_initializer() = zero;
  AddNode(m, "Gather", "dim", {"s", "zero"}, {"d"});
  m.mutable_graph()->add_output()->set_name("y");
  m.mutable_graph()->add_output()->set_name("d");
  return m;
}

TEST(QuantizeModelTest, GatherTableBecomesUint8WithDequantizeLinear) {
  ModelProto m = GatherModel();
  const QuantizeReport r = QuantizeModel(m, QuantizeOptions{}, nullptr);
  EXPECT_EQ(r.gather, 1);
  const NodeProto* gather = FindNode(m, "emb");
  ASSERT_NE(gather, nullptr);
  EXPECT_EQ(Strings(gather->input()), (std::vector<std::string>{"table_quantized", "ids"}));
  EXPECT_EQ(Strings(gather->output()), std::vector<std::string>{"e_quantized"});
  const NodeProto* dq = FindNode(m, "e_DequantizeLinear");
  ASSERT_NE(dq, nullptr);
  EXPECT_EQ(dq->op_type(), "DequantizeLinear");
  EXPECT_EQ(Strings(dq->input()),
            (std::vector<std::string>{"e_quantized", "table_scale", "table_zero_point"}));
  EXPECT_EQ(Strings(dq->output()), std::vector<std::string>{"e"});
  // Even with QInt8 weights the table is uint8 asymmetric per tensor (ORT's activation type).
  EXPECT_EQ(FindInit(m, "table_quantized")->data_type(), TensorProto::UINT8);
  EXPECT_EQ(FindInit(m, "table_scale")->dims_size(), 0);
  EXPECT_EQ(FindInit(m, "table"), nullptr);
  // The Gather on a shape is untouched.
  EXPECT_EQ(Strings(FindNode(m, "dim")->input()), (std::vector<std::string>{"s", "zero"}));
  // Nodes are in an order that runs: the DequantizeLinear before the Add.
  int dq_pos = -1, add_pos = -1;
  for (int i = 0; i < m.graph().node_size(); ++i) {
    if (m.graph().node(i).name() == "e_DequantizeLinear") dq_pos = i;
    if (m.graph().node(i).name() == "add") add_pos = i;
  }
  EXPECT_LT(dq_pos, add_pos);

  m = GatherModel();
  QuantizeOptions opts;
  opts.quantize_gather = false;
  EXPECT_EQ(QuantizeModel(m, opts, nullptr).gather, 0);
  EXPECT_NE(FindInit(m, "table"), nullptr);
  EXPECT_EQ(CountOps(m, "DequantizeLinear"), 0);
}

TEST(QuantizeModelTest, GatherOutputThatIsAGraphOutputIsDequantized) {
  ModelProto m = GatherModel();
  m.mutable_graph()->mutable_output(0)->set_name("e");
  m.mutable_graph()->mutable_node()->DeleteSubrange(1, 1);  // the Add
  QuantizeModel(m, QuantizeOptions{}, nullptr);
  ASSERT_NE(FindNode(m, "e_DequantizeLinear"), nullptr);
  EXPECT_EQ(Strings(FindNode(m, "e_DequantizeLinear")->output()), std::vector<std::string>{"e"});
}

TEST(QuantizeModelTest, ConvBecomesConvIntegerWithBiasReshape) {
  ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  AddInput(m, "pixels", TensorProto::FLOAT, {1, 3, 4, 4});
  *m.mutable_graph()->add_initializer() = FloatTensor("w", {2, 3, 2, 2}, Ramp(24, 0.1f));
  *m.mutable_graph()->add_initializer() = FloatTensor("b", {2}, {0.5f, -0.5f});
  NodeProto* conv = AddNode(m, "Conv", "conv", {"pixels", "w", "b"}, {"y"});
  auto* strides = conv->add_attribute();
  strides->set_name("strides");
  strides->set_type(onnx::AttributeProto::INTS);
  strides->add_ints(2);
  strides->add_ints(2);
  auto* kernel = conv->add_attribute();
  kernel->set_name("kernel_shape");
  kernel->set_type(onnx::AttributeProto::INTS);
  kernel->add_ints(2);
  kernel->add_ints(2);
  m.mutable_graph()->add_output()->set_name("y");
  const QuantizeReport r = QuantizeModel(m, QuantizeOptions{}, nullptr);
  EXPECT_EQ(r.conv, 1);
  const NodeProto* ci = FindNode(m, "conv_quant");
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->op_type(), "ConvInteger");
  EXPECT_EQ(Strings(ci->input()), (std::vector<std::string>{"pixels_quantized", "w_quantized",
                                                            "pixels_zero_point", "w_zero_point"}));
  ASSERT_EQ(ci->attribute_size(), 2);  // sorted by name, as onnx.helper.make_node writes them
  EXPECT_EQ(ci->attribute(0).name(), "kernel_shape");
  EXPECT_EQ(ci->attribute(1).name(), "strides");
  // Per tensor even with per_channel (ORT's dynamic Conv).
  EXPECT_EQ(FindInit(m, "w_scale")->dims_size(), 0);
  const NodeProto* mul = FindNode(m, "conv_quant_output_scale_mul");
  ASSERT_NE(mul, nullptr);
  EXPECT_EQ(Strings(mul->output()), std::vector<std::string>{"yquant_scaled_output"});
  const TensorProto* shape = FindInit(m, "y_bias_reshape_shape");
  ASSERT_NE(shape, nullptr);
  EXPECT_EQ(std::vector<int64_t>(shape->int64_data().begin(), shape->int64_data().end()),
            (std::vector<int64_t>{1, -1, 1, 1}));
  const NodeProto* add = FindNode(m, "y_bias_add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(Strings(add->input()),
            (std::vector<std::string>{"yquant_scaled_output", "y_bias_reshape_output"}));
  EXPECT_EQ(Strings(add->output()), std::vector<std::string>{"y"});
  EXPECT_EQ(CountOps(m, "Reshape"), 1);
}

TEST(QuantizeModelTest, GemmBecomesMatMulWithTransposedWeight) {
  ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(18);
  AddInput(m, "x", TensorProto::FLOAT, {1, 3});
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};  // [2, 3]: out x in, as torch's Linear
  *m.mutable_graph()->add_initializer() = FloatTensor("w", {2, 3}, w);
  *m.mutable_graph()->add_initializer() = FloatTensor("c", {2}, {1, -1});
  NodeProto* gemm = AddNode(m, "Gemm", "linear", {"x", "w", "c"}, {"y"});
  auto* trans = gemm->add_attribute();
  trans->set_name("transB");
  trans->set_type(onnx::AttributeProto::INT);
  trans->set_i(1);
  m.mutable_graph()->add_output()->set_name("y");
  QuantizeOptions opts;
  opts.exclude = {"linear_MatMul"};  // keep the MatMul to look at the transposed weight
  QuantizeModel(m, opts, nullptr);
  const NodeProto* mm = FindNode(m, "linear_MatMul");
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(Strings(mm->output()), std::vector<std::string>{"y_MatMul"});
  const NodeProto* add = FindNode(m, "linear_Add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(Strings(add->input()), (std::vector<std::string>{"y_MatMul", "c"}));
  const TensorProto* wt = FindInit(m, "w");
  ASSERT_NE(wt, nullptr);
  EXPECT_EQ(std::vector<int64_t>(wt->dims().begin(), wt->dims().end()),
            (std::vector<int64_t>{3, 2}));
  std::vector<float> got(6);
  std::memcpy(got.data(), wt->raw_data().data(), 24);
  EXPECT_EQ(got, (std::vector<float>{1, 4, 2, 5, 3, 6}));
  // ORT moves the transposed weight to the end of the initializers.
  EXPECT_EQ(m.graph().initializer(m.graph().initializer_size() - 1).name(), "w");

  opts.exclude = {};
  const QuantizeReport r = QuantizeModel(m, opts, nullptr);
  EXPECT_EQ(r.matmul, 1);
}

TEST(QuantizeModelTest, StaleValueInfoIsIgnoredAndDropped) {
  ModelProto m = MatMulModel();
  // A dynamo-style stale annotation: y1 said to be [7, 7, 7].
  onnx::ValueInfoProto* vi = m.mutable_graph()->add_value_info();
  vi->set_name("y1");
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(TensorProto::FLOAT);
  for (int i = 0; i < 3; ++i) tt->mutable_shape()->add_dim()->set_dim_value(7);
  EXPECT_EQ(QuantizeModel(m, QuantizeOptions{}, nullptr).matmul, 3);
  EXPECT_EQ(m.graph().value_info_size(), 0);
}

TEST(QuantizeModelTest, RejectsOldOpsetsAndUnorderableGraphs) {
  ModelProto m = MatMulModel();
  m.mutable_opset_import(0)->set_version(10);
  EXPECT_THROW(QuantizeModel(m, QuantizeOptions{}, nullptr), Error);
  m = MatMulModel();
  AddNode(m, "Relu", "dangling", {"nowhere"}, {"r"});
  try {
    QuantizeModel(m, QuantizeOptions{}, nullptr);
    FAIL() << "expected qclip::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dangling"), std::string::npos) << e.what();
  }
  m = MatMulModel();
  m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(5);
  EXPECT_THROW(QuantizeModel(m, QuantizeOptions{}, nullptr), Error);
}

// ---------------------------------------------------------------- files

class QuantizeFileTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qclip_quantize_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const ModelProto& m, const std::string& name) {
    const std::string p = (dir_ / name).string();
    std::ofstream f(p, std::ios::binary);
    m.SerializeToOstream(&f);
    return p;
  }

  // Moves every initializer of `m` into DIR/data.bin, as a dynamo export stores them.
  ModelProto WithExternalData(ModelProto m, const std::string& location) {
    std::ofstream data(dir_ / "data.bin", std::ios::binary);
    uint64_t offset = 0;
    for (TensorProto& t : *m.mutable_graph()->mutable_initializer()) {
      const std::string raw = t.raw_data();
      data.write(raw.data(), static_cast<std::streamsize>(raw.size()));
      t.clear_raw_data();
      t.set_data_location(TensorProto::EXTERNAL);
      auto add = [&](const char* k, const std::string& v) {
        auto* e = t.add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", location);
      add("offset", std::to_string(offset));
      add("length", std::to_string(raw.size()));
      offset += raw.size();
    }
    return m;
  }

  fs::path dir_;
};

TEST_F(QuantizeFileTest, ExternalDataIsReadAndTheOutputIsSelfContained) {
  ModelProto inline_model = MatMulModel();
  const std::string in = Write(WithExternalData(MatMulModel(), "data.bin"), "ext.onnx");
  const std::string out = (dir_ / "out.onnx").string();
  const QuantizeFileReport r = QuantizeOnnxFile(in, out, QuantizeOptions{});
  EXPECT_EQ(r.quantize.matmul, 3);
  EXPECT_EQ(r.external_bytes, fs::file_size(dir_ / "data.bin"));
  EXPECT_EQ(r.output_bytes, fs::file_size(out));
  fs::remove(dir_ / "data.bin");  // the output must not need it
  std::unique_ptr<ModelProto> written = ReadModelProto(out);
  for (const TensorProto& t : written->graph().initializer()) {
    EXPECT_NE(t.data_location(), TensorProto::EXTERNAL) << t.name();
  }
  // The same as quantizing the inline model.
  QuantizeModel(inline_model, QuantizeOptions{}, nullptr);
  ASSERT_EQ(written->graph().initializer_size(), inline_model.graph().initializer_size());
  for (int i = 0; i < inline_model.graph().initializer_size(); ++i) {
    EXPECT_EQ(written->graph().initializer(i).SerializeAsString(),
              inline_model.graph().initializer(i).SerializeAsString());
  }
}

TEST_F(QuantizeFileTest, ExternalDataMustStayInTheModelsFolder) {
  for (const char* location : {"../data.bin", "/etc/passwd", "missing.bin"}) {
    const std::string in = Write(WithExternalData(MatMulModel(), location), "bad.onnx");
    try {
      QuantizeOnnxFile(in, (dir_ / "out.onnx").string(), QuantizeOptions{});
      FAIL() << location;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.onnx"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("w1"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir_ / "out.onnx"));
  }
}

TEST_F(QuantizeFileTest, MissingAndCorruptFilesAreErrors) {
  EXPECT_THROW(QuantizeOnnxFile((dir_ / "none.onnx").string(), (dir_ / "o.onnx").string(), {}),
               Error);
  std::ofstream(dir_ / "bad.onnx") << "garbage";
  try {
    QuantizeOnnxFile((dir_ / "bad.onnx").string(), (dir_ / "o.onnx").string(), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a valid ONNX model"), std::string::npos);
  }
  const std::string in = Write(MatMulModel(), "m.onnx");
  EXPECT_THROW(QuantizeOnnxFile(in, (dir_ / "no_such_dir" / "o.onnx").string(), {}), Error);
}

}  // namespace
}  // namespace qclip

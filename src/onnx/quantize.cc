// A port of the parts of ONNX Runtime 1.30's dynamic quantizer that BiomedCLIP-like models use
// (onnxruntime/python/tools/quantization: onnx_quantizer.py, operators/{matmul,conv,gather}.py,
// onnx_model.py, quant_utils.py), over the protobuf so that everything else stays as it was.
#include "onnx/quantize.h"

#include <fnmatch.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "onnx/loader.h"
#include "onnx/model_proto.h"
#include "onnx_qclip/onnx.pb.h"
#include "qclip/error.h"
#include "util/mapped_file.h"

namespace qclip {

WeightQuantParams ComputeWeightQuantParams(float rmin, float rmax, bool is_signed) {
  rmin = std::min(rmin, 0.0f);
  rmax = std::max(rmax, 0.0f);
  // get_qmin_qmax_for_qType(symmetric=is_signed): INT8 symmetric [-127, 127], UINT8 [0, 255].
  const double qmin = is_signed ? -127.0 : 0.0;
  const double qmax = is_signed ? 127.0 : 255.0;
  if (is_signed) {
    const float absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    rmin = -absmax;
    rmax = absmax;
  }
  // numpy: rmax - rmin in float32, then the division in float64.
  const float range = rmax - rmin;
  const double scale = static_cast<double>(range) / (qmax - qmin);
  if (!(scale >= static_cast<double>(FLT_MIN))) return {1.0f, 0};
  WeightQuantParams p;
  // Symmetric: round((qmin + qmax) / 2) = 0. Asymmetric: round(qmin - rmin / scale), with the
  // float64 scale, before it is narrowed to float32.
  p.zero_point =
      is_signed ? 0 : static_cast<int32_t>(std::nearbyint(qmin - static_cast<double>(rmin) / scale));
  p.scale = static_cast<float>(scale);
  return p;
}

int32_t QuantizeWeightValue(float x, WeightQuantParams p, bool is_signed) {
  // (arr.astype(float32) / scale).round() + zero_point, in float32; round half to even.
  float q = std::nearbyint(x / p.scale) + static_cast<float>(p.zero_point);
  q = std::min(std::max(q, is_signed ? -128.0f : 0.0f), is_signed ? 127.0f : 255.0f);
  return static_cast<int32_t>(q);
}

std::vector<WeightQuantParams> QuantizeWeights(const float* x, size_t n, size_t columns,
                                               bool is_signed, uint8_t* out) {
  // Walked as rows of `groups` values: group g holds x[g], x[g + groups], ...
  const size_t groups = columns == 0 ? 1 : columns;
  // min(data) and max(data) per group, widened to include 0 (compute_scale_zp does that too).
  std::vector<float> rmin(groups, 0.0f), rmax(groups, 0.0f);
  for (size_t row = 0; row < n; row += groups) {
    for (size_t g = 0; g < groups && row + g < n; ++g) {
      rmin[g] = std::min(rmin[g], x[row + g]);
      rmax[g] = std::max(rmax[g], x[row + g]);
    }
  }
  std::vector<WeightQuantParams> params;
  for (size_t g = 0; g < groups; ++g) {
    params.push_back(ComputeWeightQuantParams(rmin[g], rmax[g], is_signed));
  }
  for (size_t row = 0; row < n; row += groups) {
    for (size_t g = 0; g < groups && row + g < n; ++g) {
      out[row + g] = static_cast<uint8_t>(QuantizeWeightValue(x[row + g], params[g], is_signed));
    }
  }
  return params;
}

namespace {

using onnx::AttributeProto;
using onnx::NodeProto;
using onnx::TensorProto;

bool IsOp(const NodeProto& n, const char* op) {
  return (n.domain().empty() || n.domain() == "ai.onnx") && n.op_type() == op;
}

bool MatchesPattern(const std::string& pattern, const std::string& name) {
  if (pattern.find_first_of("*?[") != std::string::npos) {
    return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
  }
  return !pattern.empty() && name.find(pattern) != std::string::npos;
}

// onnx.helper.make_node: the name only when there is one.
NodeProto MakeNode(const char* op, std::vector<std::string> inputs,
                   std::vector<std::string> outputs, const std::string& name) {
  NodeProto n;
  n.set_op_type(op);
  for (std::string& in : inputs) n.add_input(std::move(in));
  for (std::string& out : outputs) n.add_output(std::move(out));
  if (!name.empty()) n.set_name(name);
  return n;
}

// The float32 values of initializer `t` (raw, typed or external data), read where they lie when
// they are aligned for float (a malloc'd raw_data string, a mapped external file), else copied
// into `storage`. Sets *n to their count.
const float* FloatValues(const TensorProto& t, ExternalData* external, std::vector<float>* storage,
                         size_t* n) {
  const uint64_t bytes = TensorByteSize(t);
  *n = bytes / sizeof(float);
  const char* data = nullptr;
  if (t.data_location() == TensorProto::EXTERNAL) {
    if (external == nullptr) throw Error("tensor '" + t.name() + "' has external data");
    data = external->Bytes(t, bytes).data();
  } else if (t.has_raw_data()) {
    if (t.raw_data().size() != bytes) {
      throw Error("tensor '" + t.name() + "' has " + std::to_string(t.raw_data().size()) +
                  " bytes of data for " + std::to_string(bytes));
    }
    data = t.raw_data().data();
  } else {
    if (static_cast<size_t>(t.float_data_size()) != *n) {
      throw Error("tensor '" + t.name() + "' has " + std::to_string(t.float_data_size()) +
                  " values for " + std::to_string(*n));
    }
    storage->assign(t.float_data().begin(), t.float_data().end());
    return storage->data();
  }
  if (reinterpret_cast<uintptr_t>(data) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(data);
  }
  storage->resize(*n);
  if (bytes != 0) std::memcpy(storage->data(), data, bytes);
  return storage->data();
}

// The bytes of initializer `t` as a C-order array: raw, external, or typed float data; false
// for other typed storage.
bool ReadBytes(const TensorProto& t, ExternalData* external, std::string* out) {
  const uint64_t bytes = TensorByteSize(t);
  if (t.data_location() == TensorProto::EXTERNAL) {
    if (external == nullptr) throw Error("tensor '" + t.name() + "' has external data");
    *out = std::string(external->Bytes(t, bytes));
    return true;
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != bytes) {
      throw Error("tensor '" + t.name() + "' has " + std::to_string(t.raw_data().size()) +
                  " bytes of data for " + std::to_string(bytes));
    }
    *out = t.raw_data();
    return true;
  }
  if (t.data_type() != TensorProto::FLOAT) return false;
  std::vector<float> storage;
  size_t n = 0;
  const float* values = FloatValues(t, external, &storage, &n);
  out->assign(reinterpret_cast<const char*>(values), n * sizeof(float));
  return true;
}

float FloatAttribute(const NodeProto& n, const char* name, float dflt) {
  for (const AttributeProto& a : n.attribute()) {
    if (a.name() == name) return a.f();
  }
  return dflt;
}

int64_t IntAttribute(const NodeProto& n, const char* name, int64_t dflt) {
  for (const AttributeProto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return dflt;
}

// ONNXModel.replace_gemm_with_matmul, which ONNXQuantizer runs first in dynamic mode (dynamo
// exports write Linear layers as Gemm): Gemm(A, B, C) with alpha = beta = 1 and transA = 0
// becomes MatMul(A, B') named NAME_MatMul (+ Add(., C) named NAME_Add). With transB = 1 an
// initializer B is transposed in place and moved to the end of the initializers, as ORT does;
// any other B gets a Transpose node (ORT transposes even a shared initializer in place, breaking
// its other readers: here a shared one gets a Transpose node too).
void ReplaceGemmWithMatMul(onnx::GraphProto& g, ExternalData* external) {
  std::unordered_map<std::string, int> readers;
  for (const NodeProto& n : g.node()) {
    for (const std::string& in : n.input()) ++readers[in];
  }
  std::vector<NodeProto> nodes;
  for (NodeProto& node : *g.mutable_node()) {
    if (!IsOp(node, "Gemm") || node.input_size() < 2 || node.output_size() != 1 ||
        FloatAttribute(node, "alpha", 1.0f) != 1.0f || FloatAttribute(node, "beta", 1.0f) != 1.0f ||
        IntAttribute(node, "transA", 0) != 0) {
      nodes.push_back(std::move(node));
      continue;
    }
    const bool has_c = node.input_size() > 2 && !node.input(2).empty();
    const std::string& name = node.name();
    std::string b = node.input(1);
    if (IntAttribute(node, "transB", 0) == 1) {
      int index = -1;
      for (int i = 0; i < g.initializer_size() && index < 0; ++i) {
        if (g.initializer(i).name() == b) index = i;
      }
      std::string data;
      const TensorProto* t = index < 0 ? nullptr : &g.initializer(index);
      if (t != nullptr && t->dims_size() == 2 && readers[b] == 1 && ReadBytes(*t, external, &data)) {
        // numpy_helper.from_array(B.T): dims reversed, C-order raw data.
        const size_t rows = static_cast<size_t>(t->dims(0)), cols = static_cast<size_t>(t->dims(1));
        const size_t element = OnnxElementSize(t->data_type());
        TensorProto transposed;
        transposed.add_dims(t->dims(1));
        transposed.add_dims(t->dims(0));
        transposed.set_data_type(t->data_type());
        transposed.set_name(b);
        std::string* out = transposed.mutable_raw_data();
        out->resize(data.size());
        for (size_t r = 0; r < rows; ++r) {
          for (size_t c = 0; c < cols; ++c) {
            std::memcpy(&(*out)[(c * rows + r) * element], &data[(r * cols + c) * element], element);
          }
        }
        g.mutable_initializer()->DeleteSubrange(index, 1);
        *g.add_initializer() = std::move(transposed);
        for (int i = 0; i < g.input_size(); ++i) {
          if (g.input(i).name() == b) {
            g.mutable_input()->DeleteSubrange(i, 1);
            break;
          }
        }
      } else {
        const std::string transposed = b + "_Transposed";
        nodes.push_back(MakeNode("Transpose", {b}, {transposed}, name.empty() ? "" : name + "_Transpose"));
        b = transposed;
      }
    }
    const std::string out = node.output(0);
    const std::string product = has_c ? out + "_MatMul" : out;
    nodes.push_back(MakeNode("MatMul", {node.input(0), b}, {product}, name.empty() ? "" : name + "_MatMul"));
    if (has_c) {
      nodes.push_back(MakeNode("Add", {product, node.input(2)}, {out}, name.empty() ? "" : name + "_Add"));
    }
  }
  g.clear_node();
  for (NodeProto& n : nodes) *g.add_node() = std::move(n);
}

class Quantizer {
 public:
  Quantizer(onnx::ModelProto& model, const QuantizeOptions& options, ExternalData* external)
      : model_(model), graph_(*model.mutable_graph()), options_(options), external_(external) {}

  QuantizeReport Run() {
    int opset = 0;
    for (const onnx::OperatorSetIdProto& op : model_.opset_import()) {
      if (op.domain().empty() || op.domain() == "ai.onnx") opset = static_cast<int>(op.version());
    }
    if (opset < 11) {
      throw Error("default-domain opset " + std::to_string(opset) +
                  " is too old: dynamic quantization needs DynamicQuantizeLinear (opset 11)");
    }
    // Shape annotations are never read, and stale ones break other tools: drop them.
    graph_.clear_value_info();
    ReplaceGemmWithMatMul(graph_, external_);
    for (const NodeProto& n : graph_.node()) node_names_.insert(n.name());
    for (int i = 0; i < graph_.initializer_size(); ++i) {
      initializers_.emplace(graph_.initializer(i).name(), i);  // first one wins, as find_by_name
    }
    const std::vector<bool> keep_fp32 = ChooseFp32MatMuls();

    // ONNXQuantizer.quantize_model: each node, in file order, either quantized or kept (with a
    // DequantizeLinear for each quantized input it reads); outputs of what a step emitted are
    // "generated" and need no DequantizeLinear later.
    std::vector<NodeProto> nodes(std::make_move_iterator(graph_.mutable_node()->begin()),
                                 std::make_move_iterator(graph_.mutable_node()->end()));
    graph_.clear_node();
    for (size_t i = 0; i < nodes.size(); ++i) {
      NodeProto& node = nodes[i];
      const size_t first = new_nodes_.size();
      if (!(IsOp(node, "MatMul") && QuantizeMatMul(node, keep_fp32[i])) &&
          !(IsOp(node, "Conv") && QuantizeConv(node)) &&
          !(IsOp(node, "Gather") && QuantizeGather(node))) {
        KeepNode(std::move(node));
      }
      for (size_t k = first; k < new_nodes_.size(); ++k) {
        for (const std::string& out : new_nodes_[k].output()) generated_.insert(out);
      }
    }
    for (const onnx::ValueInfoProto& out : graph_.output()) {  // _dequantize_outputs
      if (std::optional<NodeProto> dq = Dequantize(out.name())) Append(std::move(*dq));
    }
    for (NodeProto& n : SortLikeOnnxRuntime()) *graph_.add_node() = std::move(n);
    RemoveUnusedInitializers();
    model_.set_producer_name("qclip-quantize");
    model_.set_producer_version("0.1.0");
    return report_;
  }

 private:
  // ORT's QuantizedValue: the names of a value's quantized form and its parameters.
  struct QuantizedValue {
    std::string q_name, scale_name, zp_name;
    bool per_tensor_uint8 = false;
    bool dequantizable = false;  // a Gather output: FP32 readers get a DequantizeLinear
  };

  const TensorProto* FindInitializer(const std::string& name) const {
    const auto it = initializers_.find(name);
    return it == initializers_.end() ? nullptr : &graph_.initializer(it->second);
  }

  const TensorProto* FloatInitializer(const std::string& name, int rank) const {
    const TensorProto* t = FindInitializer(name);
    if (t == nullptr || t->data_type() != TensorProto::FLOAT) return nullptr;
    return rank < 0 || t->dims_size() == rank ? t : nullptr;
  }

  // QuantizeOptions::exclude; a pattern that is some node's exact name matches that node only
  // (ORT's nodes_to_exclude: "/a/MatMul" must not take "/a/MatMul_1" along).
  bool Excluded(const NodeProto& n) const {
    for (const std::string& pattern : options_.exclude) {
      if (node_names_.count(pattern) ? n.name() == pattern : MatchesPattern(pattern, n.name())) {
        return true;
      }
    }
    return false;
  }

  bool IsQuantizableMatMul(const NodeProto& n) const {
    return n.input_size() == 2 && !n.input(0).empty() && FindInitializer(n.input(0)) == nullptr &&
           FloatInitializer(n.input(1), 2) != nullptr;
  }

  // --keep-fp32-last: which nodes (by index) are among the last N MatMuls that would be
  // quantized.
  std::vector<bool> ChooseFp32MatMuls() const {
    std::vector<bool> keep(static_cast<size_t>(graph_.node_size()), false);
    int left = options_.keep_fp32_last;
    for (int i = graph_.node_size() - 1; i >= 0 && left > 0; --i) {
      const NodeProto& n = graph_.node(i);
      if (IsOp(n, "MatMul") && IsQuantizableMatMul(n) && !Excluded(n)) {
        keep[static_cast<size_t>(i)] = true;
        --left;
      }
    }
    return keep;
  }

  void Append(NodeProto n) {
    if (!n.name().empty()) new_node_names_.insert(n.name());
    new_nodes_.push_back(std::move(n));
  }

  void AddInitializer(TensorProto t) {
    initializers_.emplace(t.name(), graph_.initializer_size());
    *graph_.add_initializer() = std::move(t);
  }

  // quantize_initializer (per tensor) / quantize_weight_per_channel (one scale per column, axis
  // -1): appends W_scale, W_zero_point, W_quantized; a weight is quantized once and then shared.
  // nullopt when the weight has NaN or Inf.
  std::optional<QuantizedValue> QuantizeInitializer(const TensorProto& w, bool is_signed,
                                                    bool per_column) {
    const auto it = quantized_.find(w.name());
    if (it != quantized_.end()) return it->second;
    std::vector<float> storage;
    size_t n = 0;
    const float* values = FloatValues(w, external_, &storage, &n);
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(values[i])) return std::nullopt;
    }
    const size_t columns = per_column ? static_cast<size_t>(w.dims(w.dims_size() - 1)) : 0;
    TensorProto data;  // numpy_helper.from_array: raw_data
    std::string* raw = data.mutable_raw_data();
    raw->resize(n);
    const std::vector<WeightQuantParams> params =
        QuantizeWeights(values, n, columns, is_signed, reinterpret_cast<uint8_t*>(raw->data()));
    const int32_t qtype = is_signed ? TensorProto::INT8 : TensorProto::UINT8;
    QuantizedValue v{w.name() + "_quantized", w.name() + "_scale", w.name() + "_zero_point",
                     !is_signed && !per_column, false};
    // onnx.helper.make_tensor: scales in float_data, zero points in int32_data; dims [N] per
    // channel, scalars otherwise.
    TensorProto scale, zero_point;
    scale.set_name(v.scale_name);
    scale.set_data_type(TensorProto::FLOAT);
    zero_point.set_name(v.zp_name);
    zero_point.set_data_type(qtype);
    if (per_column) {
      scale.add_dims(static_cast<int64_t>(columns));
      zero_point.add_dims(static_cast<int64_t>(columns));
    }
    for (const WeightQuantParams& p : params) {
      scale.add_float_data(p.scale);
      zero_point.add_int32_data(p.zero_point);
    }
    data.mutable_dims()->CopyFrom(w.dims());
    data.set_data_type(qtype);
    data.set_name(v.q_name);
    AddInitializer(std::move(scale));
    AddInitializer(std::move(zero_point));
    AddInitializer(std::move(data));
    quantized_.emplace(w.name(), v);
    return v;
  }

  // The activation x through DynamicQuantizeLinear, once per x (_get_quantize_input_nodes with
  // fuse_dynamic_quant).
  QuantizedValue QuantizeActivation(const std::string& x, std::vector<NodeProto>* nodes) {
    const auto it = quantized_.find(x);
    if (it != quantized_.end()) return it->second;
    QuantizedValue v{x + "_quantized", x + "_scale", x + "_zero_point", false, false};
    nodes->push_back(MakeNode("DynamicQuantizeLinear", {x}, {v.q_name, v.scale_name, v.zp_name},
                              x + "_QuantizeLinear"));
    ++report_.dynamic_quantize;
    quantized_.emplace(x, v);
    return v;
  }

  // The integer op's output through Cast -> Mul(x_scale * w_scale), as MatMulInteger.quantize
  // and ConvInteger.quantize append them; the scales Mul is shared by name.
  void ScaleOutput(const std::string& op_name, const std::string& int_output,
                   const QuantizedValue& x, const QuantizedValue& w, const std::string& output,
                   std::vector<NodeProto>* nodes) {
    NodeProto cast =
        MakeNode("Cast", {int_output}, {int_output + "_cast_output"}, int_output + "_cast");
    AttributeProto* to = cast.add_attribute();
    to->set_name("to");
    to->set_type(AttributeProto::INT);
    to->set_i(TensorProto::FLOAT);
    nodes->push_back(std::move(cast));
    const std::string scales_mul = op_name.empty() ? x.scale_name + "_" + w.scale_name + "_mul"
                                                   : op_name + "_scales_mul";
    std::string scales = scales_mul + ":0";
    const auto existing = std::find_if(new_nodes_.begin(), new_nodes_.end(), [&](const NodeProto& n) {
      return n.name() == scales_mul;
    });
    if (existing != new_nodes_.end()) {
      scales = existing->output(0);
    } else {
      nodes->push_back(MakeNode("Mul", {x.scale_name, w.scale_name}, {scales}, scales_mul));
    }
    nodes->push_back(MakeNode("Mul", {int_output + "_cast_output", scales}, {output},
                              op_name.empty() ? "" : op_name + "_output_scale_mul"));
  }

  bool QuantizeMatMul(const NodeProto& node, bool keep_fp32) {
    if (!IsQuantizableMatMul(node)) {
      ++report_.unsupported;
      return false;
    }
    if (keep_fp32 || Excluded(node)) {
      ++report_.excluded;
      return false;
    }
    const std::optional<QuantizedValue> w =
        QuantizeInitializer(*FindInitializer(node.input(1)),
                            options_.weight_type == WeightType::kQInt8, options_.per_channel);
    if (!w) {
      ++report_.unsupported;
      return false;
    }
    std::vector<NodeProto> nodes;
    const QuantizedValue x = QuantizeActivation(node.input(0), &nodes);
    const std::string name = node.name().empty() ? "" : node.name() + "_quant";
    const std::string int_output = node.output(0) + "_output_quantized";
    nodes.push_back(MakeNode("MatMulInteger", {x.q_name, w->q_name, x.zp_name, w->zp_name},
                             {int_output}, name));
    ScaleOutput(name, int_output, x, *w, node.output(0), &nodes);
    for (NodeProto& n : nodes) Append(std::move(n));
    ++report_.matmul;
    return true;
  }

  bool QuantizeConv(const NodeProto& node) {
    const bool has_bias = node.input_size() == 3 && !node.input(2).empty();
    if (node.input_size() < 2 || node.input_size() > 3 || node.input(0).empty() ||
        FindInitializer(node.input(0)) != nullptr || FloatInitializer(node.input(1), 4) == nullptr) {
      ++report_.unsupported;
      return false;
    }
    if (Excluded(node)) {
      ++report_.excluded;
      return false;
    }
    // ORT quantizes Conv weights per tensor even with per_channel (op_level_per_channel off).
    const std::optional<QuantizedValue> w = QuantizeInitializer(
        *FindInitializer(node.input(1)), options_.weight_type == WeightType::kQInt8, false);
    if (!w) {
      ++report_.unsupported;
      return false;
    }
    std::vector<NodeProto> nodes;
    const QuantizedValue x = QuantizeActivation(node.input(0), &nodes);
    const std::string name = node.name().empty() ? "" : node.name() + "_quant";
    const std::string output = node.output(0);
    const std::string int_output = output + "_output_quantized";
    NodeProto conv = MakeNode("ConvInteger", {x.q_name, w->q_name, x.zp_name, w->zp_name},
                              {int_output}, name);
    // make_node(**kwargs) writes the attributes sorted by name.
    std::vector<const AttributeProto*> attrs;
    for (const AttributeProto& a : node.attribute()) attrs.push_back(&a);
    std::stable_sort(attrs.begin(), attrs.end(), [](const AttributeProto* a, const AttributeProto* b) {
      return a->name() < b->name();
    });
    for (const AttributeProto* a : attrs) *conv.add_attribute() = *a;
    nodes.push_back(std::move(conv));
    const std::string scaled = has_bias ? output + "quant_scaled_output" : output;
    ScaleOutput(name, int_output, x, *w, scaled, &nodes);
    if (has_bias) {  // ConvInteger.add_bias: Add(scaled, Reshape(bias, [1, -1, 1, 1]))
      const std::string shape_name = output + "_bias_reshape_shape";
      if (FindInitializer(shape_name) == nullptr) {
        TensorProto shape;
        shape.set_name(shape_name);
        shape.set_data_type(TensorProto::INT64);
        shape.add_dims(4);
        for (int64_t d : {1, -1, 1, 1}) shape.add_int64_data(d);
        AddInitializer(std::move(shape));
      }
      const std::string reshaped = output + "_bias_reshape_output";
      nodes.push_back(MakeNode("Reshape", {node.input(2), shape_name}, {reshaped}, ""));
      nodes.push_back(MakeNode("Add", {scaled, reshaped}, {output}, output + "_bias_add"));
    }
    for (NodeProto& n : nodes) Append(std::move(n));
    ++report_.conv;
    return true;
  }

  bool QuantizeGather(const NodeProto& node) {
    if (!options_.quantize_gather || node.input_size() != 2 || node.output_size() != 1) {
      return false;
    }
    const TensorProto* table = FloatInitializer(node.input(0), -1);
    if (table == nullptr || table->dims_size() == 0) return false;
    if (Excluded(node)) {
      ++report_.excluded;
      return false;
    }
    // quantize_activation on an initializer: the activation type, uint8 asymmetric, per tensor.
    const std::optional<QuantizedValue> t = QuantizeInitializer(*table, false, false);
    if (!t || !t->per_tensor_uint8) return false;
    NodeProto gather = node;
    gather.set_input(0, t->q_name);
    gather.set_output(0, node.output(0) + "_quantized");
    quantized_.emplace(node.output(0), QuantizedValue{gather.output(0), t->scale_name,
                                                      t->zp_name, true, true});
    Append(std::move(gather));
    ++report_.gather;
    return true;
  }

  // _dequantize_value: a DequantizeLinear that gives `value` back in float, when `value` is a
  // quantized Gather output no node made yet.
  std::optional<NodeProto> Dequantize(const std::string& value) const {
    const auto it = quantized_.find(value);
    if (it == quantized_.end() || !it->second.dequantizable || generated_.count(value)) {
      return std::nullopt;
    }
    const std::string name = value + "_DequantizeLinear";
    if (new_node_names_.count(name)) return std::nullopt;
    const QuantizedValue& q = it->second;
    return MakeNode("DequantizeLinear", {q.q_name, q.scale_name, q.zp_name}, {value}, name);
  }

  // QuantOperatorBase.quantize: the node as it is, after DequantizeLinear for its inputs.
  void KeepNode(NodeProto node) {
    for (const std::string& in : node.input()) {
      if (std::optional<NodeProto> dq = Dequantize(in)) Append(std::move(*dq));
    }
    Append(std::move(node));
  }

  // ONNXModel.topological_sort (run by save_model_to_file): nodes without inputs first, then
  // those freed by the initializers and graph inputs taken in sorted name order, then breadth
  // first from the outputs of the nodes placed so far.
  std::vector<NodeProto> SortLikeOnnxRuntime() {
    const size_t n = new_nodes_.size();
    std::vector<int> deps(n, 0);
    std::unordered_map<std::string, std::vector<size_t>> readers;
    std::vector<size_t> order;
    for (size_t i = 0; i < n; ++i) {
      for (const std::string& in : new_nodes_[i].input()) {
        if (in.empty()) continue;
        ++deps[i];
        readers[in].push_back(i);
      }
      if (deps[i] == 0) order.push_back(i);
    }
    auto release = [&](const std::string& name) {
      const auto it = readers.find(name);
      if (it == readers.end()) return;
      for (size_t i : it->second) {
        if (--deps[i] == 0) order.push_back(i);
      }
    };
    std::vector<std::string> names;
    for (const TensorProto& t : graph_.initializer()) names.push_back(t.name());
    for (const onnx::ValueInfoProto& in : graph_.input()) names.push_back(in.name());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const std::string& name : names) release(name);
    for (size_t k = 0; k < order.size(); ++k) {
      for (const std::string& out : new_nodes_[order[k]].output()) release(out);
    }
    if (order.size() != n) {
      for (size_t i = 0; i < n; ++i) {
        if (deps[i] > 0) {
          throw Error("node '" + new_nodes_[i].name() + "' (" + new_nodes_[i].op_type() +
                      ") reads a value no node, initializer or graph input produces, or the graph "
                      "has a cycle");
        }
      }
    }
    std::vector<NodeProto> sorted;
    sorted.reserve(n);
    for (size_t i : order) sorted.push_back(std::move(new_nodes_[i]));
    new_nodes_.clear();
    return sorted;
  }

  // _clean_initializers_helper: drop initializers no node or graph output reads (the FP32
  // weights that were quantized, among others), and their graph inputs.
  void RemoveUnusedInitializers() {
    std::unordered_set<std::string> wanted;
    for (const NodeProto& node : graph_.node()) {
      for (const std::string& in : node.input()) {
        if (!in.empty()) wanted.insert(in);
      }
    }
    for (const onnx::ValueInfoProto& out : graph_.output()) wanted.insert(out.name());
    for (const NodeProto& node : graph_.node()) {
      for (const std::string& out : node.output()) wanted.erase(out);
    }
    std::unordered_set<std::string> removed;
    auto* inits = graph_.mutable_initializer();
    int kept = 0;
    for (int i = 0; i < inits->size(); ++i) {
      if (wanted.erase(inits->Get(i).name())) {
        inits->SwapElements(i, kept++);
      } else {
        removed.insert(inits->Get(i).name());
      }
    }
    inits->DeleteSubrange(kept, inits->size() - kept);
    auto* inputs = graph_.mutable_input();
    kept = 0;
    for (int i = 0; i < inputs->size(); ++i) {
      if (!removed.count(inputs->Get(i).name())) inputs->SwapElements(i, kept++);
    }
    inputs->DeleteSubrange(kept, inputs->size() - kept);
    initializers_.clear();
  }

  onnx::ModelProto& model_;
  onnx::GraphProto& graph_;
  const QuantizeOptions& options_;
  ExternalData* external_;
  QuantizeReport report_;
  std::unordered_map<std::string, int> initializers_;  // name -> index in graph_.initializer
  std::unordered_set<std::string> node_names_;         // of the nodes as they came
  std::map<std::string, QuantizedValue> quantized_;    // ORT's quantized_value_map
  std::unordered_set<std::string> generated_;          // ORT's generated_value_names
  std::vector<NodeProto> new_nodes_;
  std::unordered_set<std::string> new_node_names_;
};

}  // namespace

QuantizeReport QuantizeModel(onnx::ModelProto& model, const QuantizeOptions& options,
                             ExternalData* external) {
  if (!model.has_graph()) throw Error("the model has no graph");
  if (options.keep_fp32_last < 0) throw Error("keep_fp32_last must be >= 0");
  return Quantizer(model, options, external).Run();
}

QuantizeFileReport QuantizeOnnxFile(const std::string& in_path, const std::string& out_path,
                                    const QuantizeOptions& options) {
  QuantizeFileReport r;
  std::unique_ptr<onnx::ModelProto> model;
  {
    const std::shared_ptr<MappedFile> file = MappedFile::Open(in_path);
    r.input_bytes = file->size();
    model = ParseModelProto(file->data(), file->size(), in_path);
  }
  ExternalData external(ModelFolder(in_path));
  try {
    r.quantize = QuantizeModel(*model, options, &external);
    EmbedExternalData(*model, external);
  } catch (const Error& e) {
    throw Error(in_path + ": " + e.what());
  }
  r.external_bytes = external.mapped_bytes();
  r.output_bytes = WriteModelProto(*model, out_path);
  return r;
}

Graph LoadQuantizedOnnxModel(const std::string& path, const QuantizeOptions& options) {
  const std::string dir = ModelFolder(path);
  std::unique_ptr<onnx::ModelProto> model = ReadModelProto(path);
  ExternalData external(dir);
  QuantizeReport report;
  try {
    report = QuantizeModel(*model, options, &external);
  } catch (const Error& e) {
    throw Error(path + ": quantizing weights: " + e.what());
  }
  if (report.quantized() == 0) return LoadOnnxModel(path);
  // FP32 tensors left in external data stay there: the loader maps them from `dir`.
  if (model->ByteSizeLong() >= size_t{INT32_MAX}) {
    throw Error(path + ": the quantized model is 2 GiB or more");
  }
  std::string data;
  model->SerializeToString(&data);
  model.reset();
  return ParseOnnxModel(data.data(), data.size(), path, dir);
}

}  // namespace qclip

// Float16 models run as ONNX Runtime 1.30's CPU provider runs them: almost entirely in float32.
//
// What ONNX Runtime does with a float16 graph (onnxruntime/core/optimizer/
// insert_cast_transformer.cc and layer_norm_fusion.cc; checked on the fixtures by dumping the
// graph onnxruntime-node 1.30 runs, session option optimizedModelFilePath):
//  1. A node whose op has no float16 CPU kernel (Add, MatMul, Softmax, Erf, Where, ... nearly
//     all arithmetic) is wrapped in Casts to float32 and back and runs in float32
//     (InsertCastTransformer). The ops that do have one are in kFloat16Kernels below.
//  2. A node that has a float16 kernel but whose float16 neighbours all run in float32 is forced
//     to float32 too, saving its Casts (IsIsolatedFp16NodeOnCpu).
//  3. RemoveDuplicateCastTransformer then deletes every Cast-to-float16 -> Cast-to-float32 pair,
//     even the ones InsertCastTransformer made around float32 nodes and those after a model's own
//     Cast to float16: a float32 node reads its float32 producer's result unrounded. A value is
//     rounded to float16 only where a float16 node reads it (the Reshape -> Transpose between
//     BERT's Q/K/V MatMuls and the attention, say), or where it leaves the graph as float16.
//  4. At ORT_ENABLE_ALL, (Simplified)LayerNormFusion fuses the float32 LayerNorm subgraph but
//     takes its epsilon only from a float32 initializer. A float16 model's epsilon is behind a
//     Cast, so the fused node uses the default 1e-5 (not the model's: BERT's 1e-12, which the
//     float16 converter clamps to 6e-8).
//
// qclip computes every float16 tensor in float32 (float16 constants and Casts promoted) and
// reproduces 3 with qclip.RoundToFloat16 nodes and 4 by rewriting the epsilon.
#include <algorithm>
#include <cstring>

#include "graph/passes.h"

namespace qclip {

namespace {

bool Is(const Node& n, const char* op) { return IsOnnxOp(n, op); }

bool IsOneOf(const Node& n, std::initializer_list<const char*> ops) {
  return std::any_of(ops.begin(), ops.end(), [&](const char* op) { return Is(n, op); });
}

// ONNX ops with a float16 kernel in ONNX Runtime 1.30's CPU provider (x86-64), from the opset
// they have it: found by loading a one-node float16 model of each op in onnxruntime-node 1.30.0
// and checking whether it inserted Casts. Cast, which has one, is dealt with on its own.
struct Float16Kernel {
  const char* op;
  int since;
  bool rounds;  // computes in float32 and rounds its result; the other ops are exact on float16
};
constexpr Float16Kernel kFloat16Kernels[] = {
    // Ops that move or select elements.
    {"Concat", 1, false},
    {"ConstantOfShape", 9, false},
    {"Expand", 8, false},
    {"Flatten", 1, false},
    {"Gather", 1, false},
    {"GatherElements", 11, false},
    {"GatherND", 11, false},
    {"Identity", 1, false},
    {"Reshape", 1, false},
    {"ScatterND", 11, false},
    {"Shape", 1, false},
    {"Slice", 1, false},
    {"Split", 1, false},
    {"Squeeze", 1, false},
    {"Transpose", 1, false},
    {"Unsqueeze", 1, false},
    // Exact on float16 inputs.
    {"Clip", 12, false},
    {"IsInf", 20, false},
    {"IsNaN", 9, false},
    {"Max", 12, false},
    {"Min", 12, false},
    {"Mod", 10, false},
    {"Round", 11, false},
    {"Sign", 9, false},
    {"LayerNormalization", 17, true},
};

const Float16Kernel* FindFloat16Kernel(const Graph& g, const Node& n) {
  for (const Float16Kernel& k : kFloat16Kernels) {
    if (Is(n, k.op) && g.opset("") >= k.since) return &k;
  }
  return nullptr;
}

// Which values are float16 in the model as written. The loader keeps no value_info, so this
// follows the types from constants and graph inputs: an op's outputs are float16 when one of its
// inputs is, but for Casts, ConstantOfShape and ops with non-float outputs. Of several outputs
// only Split's all follow (not TopK's or MaxPool's indices, nor LayerNormalization's statistics).
std::vector<bool> Float16Values(const Graph& g) {
  std::vector<bool> half(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& value = g.values[v];
    half[v] = (value.is_constant() ? value.constant.dtype() : value.dtype) == DType::kFloat16;
  }
  for (const Node& n : g.nodes) {
    bool out =
        std::any_of(n.inputs.begin(), n.inputs.end(), [&](int v) { return v >= 0 && half[v]; });
    if (Is(n, "Cast")) {
      out = n.GetInt("to") == static_cast<int64_t>(DType::kFloat16);
    } else if (Is(n, "ConstantOfShape")) {
      out = n.has("value") && n.GetTensor("value").dtype() == DType::kFloat16;
    } else if (IsOneOf(n, {"Shape", "Size", "Equal", "Less", "LessOrEqual", "Greater",
                           "GreaterOrEqual", "IsNaN", "IsInf", "Not", "And", "Or", "Xor", "ArgMax",
                           "ArgMin", "NonZero"})) {
      out = false;
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i] >= 0) half[n.outputs[i]] = out && (i == 0 || Is(n, "Split"));
    }
  }
  return half;
}

// Whether a model's Cast reading float16 goes to a type float16 loses precision against,
// by RemoveDuplicateCastTransformer's UnsafeCast: float32, double, or an integer of 16 or more
// bits (ONNX data types 1, 11; 4, 5, 6, 7, 12, 13).
bool UndoesFloat16(const Node& n) {
  if (!Is(n, "Cast")) return false;
  const int64_t to = n.GetInt("to");
  return to == 1 || to == 11 || (to >= 4 && to <= 7) || to == 12 || to == 13;
}

// The model's float16 values and how ONNX Runtime runs the nodes around them.
struct Float16Graph : ValueUses {
  const Graph& g;
  std::vector<bool> half;        // per value: float16 in the model
  std::vector<bool> in_float16;  // per node: ONNX Runtime runs it in float16

  explicit Float16Graph(const Graph& graph)
      : ValueUses(graph), g(graph), half(Float16Values(graph)) {
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      const Node& n = g.nodes[k];
      in_float16.push_back(!Is(n, "Cast") && FindFloat16Kernel(g, n) != nullptr &&
                           (AnyHalf(n.inputs) || AnyHalf(n.outputs)) && !Isolated(n));
    }
  }

  bool AnyHalf(const std::vector<int>& values) const {
    return std::any_of(values.begin(), values.end(), [&](int v) { return v >= 0 && half[v]; });
  }

  // ORT's NodeNeedsInputCastToFp32: the node reads float16 and has no float16 kernel.
  bool NeedsCast(int k) const {
    const Node& n = g.nodes[k];
    return !Is(n, "Cast") && FindFloat16Kernel(g, n) == nullptr && AnyHalf(n.inputs);
  }

  // ORT's IsIsolatedFp16NodeOnCpu, for a node with a float16 kernel: it runs in float32 when it
  // has an input from another node, produces no graph output, and all the nodes its float16
  // inputs come from and its float16 outputs go to run in float32. Like ORT it looks at the
  // first input of a variadic parameter only (Concat, Max, Min) and at Split's first output.
  bool Isolated(const Node& n) const {
    const bool from_node = std::any_of(n.inputs.begin(), n.inputs.end(),
                                       [&](int v) { return v >= 0 && producer[v] >= 0; });
    if (!from_node || std::any_of(n.outputs.begin(), n.outputs.end(),
                                  [&](int v) { return v >= 0 && graph_output[v]; })) {
      return false;
    }
    const bool variadic = IsOneOf(n, {"Concat", "Max", "Min"});
    const size_t checked_inputs = variadic ? std::min<size_t>(1, n.inputs.size()) : n.inputs.size();
    bool half_input = false;
    for (size_t i = 0; i < checked_inputs; ++i) {
      const int v = n.inputs[i];
      if (v < 0 || !half[v]) continue;
      half_input = true;
      if (producer[v] >= 0 && !NeedsCast(producer[v])) return false;
    }
    const size_t checked_outputs =
        Is(n, "Split") ? std::min<size_t>(1, n.outputs.size()) : n.outputs.size();
    bool half_output = false;
    for (size_t i = 0; i < checked_outputs; ++i) {
      const int v = n.outputs[i];
      if (v < 0 || !half[v]) continue;
      half_output = true;
      for (int r : readers[v]) {
        if (!NeedsCast(r)) return false;
      }
    }
    return half_input && half_output;
  }

  // Whether float16 value v, as ONNX Runtime computes it, is rounded to float16: for every
  // reader, or (true with *unrounded filled) for all but the readers in *unrounded.
  bool Rounded(int v, std::vector<int>* unrounded) const {
    const int p = producer[v];
    if (!half[v] || p < 0) return false;  // a constant or graph input is float16 already
    if (in_float16[p]) return FindFloat16Kernel(g, g.nodes[p])->rounds;
    // Computed in float32, or cast to float16 by the model: only float16 readers keep their
    // Cast to float16, and a graph output. Shape and IsNaN do too, but rounding cannot change
    // what they see. A model's Cast to float16 that another of its Casts undoes, though, is a
    // precision loss RemoveDuplicateCastTransformer keeps, for every reader.
    const bool kept_cast =
        Is(g.nodes[p], "Cast") && std::any_of(readers[v].begin(), readers[v].end(),
                                              [&](int r) { return UndoesFloat16(g.nodes[r]); });
    bool rounded = graph_output[v];
    for (int r : readers[v]) {
      if (kept_cast || (in_float16[r] && !IsOneOf(g.nodes[r], {"Shape", "IsNaN"}))) {
        rounded = true;
      } else {
        unrounded->push_back(r);
      }
    }
    return rounded;
  }
};

// Behaviour 4 above: for the LayerNorm variance subgraph SimplifiedLayerNormFusion matches,
// Pow(x, .) -> ReduceMean(last axis) -> Add(., eps) -> Sqrt -> Div(x, .) -> Mul(., 1-D scale),
// each node read once, a float16 epsilon becomes 1e-5.
void UseOrtLayerNormEpsilon(Graph& g, const Float16Graph& f) {
  auto reads_last_axis = [&](const Node& n) {
    std::vector<int64_t> axes = n.GetInts("axes", {});
    if (n.inputs.size() > 1 && n.inputs[1] >= 0 && g.values[n.inputs[1]].is_constant()) {
      const Tensor& t = g.values[n.inputs[1]].constant;
      if (t.dtype() == DType::kInt64) axes.assign(t.data<int64_t>(), t.data<int64_t>() + t.size());
    }
    return axes == std::vector<int64_t>{-1};
  };
  // A node's first input or output, -1 if it has none: a file can give a node any number.
  const auto in0 = [](const Node& n) { return n.inputs.empty() ? -1 : n.inputs[0]; };
  const auto out0 = [](const Node& n) { return n.outputs.empty() ? -1 : n.outputs[0]; };
  auto next = [&](int v, const char* op) {
    const int k = f.OnlyReader(v);
    return k >= 0 && Is(g.nodes[k], op) ? k : -1;
  };
  for (const Node& pow : g.nodes) {
    if (!Is(pow, "Pow") || out0(pow) < 0 || in0(pow) < 0 || !f.half[out0(pow)]) continue;
    const int mean_k = next(out0(pow), "ReduceMean");
    if (mean_k < 0 || !reads_last_axis(g.nodes[mean_k])) continue;
    const int var = out0(g.nodes[mean_k]);
    const int add_k = next(var, "Add");
    const int sqrt_k = add_k < 0 ? -1 : next(out0(g.nodes[add_k]), "Sqrt");
    const int div_k = sqrt_k < 0 ? -1 : next(out0(g.nodes[sqrt_k]), "Div");
    if (div_k < 0 || in0(g.nodes[div_k]) != in0(pow)) continue;
    const int mul_k = next(out0(g.nodes[div_k]), "Mul");
    if (mul_k < 0) continue;
    const std::vector<int>& mul_in = g.nodes[mul_k].inputs;
    const bool has_scale = std::any_of(mul_in.begin(), mul_in.end(), [&](int v) {
      return v >= 0 && g.values[v].is_constant() && g.values[v].constant.rank() == 1;
    });
    Node& add = g.nodes[add_k];
    if (!has_scale || add.inputs.size() != 2) continue;
    int& eps = add.inputs[add.inputs[0] == var ? 1 : 0];
    if (eps < 0 || !g.values[eps].is_constant() ||
        g.values[eps].constant.dtype() != DType::kFloat16) {
      continue;
    }
    Tensor ort_eps(DType::kFloat32, g.values[eps].constant.shape());
    std::fill(ort_eps.data<float>(), ort_eps.data<float>() + ort_eps.size(), 1e-5f);
    const std::string name = g.values[eps].name + "/ort_layernorm_default";
    const int v = g.AddValue(name, DType::kFloat32);
    g.values[v].constant = std::move(ort_eps);
    eps = v;
  }
}

// Behaviour 3 above: each float16 value ONNX Runtime rounds is now written by a
// qclip.RoundToFloat16 node after its producer, which writes the float32 result to a new value
// that the readers seeing it unrounded read instead.
void InsertFloat16Rounding(Graph& g, const Float16Graph& f) {
  std::vector<std::vector<Node>> after(g.nodes.size());
  for (size_t v = 0; v < f.half.size(); ++v) {
    std::vector<int> unrounded;
    if (!f.Rounded(static_cast<int>(v), &unrounded)) continue;
    const int raw = g.AddValue(g.values[v].name + "/float32");
    const int p = f.producer[v];
    std::replace(g.nodes[p].outputs.begin(), g.nodes[p].outputs.end(), static_cast<int>(v), raw);
    for (int r : unrounded) {
      std::replace(g.nodes[r].inputs.begin(), g.nodes[r].inputs.end(), static_cast<int>(v), raw);
    }
    Node round;
    round.name = g.values[v].name + "/round_to_float16";
    round.op_type = "RoundToFloat16";
    round.domain = "qclip";
    round.inputs = {raw};
    round.outputs = {static_cast<int>(v)};
    after[p].push_back(std::move(round));
  }
  std::vector<Node> nodes;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    nodes.push_back(std::move(g.nodes[k]));
    for (Node& n : after[k]) nodes.push_back(std::move(n));
  }
  g.nodes = std::move(nodes);
}

// IEEE binary16 -> binary32, exact for every value (subnormals, inf and NaN included).
Tensor ToFloat32(const Tensor& h) {
  Tensor f(DType::kFloat32, h.shape());
  const uint16_t* src = h.data<uint16_t>();
  for (int64_t i = 0; i < h.size(); ++i) {
    const uint32_t sign = (src[i] & 0x8000u) << 16;
    uint32_t exp = (src[i] >> 10) & 0x1f;
    uint32_t man = src[i] & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
      bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
      bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
      bits = sign;
    } else {
      exp = 113;
      while ((man & 0x400u) == 0) {
        man <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
    std::memcpy(&f.data<float>()[i], &bits, 4);
  }
  return f;
}

}  // namespace

void PromoteFloat16(Graph& g) {
  {
    const Float16Graph f(g);
    UseOrtLayerNormEpsilon(g, f);
    InsertFloat16Rounding(g, f);
  }
  for (Value& v : g.values) {
    if (v.dtype == DType::kFloat16) v.dtype = DType::kFloat32;
    if (v.is_constant() && v.constant.dtype() == DType::kFloat16)
      v.constant = ToFloat32(v.constant);
  }
  for (Node& n : g.nodes) {
    if (Is(n, "Cast") && n.GetInt("to") == static_cast<int64_t>(DType::kFloat16)) {
      n.attrs["to"].i = static_cast<int64_t>(DType::kFloat32);
    }
    if (Is(n, "ConstantOfShape") && n.has("value") &&
        n.GetTensor("value").dtype() == DType::kFloat16) {
      n.attrs["value"].t = ToFloat32(n.GetTensor("value"));
    }
  }
}

}  // namespace qclip

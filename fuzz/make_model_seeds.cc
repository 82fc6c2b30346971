// Writes the seed models of fuzz/corpus/load_model: small graphs, a few hundred bytes each, that
// between them reach every op family, the three fusion patterns (decomposed LayerNorm, erf GELU,
// ONNX Runtime's dynamic quantization chain), float16 promotion, external data, Constant nodes,
// shape-only subgraphs that fold at plan time, and qclip's own domain. Real models are megabytes:
// too large for the fuzzer to mutate usefully.
//
// With --hostile, writes instead the hand-made hostile models of tests/data/hostile/onnx that the
// CLI tests feed to every tool (each must be refused with a clear message).
//
//   make_model_seeds OUT_DIR
//   make_model_seeds --hostile OUT_DIR
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "onnx_qclip/onnx.pb.h"

namespace {

using TP = onnx::TensorProto;

class Model {
 public:
  explicit Model(int opset = 17) {
    m_.set_ir_version(8);
    m_.add_opset_import()->set_version(opset);
    g()->set_name("seed");
  }

  // dims: >= 0 fixed, -1 "batch", -2 "sequence".
  void Input(const std::string& name, int elem_type, std::initializer_list<int64_t> dims) {
    auto* tt = g()->add_input()->mutable_type()->mutable_tensor_type();
    g()->mutable_input(g()->input_size() - 1)->set_name(name);
    tt->set_elem_type(elem_type);
    auto* shape = tt->mutable_shape();
    for (const int64_t d : dims) {
      if (d >= 0) {
        shape->add_dim()->set_dim_value(d);
      } else {
        shape->add_dim()->set_dim_param(d == -1 ? "batch" : "sequence");
      }
    }
  }
  void Output(const std::string& name) { g()->add_output()->set_name(name); }

  TP* Floats(const std::string& name, std::initializer_list<int64_t> dims,
             std::vector<float> values = {}) {
    int64_t n = 1;
    for (const int64_t d : dims) n *= d;
    if (values.empty()) {
      for (int64_t i = 0; i < n; ++i) values.push_back(0.25f * static_cast<float>(i % 7) - 0.5f);
    }
    TP* t = Tensor(name, TP::FLOAT, dims);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
    return t;
  }
  TP* Ints(const std::string& name, std::initializer_list<int64_t> dims,
           std::vector<int64_t> values) {
    TP* t = Tensor(name, TP::INT64, dims);
    for (const int64_t v : values) t->add_int64_data(v);  // typed field, not raw_data
    return t;
  }
  TP* Bytes(const std::string& name, int elem_type, std::initializer_list<int64_t> dims,
            const std::string& raw) {
    TP* t = Tensor(name, elem_type, dims);
    t->set_raw_data(raw);
    return t;
  }

  onnx::NodeProto* Node(const std::string& op, std::initializer_list<const char*> inputs,
                        std::initializer_list<const char*> outputs, const char* domain = "") {
    onnx::NodeProto* n = g()->add_node();
    n->set_name(op + std::to_string(g()->node_size()));
    n->set_op_type(op);
    n->set_domain(domain);
    for (const char* i : inputs) n->add_input(i);
    for (const char* o : outputs) n->add_output(o);
    return n;
  }

  onnx::ModelProto& proto() { return m_; }
  const onnx::ModelProto& proto() const { return m_; }

 private:
  TP* Tensor(const std::string& name, int elem_type, std::initializer_list<int64_t> dims) {
    TP* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(elem_type);
    for (const int64_t d : dims) t->add_dims(d);
    return t;
  }

  // Not kept as a member pointer: a Model is copied and returned by value.
  onnx::GraphProto* g() { return m_.mutable_graph(); }

  onnx::ModelProto m_;
};

void Int(onnx::NodeProto* n, const char* name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void Ints(onnx::NodeProto* n, const char* name, std::initializer_list<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (const int64_t x : v) a->add_ints(x);
}
void Float(onnx::NodeProto* n, const char* name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
// A Constant node with a scalar float value_float.
void ConstFloat(Model& m, const char* out, float v) {
  Float(m.Node("Constant", {}, {out}), "value_float", v);
}

bool Save(const Model& m, const std::string& dir, const std::string& name) {
  std::ofstream f(dir + "/" + name + ".onnx", std::ios::binary);
  return m.proto().SerializeToOstream(&f);
}

std::string Int8s(std::initializer_list<int> v) {
  std::string s;
  for (const int x : v) s.push_back(static_cast<char>(x));
  return s;
}

}  // namespace

// The hostile models: each differs from a valid one (y = x + w) by one problem.
bool WriteHostile(const std::string& dir) {
  const auto add_model = [] {
    Model m;
    m.Input("x", TP::FLOAT, {-1, 3});
    m.Floats("w", {3}, {1, 2, 3});
    m.Node("Add", {"x", "w"}, {"y"});
    m.Output("y");
    return m;
  };
  const auto external = [&](const char* location, const char* offset) {
    Model m = add_model();
    TP* w = m.proto().mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(TP::EXTERNAL);
    for (const auto& [k, v] : {std::pair<const char*, const char*>{"location", location},
                               {"offset", offset}}) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    return m;
  };
  bool ok = true;
  {  // Two nodes that read each other's output.
    Model m = add_model();
    m.proto().mutable_graph()->mutable_node(0)->set_input(0, "z");
    m.Node("Add", {"y", "w"}, {"z"});
    ok &= Save(m, dir, "cycle");
  }
  {  // A node reads a value nothing produces.
    Model m = add_model();
    m.proto().mutable_graph()->mutable_node(0)->set_input(1, "ghost");
    ok &= Save(m, dir, "dangling_input");
  }
  {  // Dimensions whose product overflows int64.
    Model m = add_model();
    TP* w = m.proto().mutable_graph()->mutable_initializer(0);
    w->clear_dims();
    w->add_dims(int64_t{1} << 40);
    w->add_dims(int64_t{1} << 40);
    ok &= Save(m, dir, "overflowing_dims");
  }
  {  // A billion floats declared, 12 bytes present.
    Model m = add_model();
    m.proto().mutable_graph()->mutable_initializer(0)->set_dims(0, 1000000000);
    ok &= Save(m, dir, "missing_data");
  }
  {  // Expand to 2^60 floats: refused when planned, before any allocation.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 3});
    m.Floats("one", {}, {1.0f});
    m.Ints("huge", {3}, {int64_t{1} << 20, int64_t{1} << 20, int64_t{1} << 20});
    m.Node("Expand", {"one", "huge"}, {"big"});
    m.Node("Add", {"x", "big"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "expand_bomb");
  }
  // Found by fuzzing: the graph passes indexed inputs and outputs a node may not have.
  {  // A one-input Div, which the GELU pattern reads the divisor of.
    Model m = add_model();
    m.Node("Div", {"y"}, {"d"});
    m.Node("Identity", {"d"}, {"e"});
    m.Output("e");
    ok &= Save(m, dir, "pass_div_one_input");
  }
  {  // A LayerNorm-like ReduceMean -> Sub whose output is omitted ("").
    Model m = add_model();
    Ints(m.Node("ReduceMean", {"y"}, {"mean"}), "axes", {-1});
    m.Node("Sub", {"y", "mean"}, {""});
    ok &= Save(m, dir, "pass_sub_omitted_output");
  }
  {  // float16: a Pow without outputs, a Split without outputs.
    Model m;
    m.Input("x", TP::FLOAT16, {-1, 2});
    m.Bytes("two", TP::FLOAT16, {}, Int8s({0x00, 0x40}));
    m.Node("Identity", {"x"}, {"a"});
    m.Node("Pow", {"a", "two"}, {});
    m.Node("Split", {"a"}, {});
    m.Node("Identity", {"a"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "float16_nodes_without_outputs");
  }
  {  // Tile of the input to 2^40 times its size: refused when the run's arena is allocated.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 3});
    m.Ints("reps", {2}, {int64_t{1} << 20, int64_t{1} << 20});
    m.Node("Tile", {"x", "reps"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "tile_activation_bomb");
  }
  ok &= Save(external("../outside.bin", "0"), dir, "external_escapes_folder");
  ok &= Save(external("/etc/passwd", "0"), dir, "external_absolute_path");
  ok &= Save(external("short.bin", "0"), dir, "external_past_end");  // short.bin: 8 bytes
  ok &= Save(external("short.bin", "99999999999999"), dir, "external_offset_past_end");
  ok &= Save(external("missing.bin", "0"), dir, "external_missing");
  return ok;
}

int main(int argc, char** argv) {
  const bool hostile = argc == 3 && std::strcmp(argv[1], "--hostile") == 0;
  if (argc != 2 && !hostile) {
    std::fprintf(stderr, "usage: make_model_seeds [--hostile] OUT_DIR\n");
    return 1;
  }
  const std::string dir = argv[argc - 1];
  if (hostile) {
    if (WriteHostile(dir)) return 0;
    std::fprintf(stderr, "make_model_seeds: cannot write to %s\n", dir.c_str());
    return 1;
  }
  bool ok = true;

  {  // Broadcast arithmetic on a batch.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 3});
    m.Floats("w", {3}, {1, 2, 3});
    m.Node("Add", {"x", "w"}, {"a"});
    m.Node("Mul", {"a", "x"}, {"b"});
    m.Node("Sub", {"b", "w"}, {"c"});
    m.Node("Div", {"c", "w"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "arithmetic");
  }
  {  // Gemm, activations, Softmax.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 4});
    m.Floats("w", {3, 4});
    m.Floats("b", {3});
    Int(m.Node("Gemm", {"x", "w", "b"}, {"g"}), "transB", 1);
    m.Node("Relu", {"g"}, {"r"});
    m.Node("Tanh", {"r"}, {"t"});
    m.Node("Sigmoid", {"t"}, {"s"});
    Int(m.Node("Softmax", {"s"}, {"y"}), "axis", -1);
    m.Output("y");
    ok &= Save(m, dir, "gemm_softmax");
  }
  {  // Decomposed LayerNorm, which fuses to LayerNormalization.
    Model m;
    m.Input("x", TP::FLOAT, {-1, -2, 4});
    m.Floats("two", {}, {2.0f});
    m.Floats("eps", {}, {1e-5f});
    m.Floats("gamma", {4});
    m.Floats("beta", {4});
    Ints(m.Node("ReduceMean", {"x"}, {"mean"}), "axes", {-1});
    m.Node("Sub", {"x", "mean"}, {"d"});
    m.Node("Pow", {"d", "two"}, {"sq"});
    Ints(m.Node("ReduceMean", {"sq"}, {"var"}), "axes", {-1});
    m.Node("Add", {"var", "eps"}, {"ve"});
    m.Node("Sqrt", {"ve"}, {"sd"});
    m.Node("Div", {"d", "sd"}, {"n"});
    m.Node("Mul", {"n", "gamma"}, {"ng"});
    m.Node("Add", {"ng", "beta"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "layernorm_decomposed");
  }
  {  // erf GELU, which fuses to Gelu; LayerNormalization as an op.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 4});
    m.Floats("gamma", {4});
    m.Floats("beta", {4});
    ConstFloat(m, "sqrt2", 1.4142135f);
    ConstFloat(m, "one", 1.0f);
    ConstFloat(m, "half", 0.5f);
    Float(m.Node("LayerNormalization", {"x", "gamma", "beta"}, {"l"}), "epsilon", 1e-5f);
    m.Node("Div", {"l", "sqrt2"}, {"d"});
    m.Node("Erf", {"d"}, {"e"});
    m.Node("Add", {"e", "one"}, {"a"});
    m.Node("Mul", {"l", "a"}, {"p"});
    m.Node("Mul", {"p", "half"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "gelu_erf");
  }
  {  // ONNX Runtime's dynamic quantization chain, which fuses to qclip.QuantizedLinear.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 4});
    m.Bytes("w", TP::INT8, {4, 2}, Int8s({1, -2, 3, -4, 5, -6, 7, -8}));
    m.Floats("w_scale", {}, {0.05f});
    m.Bytes("w_zp", TP::INT8, {}, Int8s({0}));
    m.Floats("bias", {2}, {0.5f, -0.5f});
    m.Node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"});
    m.Node("MatMulInteger", {"xq", "w", "xz", "w_zp"}, {"mm"});
    Int(m.Node("Cast", {"mm"}, {"mf"}), "to", TP::FLOAT);
    m.Node("Mul", {"xs", "w_scale"}, {"scale"});
    m.Node("Mul", {"mf", "scale"}, {"ms"});
    m.Node("Add", {"ms", "bias"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "quantized_linear_chain");
  }
  {  // Attention-shaped: shape arithmetic that folds at plan time, Reshape, Transpose, MatMul.
    Model m;
    m.Input("x", TP::FLOAT, {-1, -2, 4});
    m.Input("mask", TP::INT64, {-1, -2});
    m.Ints("zero", {1}, {0});
    m.Ints("one", {1}, {1});
    m.Ints("heads", {2}, {2, 2});
    m.Floats("big", {}, {-10000.0f});
    m.Floats("onef", {}, {1.0f});
    m.Node("Shape", {"x"}, {"shape"});
    Int(m.Node("Gather", {"shape", "zero"}, {"b"}), "axis", 0);
    Int(m.Node("Gather", {"shape", "one"}, {"s"}), "axis", 0);
    Int(m.Node("Concat", {"b", "s", "heads"}, {"split_shape"}), "axis", 0);
    m.Node("Reshape", {"x", "split_shape"}, {"xh"});
    Ints(m.Node("Transpose", {"xh"}, {"q"}), "perm", {0, 2, 1, 3});
    Ints(m.Node("Transpose", {"xh"}, {"k"}), "perm", {0, 2, 3, 1});
    m.Node("MatMul", {"q", "k"}, {"scores"});
    Int(m.Node("Cast", {"mask"}, {"maskf"}), "to", TP::FLOAT);
    m.Node("Sub", {"onef", "maskf"}, {"inv"});
    m.Node("Mul", {"inv", "big"}, {"bias2"});
    m.Node("Unsqueeze", {"bias2", "one"}, {"bias3"});
    m.Node("Unsqueeze", {"bias3", "one"}, {"bias4"});
    m.Node("Add", {"scores", "bias4"}, {"masked"});
    Int(m.Node("Softmax", {"masked"}, {"probs"}), "axis", -1);
    m.Node("MatMul", {"probs", "q"}, {"ctx"});
    Ints(m.Node("Transpose", {"ctx"}, {"ctxt"}), "perm", {0, 2, 1, 3});
    m.Node("Shape", {"x"}, {"xshape"});
    m.Node("Reshape", {"ctxt", "xshape"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "attention");
  }
  {  // ViT attention as timm exports it: one qkv projection split by Transpose/Split/Squeeze,
     // Q and K^T scaled by a scalar derived from a Shape, torch's NaN guard after the softmax.
    Model m;
    m.Input("x", TP::FLOAT, {-1, -2, 12});
    m.Ints("qkv_shape", {5}, {0, 0, 3, 2, 2});
    m.Ints("split", {3}, {1, 1, 1});
    m.Ints("axis0", {1}, {0});
    m.Ints("last", {1}, {-1});
    m.Ints("end", {1}, {9223372036854775807});
    m.Ints("out_shape", {3}, {0, 0, 4});
    m.Floats("onef", {}, {1.0f});
    m.Floats("zerof", {}, {0.0f});
    m.Node("Reshape", {"x", "qkv_shape"}, {"qkv"});
    Ints(m.Node("Transpose", {"qkv"}, {"heads"}), "perm", {2, 0, 3, 1, 4});
    Int(m.Node("Split", {"heads", "split"}, {"q5", "k5", "v5"}), "axis", 0);
    m.Node("Squeeze", {"q5", "axis0"}, {"q"});
    m.Node("Squeeze", {"k5", "axis0"}, {"k"});
    m.Node("Squeeze", {"v5", "axis0"}, {"v"});
    m.Node("Shape", {"q"}, {"q_shape"});
    m.Node("Slice", {"q_shape", "last", "end"}, {"dim"});
    Int(m.Node("Cast", {"dim"}, {"dimf"}), "to", TP::FLOAT);
    m.Node("Sqrt", {"dimf"}, {"sqrt_dim"});
    m.Node("Div", {"onef", "sqrt_dim"}, {"scale"});
    m.Node("Sqrt", {"scale"}, {"root_scale"});
    m.Node("Mul", {"q", "root_scale"}, {"qs"});
    Ints(m.Node("Transpose", {"k"}, {"kt"}), "perm", {0, 1, 3, 2});
    m.Node("Mul", {"kt", "root_scale"}, {"kts"});
    m.Node("MatMul", {"qs", "kts"}, {"scores"});
    Int(m.Node("Softmax", {"scores"}, {"probs"}), "axis", -1);
    m.Node("IsNaN", {"probs"}, {"nan"});
    m.Node("Where", {"nan", "zerof", "probs"}, {"safe"});
    m.Node("MatMul", {"safe", "v"}, {"ctx"});
    Ints(m.Node("Transpose", {"ctx"}, {"ctxt"}), "perm", {0, 2, 1, 3});
    m.Node("Reshape", {"ctxt", "out_shape"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "attention_packed_qkv");
  }
  {  // Token embeddings: Gather on ids, Range positions, ReduceSum pooling, Where, Equal.
    Model m;
    m.Input("input_ids", TP::INT64, {-1, -2});
    m.Floats("table", {8, 4});
    m.Floats("pos", {16, 4});
    m.Ints("zero_s", {}, {0});
    m.Ints("one_s", {}, {1});
    m.Ints("axis1", {1}, {1});
    m.Ints("pad", {}, {0});
    m.Floats("zf", {}, {0.0f});
    m.Node("Gather", {"table", "input_ids"}, {"emb"});
    m.Node("Shape", {"input_ids"}, {"shape"});
    Int(m.Node("Gather", {"shape", "one_s"}, {"len"}), "axis", 0);
    m.Node("Range", {"zero_s", "len", "one_s"}, {"positions"});
    m.Node("Gather", {"pos", "positions"}, {"pe"});
    m.Node("Add", {"emb", "pe"}, {"h"});
    m.Node("Equal", {"input_ids", "pad"}, {"is_pad"});
    m.Node("Unsqueeze", {"is_pad", "axis1"}, {"is_pad3"});
    Ints(m.Node("Transpose", {"is_pad3"}, {"is_pad_t"}), "perm", {0, 2, 1});
    m.Node("Where", {"is_pad_t", "zf", "h"}, {"hm"});
    m.Node("ReduceSum", {"hm", "axis1"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "embeddings");
  }
  {  // Patch embedding: Conv, Flatten, class token Concat, position Add (a ViT's stem).
    Model m;
    m.Input("pixel_values", TP::FLOAT, {-1, 3, 8, 8});
    m.Floats("w", {4, 3, 4, 4});
    m.Floats("b", {4});
    m.Floats("cls", {1, 1, 4});
    m.Ints("shape3", {3}, {0, 4, -1});
    m.Ints("cls_shape", {3}, {1, 1, 4});
    auto* conv = m.Node("Conv", {"pixel_values", "w", "b"}, {"c"});
    Ints(conv, "strides", {4, 4});
    Ints(conv, "kernel_shape", {4, 4});
    m.Node("Reshape", {"c", "shape3"}, {"r"});
    Ints(m.Node("Transpose", {"r"}, {"t"}), "perm", {0, 2, 1});
    m.Node("Shape", {"t"}, {"ts"});
    m.Ints("z", {1}, {0});
    m.Node("Gather", {"ts", "z"}, {"tb"});
    m.Ints("ones2", {2}, {1, 4});
    Int(m.Node("Concat", {"tb", "ones2"}, {"exp_shape"}), "axis", 0);
    m.Node("Expand", {"cls", "exp_shape"}, {"clsb"});
    Int(m.Node("Concat", {"clsb", "t"}, {"tokens"}), "axis", 1);
    m.Ints("sl_start", {1}, {0});
    m.Ints("sl_end", {1}, {1});
    m.Ints("sl_axes", {1}, {1});
    m.Node("Slice", {"tokens", "sl_start", "sl_end", "sl_axes"}, {"first"});
    m.Ints("sq_axes", {1}, {1});
    m.Node("Squeeze", {"first", "sq_axes"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "patch_embedding");
  }
  {  // Pooling, reductions, ArgMax, Split, Tile, ConstantOfShape.
    Model m;
    m.Input("x", TP::FLOAT, {1, 2, 4, 4});
    auto* pool = m.Node("AveragePool", {"x"}, {"p"});
    Ints(pool, "kernel_shape", {2, 2});
    Ints(pool, "strides", {2, 2});
    m.Node("ReduceMax", {"p"}, {"mx"});
    Int(m.Node("ArgMax", {"p"}, {"am"}), "axis", 1);
    m.Ints("split", {2}, {1, 1});
    Int(m.Node("Split", {"p", "split"}, {"s0", "s1"}), "axis", 1);
    m.Node("Max", {"s0", "s1"}, {"smax"});
    m.Node("Min", {"s0", "s1"}, {"smin"});
    m.Ints("reps", {4}, {1, 1, 2, 1});
    m.Node("Tile", {"smax", "reps"}, {"tiled"});
    Ints(m.Node("ReduceL2", {"tiled"}, {"l2"}), "axes", {-1});  // an attribute before opset 18
    m.Node("Shape", {"l2"}, {"l2s"});
    m.Node("ConstantOfShape", {"l2s"}, {"zeros"});
    m.Node("Add", {"l2", "zeros"}, {"y"});
    m.Node("Sub", {"smin", "mx"}, {"y2"});
    m.Output("y");
    m.Output("y2");
    m.Output("am");
    ok &= Save(m, dir, "pool_reduce");
  }
  {  // float16 weights and activations: promoted to float32 with rounding steps.
    Model m;
    m.Input("x", TP::FLOAT16, {-1, 2});
    m.Bytes("w", TP::FLOAT16, {2, 2}, Int8s({0x00, 0x3C, 0x00, 0x40, 0x00, 0xBC, 0x00, 0x38}));
    m.Node("MatMul", {"x", "w"}, {"h"});
    m.Node("Exp", {"h"}, {"e"});
    Int(m.Node("Cast", {"e"}, {"y"}), "to", TP::FLOAT);
    m.Output("y");
    ok &= Save(m, dir, "float16");
  }
  {  // External data: 12 floats at offset 16 of weights.bin.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 3});
    TP* w = m.Floats("w", {4, 3});
    w->clear_raw_data();
    w->set_data_location(TP::EXTERNAL);
    for (const auto& [k, v] : {std::pair<const char*, const char*>{"location", "weights.bin"},
                               {"offset", "16"},
                               {"length", "48"}}) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    Ints(m.Node("Transpose", {"w"}, {"wt"}), "perm", {1, 0});
    m.Node("MatMul", {"x", "wt"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "external_data");
  }
  {  // Comparisons, logic, float classes, Pow, Neg/Abs/Log/Reciprocal, Cast round trips.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 3});
    m.Input("y", TP::FLOAT, {-1, 3});
    m.Node("Less", {"x", "y"}, {"lt"});
    m.Node("GreaterOrEqual", {"x", "y"}, {"ge"});
    m.Node("And", {"lt", "ge"}, {"and"});
    m.Node("Or", {"lt", "ge"}, {"or"});
    m.Node("Xor", {"and", "or"}, {"xor"});
    m.Node("Not", {"xor"}, {"not"});
    m.Node("IsNaN", {"x"}, {"nan"});
    m.Node("IsInf", {"y"}, {"inf"});
    m.Node("Or", {"nan", "inf"}, {"bad"});
    m.Node("Or", {"bad", "not"}, {"cond"});
    m.Node("Abs", {"x"}, {"ax"});
    m.Node("Log", {"ax"}, {"lx"});
    m.Node("Neg", {"lx"}, {"nx"});
    m.Node("Reciprocal", {"y"}, {"ry"});
    m.Node("Pow", {"ax", "ry"}, {"pw"});
    m.Node("Where", {"cond", "nx", "pw"}, {"w"});
    Int(m.Node("Cast", {"w"}, {"wi"}), "to", TP::INT32);
    Int(m.Node("Cast", {"wi"}, {"out"}), "to", TP::FLOAT);
    m.Output("out");
    ok &= Save(m, dir, "logic_cast");
  }
  {  // Integer quantization ops: QuantizeLinear/DequantizeLinear per channel, MatMulInteger on
     // uint8, ConvInteger.
    Model m;
    m.Input("x", TP::FLOAT, {-1, 2});
    m.Floats("scale", {2}, {0.1f, 0.2f});
    m.Bytes("zp", TP::UINT8, {2}, Int8s({128, 120}));
    auto* q = m.Node("QuantizeLinear", {"x", "scale", "zp"}, {"q"});
    Int(q, "axis", 1);
    auto* dq = m.Node("DequantizeLinear", {"q", "scale", "zp"}, {"dq"});
    Int(dq, "axis", 1);
    m.Bytes("wq", TP::UINT8, {2, 2}, Int8s({1, 2, 3, 4}));
    m.Node("MatMulInteger", {"q", "wq"}, {"mi"});
    m.Input("img", TP::UINT8, {1, 1, 3, 3});
    m.Bytes("kq", TP::UINT8, {1, 1, 2, 2}, Int8s({1, 0, 0, 1}));
    m.Node("ConvInteger", {"img", "kq"}, {"ci"});
    m.Output("dq");
    m.Output("mi");
    m.Output("ci");
    ok &= Save(m, dir, "quant_ops");
  }
  {  // Opset 11 forms: axes as attributes (Squeeze, Unsqueeze, ReduceSum, Split), Slice-10.
    Model m(11);
    m.Input("x", TP::FLOAT, {-1, 4});
    Ints(m.Node("Unsqueeze", {"x"}, {"u"}), "axes", {0});
    Ints(m.Node("Squeeze", {"u"}, {"s"}), "axes", {0});
    auto* split = m.Node("Split", {"s"}, {"a", "b"});
    Int(split, "axis", 1);
    Ints(split, "split", {1, 3});
    auto* sum = m.Node("ReduceSum", {"b"}, {"r"});
    Ints(sum, "axes", {1});
    Int(sum, "keepdims", 1);
    m.Ints("st", {1}, {0});
    m.Ints("en", {1}, {-1});
    m.Node("Slice", {"r", "st", "en"}, {"sl"});
    m.Node("Flatten", {"a"}, {"f"});
    Int(m.Node("Softmax", {"f"}, {"sm"}), "axis", 1);
    m.Node("Add", {"sm", "sl"}, {"y"});
    m.Output("y");
    ok &= Save(m, dir, "opset11");
  }
  {  // Gather variants and Identity, Size.
    Model m;
    m.Input("x", TP::FLOAT, {2, 3});
    m.Ints("idx", {2, 2}, {0, 1, 1, 0});
    m.Ints("nd", {2, 1}, {1, 0});
    m.Node("GatherElements", {"x", "idx"}, {"ge"});
    m.Node("GatherND", {"x", "nd"}, {"gn"});
    m.Node("Identity", {"gn"}, {"id"});
    m.Node("Size", {"x"}, {"n"});
    Int(m.Node("Cast", {"n"}, {"nf"}), "to", TP::FLOAT);
    m.Node("Mul", {"id", "nf"}, {"y"});
    m.Output("ge");
    m.Output("y");
    ok &= Save(m, dir, "gather_variants");
  }
  {  // qclip's own domain, written directly in a file (a hostile file can do it too).
    Model m;
    m.Input("x", TP::FLOAT, {-1, 4});
    m.Bytes("w", TP::INT8, {4, 2}, Int8s({1, -2, 3, -4, 5, -6, 7, -8}));
    m.Floats("w_scale", {}, {0.05f});
    m.Bytes("w_zp", TP::INT8, {}, Int8s({0}));
    m.Floats("bias", {2}, {0.5f, -0.5f});
    m.Node("QuantizedLinear", {"x", "w", "w_scale", "w_zp", "bias"}, {"q"}, "qclip");
    m.Node("RoundToFloat16", {"q"}, {"y"}, "qclip");
    m.Output("y");
    ok &= Save(m, dir, "qclip_domain");
  }
  if (!ok) {
    std::fprintf(stderr, "make_model_seeds: cannot write to %s\n", dir.c_str());
    return 1;
  }
  return 0;
}

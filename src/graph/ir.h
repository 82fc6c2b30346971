// The in-memory graph: plain arrays of values and nodes, indexed by int ids.
// Built by src/onnx/loader from a ModelProto; rewritten by src/graph passes; planned and run by
// src/graph/plan and src/graph/interpreter. Nothing here knows about protobuf.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qclip/tensor.h"
#include "util/mapped_file.h"

namespace qclip {

struct Attribute {
  enum class Type { kUndefined, kFloat, kInt, kString, kTensor, kFloats, kInts, kStrings };
  Type type = Type::kUndefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;        // "" is the default ONNX domain ("ai.onnx" is normalised to "")
  std::vector<int> inputs;   // value ids; -1 marks an omitted optional input
  std::vector<int> outputs;  // value ids; -1 marks an omitted optional output
  std::map<std::string, Attribute> attrs;
  // Set by graph passes that emit a standard op newer than the model's opset (a fused
  // LayerNormalization in an opset-14 BERT): the schema version to look the kernel up with.
  int opset_override = 0;

  bool has(const std::string& attr) const { return attrs.count(attr) != 0; }
  // Typed attribute getters; they throw qclip::Error when the attribute has another type, or
  // when it is missing and no default is given.
  int64_t GetInt(const std::string& attr) const;
  int64_t GetInt(const std::string& attr, int64_t dflt) const;
  float GetFloat(const std::string& attr, float dflt) const;
  std::string GetString(const std::string& attr, const std::string& dflt) const;
  std::vector<int64_t> GetInts(const std::string& attr, std::vector<int64_t> dflt) const;
  std::vector<float> GetFloats(const std::string& attr, std::vector<float> dflt) const;
  const Tensor& GetTensor(const std::string& attr) const;

  // "node 'name' (OpType)" for error messages.
  std::string Describe() const;
};

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;  // declared type, kUndefined if the file does not say
  Shape shape;                      // declared dims (graph inputs/outputs); -1 = symbolic
  std::vector<std::string> dim_names;
  bool has_shape = false;
  Tensor constant;  // initializer or Constant node output: has data; otherwise empty
  bool is_constant() const { return constant.dtype() != DType::kUndefined; }
};

struct Graph {
  std::string path;                   // the model file, for error messages
  std::map<std::string, int> opsets;  // domain -> imported version
  std::vector<Value> values;
  std::vector<Node> nodes;  // in topological order once loaded
  std::vector<int> inputs;  // graph inputs that are not initializers
  std::vector<int> outputs;
  // The mapped files constants may view (the model file, ONNX external data).
  std::vector<std::shared_ptr<MappedFile>> files;

  int AddValue(const std::string& name, DType dtype = DType::kUndefined);
  int FindValue(const std::string& name) const;  // -1 if absent (linear scan; build-time only)
  int opset(const std::string& domain) const;    // 0 if not imported
  // The opset to look n's kernel up with: its override, 1 for our "qclip" domain, else the
  // model's import of n's domain.
  int KernelOpset(const Node& n) const;
};

// Who produces and who reads each value of a graph, for pattern matching in passes. A snapshot:
// rebuild it after the graph changes.
struct ValueUses {
  std::vector<int> producer;              // per value: node index, or -1
  std::vector<std::vector<int>> readers;  // per value: node indices
  std::vector<bool> graph_output;         // per value

  explicit ValueUses(const Graph& g);
  // The single node reading v, or -1 if v has other readers or is a graph output.
  int OnlyReader(int v) const {
    return v >= 0 && !graph_output[v] && readers[v].size() == 1 ? readers[v][0] : -1;
  }
};

// Whether n is the ONNX-domain op `op`.
inline bool IsOnnxOp(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

// Topologically sorts g.nodes (stable: keeps file order where it can). Throws qclip::Error on a
// cycle or on an input no node, initializer or graph input produces.
void SortTopologically(Graph& g);

// Removes nodes whose outputs reach no graph output, and values no node uses.
void RemoveDeadNodes(Graph& g);

// Whether constant `t` lies at an address not aligned for its element type: a large float32
// initializer whose raw_data is misaligned in the model file, which the loader views in place
// (kInPlaceMisalignedBytes, loader.h) because the weight packers read at any alignment.
bool IsMisaligned(const Tensor& t);

// Gives back to the kernel the pages of g's mapped files under t's data (t a view of one of
// them; nothing happens for data they do not hold), so that bytes copied or packed elsewhere
// are not held twice.
void DropFilePages(const Graph& g, const Tensor& t);

// Replaces value v's constant, when misaligned, with an aligned copy and gives the file's pages
// under the old one back. Everything that reads a constant as typed values calls this first,
// except the packers an op's schema names (OpSchema::packs_misaligned_input).
void AlignConstant(Graph& g, int v);

}  // namespace qclip

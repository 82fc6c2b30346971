// Helpers shared by the graph passes (passes.cc, fuse_attention.cc): node and constant tests,
// and replacing a chain of nodes by one fused node.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "graph/ir.h"

namespace qclip {
namespace pass_util {

// Whether n is the ONNX op `op` with the inputs and outputs the patterns below read: its first
// one input (two for binary ops) and every output present. A file can give a node any number of
// inputs and outputs, some omitted (-1), and kernels check them only after these passes ran.
inline bool Is(const Node& n, const char* op) {
  if (!IsOnnxOp(n, op)) return false;
  const bool binary = std::strcmp(op, "Add") == 0 || std::strcmp(op, "Sub") == 0 ||
                      std::strcmp(op, "Mul") == 0 || std::strcmp(op, "Div") == 0 ||
                      std::strcmp(op, "Pow") == 0 || std::strcmp(op, "MatMulInteger") == 0;
  const size_t read = binary ? 2 : 1;
  const auto present = [](int v) { return v >= 0; };
  return n.inputs.size() >= read &&
         std::all_of(n.inputs.begin(), n.inputs.begin() + read, present) && !n.outputs.empty() &&
         std::all_of(n.outputs.begin(), n.outputs.end(), present);
}

// The value of a constant float32 scalar (any shape with one element), or NAN.
inline float ScalarValue(const Graph& g, int v) {
  if (v < 0 || !g.values[v].is_constant()) return NAN;
  const Tensor& t = g.values[v].constant;
  if (t.size() != 1 || t.dtype() != DType::kFloat32) return NAN;
  return *t.data<float>();
}

inline bool IsScalar(const Graph& g, int v, float want, float tol = 0.0f) {
  const float x = ScalarValue(g, v);
  return !std::isnan(x) && std::fabs(x - want) <= tol;
}

// For a binary node with `v` as one input, the other input; -1 if v is not an input.
inline int Other(const Node& n, int v) {
  if (n.inputs.size() != 2) return -1;
  if (n.inputs[0] == v) return n.inputs[1];
  if (n.inputs[1] == v) return n.inputs[0];
  return -1;
}

// Replaces nodes `chain` (indices) by `fused`, placed where the last of them stood.
inline void Replace(Graph& g, const std::vector<int>& chain, Node fused, std::vector<bool>& dead) {
  int last = chain[0];
  for (int k : chain) {
    dead[k] = true;
    last = std::max(last, k);
  }
  dead[last] = false;
  g.nodes[last] = std::move(fused);
}

inline void DropDead(Graph& g, const std::vector<bool>& dead) {
  std::vector<Node> kept;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (!dead[k]) kept.push_back(std::move(g.nodes[k]));
  }
  g.nodes = std::move(kept);
}

}  // namespace pass_util
}  // namespace qclip

#include "graph/ir.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <queue>
#include <unordered_map>

#include "qclip/error.h"

namespace qclip {

namespace {

const Attribute* Find(const Node& n, const std::string& attr, Attribute::Type type) {
  auto it = n.attrs.find(attr);
  if (it == n.attrs.end()) return nullptr;
  if (it->second.type != type) {
    throw Error(n.Describe() + ": attribute '" + attr + "' has an unexpected type");
  }
  return &it->second;
}

}  // namespace

std::string Node::Describe() const { return "node '" + name + "' (" + op_type + ")"; }

int64_t Node::GetInt(const std::string& attr) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kInt);
  if (a == nullptr) throw Error(Describe() + ": required attribute '" + attr + "' is missing");
  return a->i;
}

int64_t Node::GetInt(const std::string& attr, int64_t dflt) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kInt);
  return a ? a->i : dflt;
}

float Node::GetFloat(const std::string& attr, float dflt) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kFloat);
  return a ? a->f : dflt;
}

std::string Node::GetString(const std::string& attr, const std::string& dflt) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kString);
  return a ? a->s : dflt;
}

std::vector<int64_t> Node::GetInts(const std::string& attr, std::vector<int64_t> dflt) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kInts);
  return a ? a->ints : std::move(dflt);
}

std::vector<float> Node::GetFloats(const std::string& attr, std::vector<float> dflt) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kFloats);
  return a ? a->floats : std::move(dflt);
}

const Tensor& Node::GetTensor(const std::string& attr) const {
  const Attribute* a = Find(*this, attr, Attribute::Type::kTensor);
  if (a == nullptr) throw Error(Describe() + ": required attribute '" + attr + "' is missing");
  return a->t;
}

int Graph::AddValue(const std::string& name, DType dtype) {
  Value v;
  v.name = name;
  v.dtype = dtype;
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::FindValue(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Graph::opset(const std::string& domain) const {
  auto it = opsets.find(domain);
  return it == opsets.end() ? 0 : it->second;
}

int Graph::KernelOpset(const Node& n) const {
  if (n.opset_override != 0) return n.opset_override;
  return n.domain == "qclip" ? 1 : opset(n.domain);
}

void SortTopologically(Graph& g) {
  const size_t n_values = g.values.size();
  std::vector<int> producer(n_values, -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].outputs) {
      if (v < 0) continue;
      if (producer[static_cast<size_t>(v)] != -1) {
        throw Error(g.path + ": value '" + g.values[static_cast<size_t>(v)].name +
                    "' is produced by more than one node");
      }
      producer[static_cast<size_t>(v)] = static_cast<int>(i);
    }
  }
  std::vector<bool> available(n_values, false);
  for (size_t v = 0; v < n_values; ++v) available[v] = g.values[v].is_constant();
  for (int v : g.inputs) available[static_cast<size_t>(v)] = true;

  // Kahn's algorithm with a min-heap on the original index keeps the file's order.
  std::vector<int> missing(g.nodes.size(), 0);
  std::vector<std::vector<int>> consumers(n_values);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].inputs) {
      if (v < 0 || available[static_cast<size_t>(v)]) continue;
      if (producer[static_cast<size_t>(v)] == -1) {
        throw Error(g.path + ": " + g.nodes[i].Describe() + " reads '" +
                    g.values[static_cast<size_t>(v)].name +
                    "', which no node, initializer or graph input provides");
      }
      ++missing[i];
      consumers[static_cast<size_t>(v)].push_back(static_cast<int>(i));
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (missing[i] == 0) ready.push(static_cast<int>(i));
  }
  std::vector<Node> sorted;
  sorted.reserve(g.nodes.size());
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    for (int v : g.nodes[static_cast<size_t>(i)].outputs) {
      if (v < 0) continue;
      for (int c : consumers[static_cast<size_t>(v)]) {
        if (--missing[static_cast<size_t>(c)] == 0) ready.push(c);
      }
    }
    sorted.push_back(std::move(g.nodes[static_cast<size_t>(i)]));
  }
  if (sorted.size() != g.nodes.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (missing[i] != 0) {
        throw Error(g.path + ": the graph has a cycle through " + g.nodes[i].Describe());
      }
    }
  }
  g.nodes = std::move(sorted);
}

bool IsMisaligned(const Tensor& t) {
  return t.has_data() && t.raw() != nullptr &&
         reinterpret_cast<uintptr_t>(t.raw()) % DTypeSize(t.dtype()) != 0;
}

void DropFilePages(const Graph& g, const Tensor& t) {
  if (!t.has_data() || t.raw() == nullptr) return;
  for (const std::shared_ptr<MappedFile>& file : g.files)
    file->DropResidentPages(t.raw(), t.bytes());
}

void AlignConstant(Graph& g, int v) {
  if (v < 0 || !IsMisaligned(g.values[v].constant)) return;
  const Tensor& view = g.values[v].constant;
  Tensor copy(view.dtype(), view.shape());
  std::memcpy(copy.raw(), view.raw(), view.bytes());
  DropFilePages(g, view);
  g.values[v].constant = std::move(copy);
}

void RemoveDeadNodes(Graph& g) {
  std::vector<bool> live(g.values.size(), false);
  for (int v : g.outputs) live[static_cast<size_t>(v)] = true;
  std::vector<bool> keep(g.nodes.size(), false);
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node& n = g.nodes[k];
    bool needed = false;
    for (int v : n.outputs) needed = needed || (v >= 0 && live[static_cast<size_t>(v)]);
    if (!needed) continue;
    keep[k] = true;
    for (int v : n.inputs) {
      if (v >= 0) live[static_cast<size_t>(v)] = true;
    }
  }
  std::vector<Node> kept;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (keep[k]) kept.push_back(std::move(g.nodes[k]));
  }
  g.nodes = std::move(kept);
}

ValueUses::ValueUses(const Graph& g)
    : producer(g.values.size(), -1), readers(g.values.size()), graph_output(g.values.size()) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    for (int v : g.nodes[k].outputs) {
      if (v >= 0) producer[v] = static_cast<int>(k);
    }
    for (int v : g.nodes[k].inputs) {
      if (v >= 0) readers[v].push_back(static_cast<int>(k));
    }
  }
  for (int v : g.outputs) graph_output[v] = true;
}

}  // namespace qclip

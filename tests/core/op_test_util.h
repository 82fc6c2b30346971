// Runs one op kernel outside any graph, the way the planner and interpreter drive it:
// factory -> Infer -> allocate outputs -> Run. For op unit tests.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace qclip::test {

template <typename T>
Tensor MakeTensor(DType dtype, Shape shape, const std::vector<T>& values) {
  Tensor t(dtype, std::move(shape));
  if (static_cast<size_t>(t.size()) != values.size() || sizeof(T) != DTypeSize(dtype)) {
    throw Error("MakeTensor: value count or element size does not match");
  }
  if (!values.empty()) std::memcpy(t.raw(), values.data(), t.bytes());
  return t;
}

inline Attribute IntAttr(int64_t v) {
  Attribute a;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}
inline Attribute FloatAttr(float v) {
  Attribute a;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}
inline Attribute IntsAttr(std::vector<int64_t> v) {
  Attribute a;
  a.type = Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute StringAttr(std::string v) {
  Attribute a;
  a.type = Attribute::Type::kString;
  a.s = std::move(v);
  return a;
}

struct OpCall {
  std::string op_type;
  std::string domain;
  int opset = 18;
  std::map<std::string, Attribute> attrs;
  // Inputs; an input with dtype kUndefined stands for an omitted optional input.
  std::vector<Tensor> inputs;
  // Which inputs the kernel sees as constant at load (e.g. weights); others are runtime inputs.
  std::vector<bool> constant_at_load;
  int num_outputs = 1;
  bool exact = false;
  int threads = 1;
};

// Returns the outputs. Throws qclip::Error like the real graph layer would.
inline std::vector<Tensor> RunOp(const OpCall& c) {
  Node node;
  node.name = c.op_type + "_test";
  node.op_type = c.op_type;
  node.domain = c.domain;
  node.attrs = c.attrs;
  for (size_t i = 0; i < c.inputs.size(); ++i) node.inputs.push_back(static_cast<int>(i));
  for (int i = 0; i < c.num_outputs; ++i)
    node.outputs.push_back(static_cast<int>(c.inputs.size()) + i);
  const OpSchema* schema = BuiltinOps().Find(c.domain, c.op_type, c.opset);
  if (schema == nullptr) throw Error("no kernel for " + c.op_type);
  KernelInit init{node, schema->since_version, {}};
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const bool present = c.inputs[i].dtype() != DType::kUndefined;
    const bool is_const = i < c.constant_at_load.size() && c.constant_at_load[i];
    init.constants.push_back(present && is_const ? &c.inputs[i] : nullptr);
    in.push_back(present ? &c.inputs[i] : nullptr);
  }
  std::unique_ptr<OpKernel> kernel = schema->make(init);
  std::vector<Tensor> meta(static_cast<size_t>(c.num_outputs));
  kernel->Infer(in, &meta);
  std::vector<Tensor> outs;
  std::vector<Tensor*> out_ptrs;
  outs.reserve(meta.size());
  for (const Tensor& m : meta) outs.emplace_back(m.dtype(), m.shape());
  for (Tensor& t : outs) out_ptrs.push_back(&t);
  ThreadPool pool(c.threads);
  RunContext ctx{&pool, c.exact};
  RunUnplanned(*kernel, in, out_ptrs, ctx);
  return outs;
}

}  // namespace qclip::test

#include "ops/op.h"
#include "ops/register.h"
#include "util/thread_pool.h"

namespace qclip {

void OpRegistry::Add(OpSchema schema) { schemas_.push_back(std::move(schema)); }

const OpSchema* OpRegistry::Find(const std::string& domain, const std::string& op_type,
                                 int opset) const {
  const OpSchema* best = nullptr;
  for (const OpSchema& s : schemas_) {
    if (s.domain != domain || s.op_type != op_type || s.since_version > opset) continue;
    if (best == nullptr || s.since_version > best->since_version) best = &s;
  }
  return best;
}

void RunUnplanned(const OpKernel& kernel, const std::vector<const Tensor*>& in,
                  const std::vector<Tensor*>& out, RunContext& ctx) {
  const size_t bytes = ctx.scratch == nullptr ? kernel.ScratchBytes(in, ctx.pool->size()) : 0;
  if (bytes == 0) return kernel.Run(in, out, ctx);
  Tensor scratch(DType::kUInt8, {static_cast<int64_t>(bytes)});
  RunContext with_scratch = ctx;
  with_scratch.scratch = scratch.raw();
  kernel.Run(in, out, with_scratch);
}

const OpRegistry& BuiltinOps() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    RegisterAllOps(r);
    return r;
  }();
  return registry;
}

}  // namespace qclip

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
  RunContext call = ctx;
  std::shared_ptr<const OpState> state;
  if (call.state == nullptr) {
    state = kernel.Prepare(in, ctx.pool->size());
    call.state = state.get();
  }
  const size_t bytes = ctx.scratch == nullptr ? kernel.ScratchBytes(in, ctx.pool->size()) : 0;
  Tensor scratch;
  if (bytes != 0) {
    scratch = Tensor(DType::kUInt8, {static_cast<int64_t>(bytes)});
    call.scratch = scratch.raw();
  }
  kernel.Run(in, out, call);
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

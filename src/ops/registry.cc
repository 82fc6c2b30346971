#include "ops/op.h"
#include "ops/register.h"

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

const OpRegistry& BuiltinOps() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    RegisterAllOps(r);
    return r;
  }();
  return registry;
}

}  // namespace qclip

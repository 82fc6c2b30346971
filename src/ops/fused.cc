#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterFusedOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

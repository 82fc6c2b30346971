#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterMatMulOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

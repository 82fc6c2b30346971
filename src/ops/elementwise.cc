#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterElementwiseOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

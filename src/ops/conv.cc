#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterConvOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

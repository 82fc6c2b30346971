#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterPoolOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterShapeOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

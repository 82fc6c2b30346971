#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterActivationOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

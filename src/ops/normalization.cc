#include "ops/op.h"
#include "ops/register.h"

namespace qclip {

void RegisterNormalizationOps(OpRegistry& r) { (void)r; }

}  // namespace qclip

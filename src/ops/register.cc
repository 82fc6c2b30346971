#include "ops/register.h"

namespace qclip {

void RegisterAllOps(OpRegistry& r) {
  RegisterElementwiseOps(r);
  RegisterShapeOps(r);
  RegisterReduceOps(r);
  RegisterPoolOps(r);
  RegisterMatMulOps(r);
  RegisterConvOps(r);
  RegisterNormalizationOps(r);
  RegisterActivationOps(r);
  RegisterQuantOps(r);
  RegisterAttentionOps(r);
  RegisterFloat16Ops(r);
}

}  // namespace qclip

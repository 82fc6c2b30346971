// One registration function per op family (src/ops/<family>.cc); RegisterAllOps calls them all.
// Explicit calls, not static initialisers: a static library drops unreferenced objects.
#pragma once

namespace qclip {

class OpRegistry;
void RegisterAllOps(OpRegistry& r);

void RegisterElementwiseOps(OpRegistry& r);  // src/ops/elementwise.cc
void RegisterShapeOps(OpRegistry& r);  // src/ops/shape.cc
void RegisterReduceOps(OpRegistry& r);  // src/ops/reduce.cc
void RegisterPoolOps(OpRegistry& r);  // src/ops/pool.cc
void RegisterMatMulOps(OpRegistry& r);  // src/ops/matmul.cc
void RegisterConvOps(OpRegistry& r);  // src/ops/conv.cc
void RegisterNormalizationOps(OpRegistry& r);  // src/ops/normalization.cc
void RegisterActivationOps(OpRegistry& r);  // src/ops/activation.cc
void RegisterQuantOps(OpRegistry& r);  // src/ops/quant.cc
void RegisterAttentionOps(OpRegistry& r);  // src/ops/attention.cc: qclip.Attention
void RegisterFloat16Ops(OpRegistry& r);  // src/ops/float16_round.cc: qclip.RoundToFloat16

}  // namespace qclip

// Graph rewrites applied at load. Each recognises a pattern the exporters emit and replaces it
// by one node, leaving anything it does not recognise exactly as it was. Fused standard ops
// (LayerNormalization, Gelu) carry an opset_override; non-standard ones use the "qclip" domain.
#pragma once

#include "graph/ir.h"

namespace qclip {

// Float16 models (ORT's convert_float_to_float16 with keep_io_types): float16 initializers and
// Casts to float16 become float32, and qclip.RoundToFloat16 nodes round a value to float16
// exactly where ONNX Runtime's CPU provider keeps it in float16 (it runs nearly every float16
// node in float32 and removes the Cast pairs between them; details in float16.cc). Always
// applied: it is how float16 files run, not an optimisation.
void PromoteFloat16(Graph& g);

// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add over the last axis -> LayerNormalization.
void FuseLayerNorm(Graph& g);

// x * 0.5 * (1 + erf(x / sqrt(2))) in the orders torch exports it -> Gelu (exact).
void FuseGelu(Graph& g);

// ONNX Runtime's dynamic quantization of a MatMul with constant weights:
//   DynamicQuantizeLinear(x) -> MatMulInteger(xq, W, xzp, wzp) -> Cast(float)
//   -> Mul(., Mul(x_scale, w_scale)) [-> Add(., bias)]
// -> qclip.QuantizedLinear(x, W, w_scale, wzp, bias), which packs W once.
void FuseQuantizedLinear(Graph& g);

// MatMul(X, W) -> Add(., b) (its only reader), W a constant float [K, N] and b a constant
// float [N] -> qclip.Linear(X, W, b): the bias added in the GEMM's epilogue (src/ops/matmul.cc).
void FuseLinear(Graph& g);

// qclip.QuantizedLinear or qclip.Linear -> Gelu (its only reader) -> the same node with
// attribute activation = "gelu" or "gelu_tanh": each output tile gets its GELU while it is still
// in cache, inside the product's parallel tasks (same bits as the Gelu node).
void FuseLinearActivation(Graph& g);

// MatMul(Q, Kᵀ) [-> Mul/Div(scalar)] [-> Add(mask)] -> Softmax -> MatMul(P, V) [-> Transpose]
// -> qclip.Attention, reading Q, Kᵀ and V through the Transpose/Split/Squeeze views before them
// (src/graph/fuse_attention.cc).
void FuseAttention(Graph& g);

// Gather(X, 0, axis=1) of a rank-3 X (a pooled CLS token) -> the row-wise ops before it
// (LayerNorm, constant-weight products, activations, residual additions; QuantizedLinear when
// `quantized_rows_independent`, i.e. its activations are not quantized per tensor) run on that
// row only. Exact: the outputs do not change (src/graph/select_rows.cc).
void SelectRowsEarly(Graph& g, bool quantized_rows_independent);

// The passes above, in order (PromoteFloat16 excepted).
void RunGraphPasses(Graph& g);

// qclip.QuantizedLinear nodes that read the same X and apply the same activation (an attention
// layer's Q, K and V products) -> one qclip.QuantizedLinear with an output per product, placed
// where the first stood: X is quantized once instead of once per product (its quantization
// depends on X alone, so the outputs do not change). Only nodes whose other inputs are all
// constants. Runs after SelectRowsEarly, which handles single-output nodes.
void MergeQuantizedLinears(Graph& g);

// Add(A, B) (Add-7+) -> LayerNormalization over the last axis (its one output) -> one
// qclip.AddLayerNorm with outputs Y and the sum, placed where the Add stood (the sum's other
// readers, the residual stream of a pre-LN transformer, keep it): each row is added and
// normalised while in cache, one pass over the activations less, the same bits. Applied after
// SelectRowsEarly, which moves row selections through the unfused Add and LayerNormalization.
void FuseAddLayerNorm(Graph& g);

}  // namespace qclip

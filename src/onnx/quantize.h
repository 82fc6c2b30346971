// Dynamic INT8 quantization of an ONNX model's weights, written in exactly the layout ONNX
// Runtime 1.30's onnxruntime.quantization.quantize_dynamic writes (QOperator format, IntegerOps
// mode), so that ORT and qclip's own INT8 path (src/graph/passes.cc FuseQuantizedLinear) both
// run the result:
//
//   MatMul(x, W)   -> DynamicQuantizeLinear(x) [one per x, shared by all MatMuls reading x]
//                     MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(to float)
//                     -> Mul(., Mul(x_scale, W_scale))                 (ORT operators/matmul.py)
//   Conv(x, W, b)  -> DynamicQuantizeLinear(x), ConvInteger(...) -> Cast -> Mul(scales)
//                     -> Add(., Reshape(b, [1, -1, 1, 1]))             (ORT operators/conv.py)
//   Gather(T, i)   -> Gather(T_q, i) -> DequantizeLinear(., T_scale, T_zp)  (operators/gather.py)
//
// Weights are named W_quantized, W_scale, W_zero_point and appended to the initializers in the
// order ORT creates them; unused FP32 initializers are dropped and the nodes are put in the order
// of ORT's ONNXModel.topological_sort, so a file written here matches ORT's node for node and
// byte for byte in every initializer. graph.value_info is dropped: dynamo exports carry stale
// shapes there, which is what makes ORT's own quantizer fail on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace onnx {
class ModelProto;
}  // namespace onnx

namespace qclip {

class ExternalData;

enum class WeightType {
  kQInt8,   // int8, symmetric over [-127, 127], zero point 0 (ORT's default weight type)
  kQUInt8,  // uint8, asymmetric over [0, 255] with rmin <= 0 <= rmax
};

struct QuantizeOptions {
  WeightType weight_type = WeightType::kQInt8;
  // MatMul weights get one scale and zero point per output column (ORT's per_channel=True,
  // whose MatMul weight axis is -1); otherwise one per matrix (ORT's default). Conv weights are
  // per tensor either way, as in ORT's dynamic mode.
  bool per_channel = true;
  // Gather on a constant float table -> a uint8 table + DequantizeLinear (ORT's GatherQuant;
  // tables are always asymmetric uint8 per tensor, ORT's activation type).
  bool quantize_gather = true;
  // MatMul, Conv and Gather nodes to keep in FP32: a node's exact name matches that node only
  // (as ORT's nodes_to_exclude); otherwise a pattern with '*', '?' or '[' is a glob matched
  // against the whole node name, any other a substring of it ("layers.11/").
  std::vector<std::string> exclude;
  // The last N quantizable MatMuls in graph (file) order stay FP32.
  int keep_fp32_last = 0;
};

struct QuantizeReport {
  int matmul = 0;            // MatMul -> MatMulInteger
  int conv = 0;              // Conv -> ConvInteger
  int gather = 0;            // Gather tables quantized
  int dynamic_quantize = 0;  // DynamicQuantizeLinear nodes added
  int excluded = 0;          // quantizable nodes kept FP32 by exclude / keep_fp32_last
  // MatMul / Conv kept FP32 because the weight is not a constant FLOAT initializer of rank 2 /
  // 4, the other input is constant, or the weight has NaN or Inf.
  int unsupported = 0;

  int quantized() const { return matmul + conv + gather; }
};

// Rewrites `model` in place. Initializer data may be inline or, through `external` (may be null
// when there is none), ONNX external data; quantized tensors are always written inline, FP32
// ones that stay keep their storage. Throws qclip::Error on a malformed model (data that does
// not match its shape, an opset below 11, nodes that can not be ordered).
QuantizeReport QuantizeModel(onnx::ModelProto& model, const QuantizeOptions& options,
                             ExternalData* external);

struct QuantizeFileReport {
  QuantizeReport quantize;
  uint64_t input_bytes = 0;     // the .onnx file
  uint64_t external_bytes = 0;  // its external data files
  uint64_t output_bytes = 0;
};

// qclip-quantize: reads `in_path` (and its external data), quantizes it, and writes one
// self-contained file to `out_path` (every tensor inline; refused with qclip::Error if that
// would reach 2 GiB). Errors name the file.
QuantizeFileReport QuantizeOnnxFile(const std::string& in_path, const std::string& out_path,
                                    const QuantizeOptions& options);

// Session::Load with SessionOptions::quantize_weights: reads `path`, quantizes its weights in
// memory as QuantizeModel does, and builds the graph from the result (FP32 tensors left in
// external data are mapped as usual). A model with nothing to quantize loads unchanged.
Graph LoadQuantizedOnnxModel(const std::string& path, const QuantizeOptions& options = {});

// ---- The arithmetic of ORT's quantizer (onnxruntime/python/tools/quantization/quant_utils.py),
// exposed for tests.

struct WeightQuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// compute_scale_zp for values in [rmin, rmax], the range widened to include 0. Signed: symmetric,
// scale = float(2 max|r| / 254) (computed in double), zero point 0. Unsigned: scale =
// float(double(float(rmax - rmin)) / 255), zero point = round_half_even(-rmin / scale) with the
// double scale. A scale below FLT_MIN (all zeros) becomes 1 with zero point 0.
WeightQuantParams ComputeWeightQuantParams(float rmin, float rmax, bool is_signed);

// quantize_nparray: clip(round_half_even(x / scale) + zero_point) to [-128, 127] or [0, 255],
// the division and rounding in float32 as numpy does them.
int32_t QuantizeWeightValue(float x, WeightQuantParams p, bool is_signed);

// quantize_data over n values (columns == 0: one scale for all of them), or
// quantize_weight_per_channel_impl with axis -1 over the row-major [n / columns, columns]
// matrix: one scale and zero point per column. Writes the n quantized values to `out` (int8 as
// two's complement) and returns the parameters, 1 or one per column. Values must be finite.
std::vector<WeightQuantParams> QuantizeWeights(const float* x, size_t n, size_t columns,
                                               bool is_signed, uint8_t* out);

}  // namespace qclip

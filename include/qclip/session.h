// qclip::Session: load an ONNX model once, run it many times.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qclip/tensor.h"

namespace qclip {

// How INT8 models (ONNX Runtime's dynamic quantization: DynamicQuantizeLinear -> MatMulInteger,
// fused into qclip.QuantizedLinear) quantize the activations that meet their int8 weights. See
// docs/QUANTIZATION.md for the accuracy and speed of each.
enum class Int8Activations {
  // Each row (token) is cut into blocks of 32 values along the inner dimension, each quantized
  // to uint8 with its own scale and zero point. Closer to FP32 than kPerTensor, and a row's
  // result does not depend on the other rows (its padding or batch-mates). Its matrix products
  // run 10-20% slower than kPerTensor's (AVX-512 VNNI).
  kBlockwise,
  // One scale and zero point for the whole tensor, as ONNX Runtime's DynamicQuantizeLinear:
  // ORT's results bit for bit. What `exact` uses.
  kPerTensor,
  // No activation quantization: the int8 weights are dequantized to float32 at load and the
  // products run in FP32. The accuracy reference for the other two; slower, with 4x the weight
  // memory.
  kFloat,
};

struct SessionOptions {
  // Worker threads for one Run; 0 means all cores. Results do not depend on it.
  int threads = 0;
  // Turn off every optimisation that changes results compared with ONNX Runtime
  // (for INT8 models: per-tensor activation quantization, bit for bit ORT's integer math,
  // whatever int8_activations says).
  bool exact = false;
  // INT8 models only; ignored (kPerTensor) when `exact` is set.
  Int8Activations int8_activations = Int8Activations::kBlockwise;
  // Turn off graph rewrites (fusions). Results stay within float rounding of the fused path.
  bool fuse = true;
  // Quantize an FP32 model's weights to INT8 while loading, as `qclip-quantize` does by default
  // (MatMul weights int8 per output column, Conv int8, Gather tables uint8; ONNX Runtime's
  // dynamic-quantization layout), then run the INT8 path: one FP32 file, no second INT8 file to
  // ship. Weights that are already quantized are left as they are.
  bool quantize_weights = false;
};

struct ValueDesc {
  std::string name;
  DType dtype = DType::kUndefined;
  // Declared dims; -1 where the dim is symbolic (its name is in dim_names).
  Shape shape;
  std::vector<std::string> dim_names;
};

class Session {
 public:
  // Loads `path` (a single .onnx file or one with ONNX external data beside it).
  // Throws qclip::Error naming the file and the problem.
  static std::unique_ptr<Session> Load(const std::string& path, const SessionOptions& opts = {});
  virtual ~Session() = default;

  virtual const std::vector<ValueDesc>& inputs() const = 0;
  virtual const std::vector<ValueDesc>& outputs() const = 0;

  // Runs the graph. Every graph input must be given, by name. Returns the graph outputs in
  // the order of outputs(). Safe to call from several threads at once: same bits as sequential
  // calls; concurrent calls share the session's thread pool (docs/RELIABILITY.md).
  virtual std::vector<Tensor> Run(const std::vector<std::pair<std::string, Tensor>>& inputs) = 0;
};

}  // namespace qclip

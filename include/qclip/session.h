// qclip::Session: load an ONNX model once, run it many times.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qclip/tensor.h"

namespace qclip {

struct SessionOptions {
  // Worker threads for one Run; 0 means all cores. Results do not depend on it.
  int threads = 0;
  // Turn off every optimisation that changes results compared with ONNX Runtime
  // (for INT8 models: per-tensor activation quantization, bit for bit ORT's integer math).
  bool exact = false;
  // Turn off graph rewrites (fusions). Results stay within float rounding of the fused path.
  bool fuse = true;
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
  // the order of outputs(). Safe to call from several threads at once.
  virtual std::vector<Tensor> Run(const std::vector<std::pair<std::string, Tensor>>& inputs) = 0;
};

}  // namespace qclip

#include "qclip/session.h"

#include "graph/interpreter.h"
#include "onnx/loader.h"
#include "onnx/quantize.h"

namespace qclip {

namespace {

ValueDesc Describe(const Value& v) {
  ValueDesc d;
  d.name = v.name;
  d.dtype = v.dtype;
  d.shape = v.shape;
  d.dim_names = v.dim_names;
  return d;
}

std::string DeclaredShape(const ValueDesc& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.shape.size(); ++i) {
    if (i) s += ", ";
    s += d.shape[i] >= 0 ? std::to_string(d.shape[i])
                         : (d.dim_names[i].empty() ? "?" : d.dim_names[i]);
  }
  return s + "]";
}

class SessionImpl final : public Session {
 public:
  SessionImpl(Graph graph, const SessionOptions& opts)
      : interpreter_(std::move(graph), InterpreterOptions{opts.threads, opts.exact, opts.fuse,
                                                          opts.int8_activations}) {
    const Graph& g = interpreter_.graph();
    for (int v : g.inputs) inputs_.push_back(Describe(g.values[v]));
    for (int v : g.outputs) outputs_.push_back(Describe(g.values[v]));
  }

  const std::vector<ValueDesc>& inputs() const override { return inputs_; }
  const std::vector<ValueDesc>& outputs() const override { return outputs_; }

  std::vector<Tensor> Run(const std::vector<std::pair<std::string, Tensor>>& named) override {
    const std::string& path = interpreter_.graph().path;
    std::vector<Tensor> ordered(inputs_.size());
    std::vector<bool> given(inputs_.size(), false);
    for (const auto& [name, tensor] : named) {
      size_t i = 0;
      while (i < inputs_.size() && inputs_[i].name != name) ++i;
      if (i == inputs_.size()) {
        std::string names;
        for (const ValueDesc& d : inputs_) names += (names.empty() ? "'" : ", '") + d.name + "'";
        throw Error(path + ": the model has no input '" + name + "' (its inputs: " + names + ")");
      }
      if (given[i]) throw Error(path + ": input '" + name + "' is given twice");
      Check(inputs_[i], tensor, path);
      ordered[i] = tensor;
      given[i] = true;
    }
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (!given[i]) throw Error(path + ": input '" + inputs_[i].name + "' is missing");
    }
    return interpreter_.Run(ordered);
  }

 private:
  static void Check(const ValueDesc& d, const Tensor& t, const std::string& path) {
    if (t.dtype() != d.dtype) {
      throw Error(path + ": input '" + d.name + "' must be " + DTypeName(d.dtype) + ", got " +
                  DTypeName(t.dtype()));
    }
    if (!t.has_data()) throw Error(path + ": input '" + d.name + "' has no data");
    bool ok = d.shape.empty() || d.shape.size() == t.shape().size();
    for (size_t i = 0; ok && i < d.shape.size(); ++i)
      ok = d.shape[i] < 0 || d.shape[i] == t.dim(static_cast<int>(i));
    if (!ok) {
      throw Error(path + ": input '" + d.name + "' must have shape " + DeclaredShape(d) + ", got " +
                  ShapeToString(t.shape()));
    }
  }

  Interpreter interpreter_;
  std::vector<ValueDesc> inputs_;
  std::vector<ValueDesc> outputs_;
};

}  // namespace

std::unique_ptr<Session> Session::Load(const std::string& path, const SessionOptions& opts) {
  Graph graph = opts.quantize_weights ? LoadQuantizedOnnxModel(path) : LoadOnnxModel(path);
  return std::make_unique<SessionImpl>(std::move(graph), opts);
}

}  // namespace qclip

// qclip-run: runs any supported ONNX model on .npy inputs and writes each output as .npy.
//
//   qclip-run MODEL.onnx --input NAME=FILE.npy ... [--output-dir DIR] [--threads N]
//             [--bench N [--warmup-ms T]] [--exact] [--int8-activations blockwise|per-tensor|float]
//             [--no-fuse] [--quantize]

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.h"
#include "qclip/qclip.h"

namespace {

// int32 and int64 ids are interchangeable on the command line: numpy writes either.
qclip::Tensor ConvertIds(const qclip::Tensor& t, qclip::DType want) {
  if (t.dtype() == want) return t;
  qclip::Tensor out(want, t.shape());
  if (t.dtype() == qclip::DType::kInt32 && want == qclip::DType::kInt64) {
    for (int64_t i = 0; i < t.size(); ++i) out.data<int64_t>()[i] = t.data<int32_t>()[i];
    return out;
  }
  if (t.dtype() == qclip::DType::kInt64 && want == qclip::DType::kInt32) {
    for (int64_t i = 0; i < t.size(); ++i) {
      const int64_t v = t.data<int64_t>()[i];
      if (v < INT32_MIN || v > INT32_MAX) throw qclip::Error("value out of int32 range");
      out.data<int32_t>()[i] = static_cast<int32_t>(v);
    }
    return out;
  }
  return t;  // the session reports the mismatch
}

// Output names like "/encoder/Add_output_0" become file names without '/'.
std::string FileName(const std::string& name) {
  std::string out;
  for (char c : name)
    out += (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_') ? c : '_';
  return out.empty() ? "output" : out;
}

}  // namespace

int main(int argc, char** argv) {
  return qclip::cli::Main("qclip-run", [&] {
    CLI::App app{"Run an ONNX model with qclip on .npy inputs"};
    std::string model;
    std::vector<std::string> input_args;
    std::string output_dir;
    qclip::SessionOptions opts;
    qclip::cli::BenchOptions bench;
    bool no_fuse = false;
    app.add_option("model", model, "ONNX model file")->required();
    app.add_option("--input,-i", input_args, "NAME=FILE.npy for each graph input")->required();
    app.add_option("--output-dir,-o", output_dir, "write each output to DIR/OUTPUT_NAME.npy");
    app.add_option("--threads,-t", opts.threads, "worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    qclip::cli::AddBenchOptions(app, bench, "after the first run, run");
    app.add_flag("--exact", opts.exact,
                 "match ONNX Runtime's results (INT8: per-tensor activations)");
    std::string int8_activations;
    app.add_option("--int8-activations", int8_activations,
                   "INT8 models: quantize activations per block of 32 (default), per tensor "
                   "(ONNX Runtime's scheme), or not at all (float, the accuracy reference)")
        ->check(CLI::IsMember({"blockwise", "per-tensor", "float"}));
    app.add_flag("--no-fuse", no_fuse, "turn off graph fusions");
    app.add_flag("--quantize", opts.quantize_weights,
                 "quantize an FP32 model's weights to INT8 while loading (as qclip-quantize)");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;
    }
    opts.fuse = !no_fuse;
    using qclip::Int8Activations;
    if (int8_activations == "per-tensor") opts.int8_activations = Int8Activations::kPerTensor;
    if (int8_activations == "float") opts.int8_activations = Int8Activations::kFloat;
    if (opts.exact && !int8_activations.empty() && int8_activations != "per-tensor") {
      throw qclip::Error("--exact quantizes INT8 activations per tensor, not " + int8_activations);
    }

    const double t0 = qclip::cli::NowMs();
    auto session = qclip::Session::Load(model, opts);
    const double load_ms = qclip::cli::NowMs() - t0;

    std::vector<std::pair<std::string, qclip::Tensor>> inputs;
    for (const std::string& arg : input_args) {
      const size_t eq = arg.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw qclip::Error("--input expects NAME=FILE.npy, got '" + arg + "'");
      }
      const std::string name = arg.substr(0, eq);
      qclip::Tensor t = qclip::ReadNpy(arg.substr(eq + 1));
      for (const qclip::ValueDesc& d : session->inputs()) {
        if (d.name == name) t = ConvertIds(t, d.dtype);
      }
      inputs.emplace_back(name, std::move(t));
    }

    std::vector<qclip::Tensor> outputs = session->Run(inputs);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string& name = session->outputs()[i].name;
      if (!output_dir.empty()) {
        qclip::WriteNpy(output_dir + "/" + FileName(name) + ".npy", outputs[i]);
      } else {
        std::printf("%s %s %s\n", name.c_str(), qclip::ShapeToString(outputs[i].shape()).c_str(),
                    qclip::DTypeName(outputs[i].dtype()));
      }
    }
    if (bench.runs > 0) {
      const std::vector<double> ms = qclip::cli::TimeRuns(bench, [&] { session->Run(inputs); });
      std::printf("load_ms=%.3f %s\n", load_ms, qclip::cli::FormatTimings(ms).c_str());
    }
    return 0;
  });
}

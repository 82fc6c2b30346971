// qclip-quantize: dynamic INT8 quantization of an ONNX model's weights, written in ONNX Runtime
// 1.30 quantize_dynamic's layout (see docs/QUANTIZER.md), so qclip and ONNX Runtime both run it.
//
//   qclip-quantize IN.onnx OUT.onnx [--weight-type qint8|quint8] [--per-channel|--per-tensor]
//                  [--exclude NODE_OR_PATTERN]... [--keep-fp32-last N] [--no-gather]

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.h"
#include "onnx/quantize.h"

int main(int argc, char** argv) {
  return qclip::cli::Main("qclip-quantize", [&] {
    CLI::App app{"Quantize an ONNX model's weights to INT8 (ONNX Runtime's dynamic layout)"};
    std::string in_path, out_path, weight_type = "qint8";
    bool per_channel = false, per_tensor = false, no_gather = false;
    qclip::QuantizeOptions opts;
    app.add_option("input", in_path, "FP32 ONNX model (external data beside it is read too)")
        ->required();
    app.add_option("output", out_path, "the quantized model: one self-contained .onnx file")
        ->required();
    app.add_option("--weight-type", weight_type,
                   "qint8: int8 symmetric (default); quint8: uint8 asymmetric")
        ->check(CLI::IsMember({"qint8", "quint8"}));
    auto* channel_flag =
        app.add_flag("--per-channel", per_channel, "one scale per MatMul output column (default)");
    app.add_flag("--per-tensor", per_tensor, "one scale per weight matrix (ORT's default)")
        ->excludes(channel_flag);
    app.add_option("--exclude", opts.exclude,
                   "keep nodes FP32: an exact node name (that node only), else a substring "
                   "of names or a glob (* ? [])")
        ->each([](const std::string& p) {
          if (p.empty()) throw CLI::ValidationError("empty pattern");
        });
    app.add_option("--keep-fp32-last", opts.keep_fp32_last,
                   "keep the last N quantizable MatMuls (graph order) in FP32")
        ->check(CLI::Range(0, 1000000));
    app.add_flag("--no-gather", no_gather, "leave Gather tables (embeddings) in FP32");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;
    }
    opts.weight_type =
        weight_type == "quint8" ? qclip::WeightType::kQUInt8 : qclip::WeightType::kQInt8;
    opts.per_channel = !per_tensor;
    opts.quantize_gather = !no_gather;

    const double t0 = qclip::cli::NowMs();
    const qclip::QuantizeFileReport r = qclip::QuantizeOnnxFile(in_path, out_path, opts);
    const double ms = qclip::cli::NowMs() - t0;

    using qclip::cli::FormatBytes;
    const uint64_t before = r.input_bytes + r.external_bytes;
    std::printf("%s: %s", in_path.c_str(), FormatBytes(r.input_bytes).c_str());
    if (r.external_bytes) std::printf(" + %s external data", FormatBytes(r.external_bytes).c_str());
    std::printf(
        " -> %s: %s (%.1f%%) in %.0f ms\n", out_path.c_str(), FormatBytes(r.output_bytes).c_str(),
        before ? 100.0 * static_cast<double>(r.output_bytes) / static_cast<double>(before) : 0.0,
        ms);
    const qclip::QuantizeReport& q = r.quantize;
    std::printf(
        "quantized: %d MatMul (%s, %s), %d Conv (%s, per tensor), %d Gather table%s "
        "(uint8); %d DynamicQuantizeLinear added\n",
        q.matmul, weight_type == "quint8" ? "uint8" : "int8",
        opts.per_channel ? "per channel" : "per tensor", q.conv,
        weight_type == "quint8" ? "uint8" : "int8", q.gather, q.gather == 1 ? "" : "s",
        q.dynamic_quantize);
    std::printf("kept FP32: %d excluded; %d MatMul/Conv without a constant float weight\n",
                q.excluded, q.unsupported);
    return 0;
  });
}

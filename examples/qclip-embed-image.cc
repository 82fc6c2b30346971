// qclip-embed-image: embeds image files with a BiomedCLIP-style vision tower.
//
//   qclip-embed-image --model M [--out OUT.npy] [--threads N] [--bench N [--warmup-ms T]]
//                     [--preprocess clip|squash-bilinear] [--max-pixels N] [--exact] IMAGE...
//   qclip-embed-image --model M --pixels [options] TENSOR.npy...
//
// Each image is decoded (PNG, JPEG, BMP, PNM, TGA) and preprocessed exactly as open_clip's
// Pillow/torchvision transform does, then embedded. Without --out, prints one JSON array per
// image. Any error (unreadable, corrupt or too large image, bad model) prints a message on
// stderr and exits with status 1. With --pixels the inputs are already preprocessed float32
// [3, 224, 224] (or [n, 3, 224, 224]) .npy tensors, as qclip-preprocess writes them.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/cli.h"
#include "common/output.h"
#include "qclip/qclip.h"

int main(int argc, char** argv) {
  return qclip::cli::Main("qclip-embed-image", [&] {
    CLI::App app{"Embed images with a BiomedCLIP-style vision tower"};
    std::string model, out, preprocess = "clip";
    std::vector<std::string> images;
    qclip::ImageEncoderOptions opts;
    qclip::cli::BenchOptions bench;
    bool pixels = false;
    app.add_option("--model,-m", model, "vision tower ONNX file")->required();
    app.add_option("--out,-o", out, "write [n, dim] float32 .npy instead of JSON lines");
    app.add_option("--threads,-t", opts.session.threads, "worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    qclip::cli::AddBenchOptions(app, bench, "embed the images");
    app.add_option("--preprocess", preprocess, "clip (default) or squash-bilinear")
        ->check(CLI::IsMember({"clip", "squash-bilinear"}));
    app.add_option("--max-pixels", opts.max_pixels,
                   "refuse images with more pixels, before decoding (default 64 Mi)")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
    app.add_flag("--exact", opts.session.exact, "INT8: ONNX Runtime's per-tensor activations");
    app.add_flag("--pixels", pixels, "the inputs are preprocessed .npy tensors, not images");
    app.add_option("images", images, "image files to embed")->required();
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;
    }
    opts.preprocess = preprocess == "clip" ? qclip::ImagePreprocess::kClip
                                           : qclip::ImagePreprocess::kSquashBilinear;
    auto encoder = qclip::ImageEncoder::Load(model, opts);
    // Every input's embedding, from the image files or from the tensors read once.
    std::vector<qclip::Tensor> tensors;
    if (pixels) {
      for (const std::string& path : images) tensors.push_back(qclip::ReadNpy(path));
    }
    const auto embed = [&] {
      if (!pixels) return encoder->EmbedFiles(images);
      qclip::Embeddings all;
      for (const qclip::Tensor& t : tensors) {
        const qclip::Embeddings e = encoder->EmbedPixels(t);
        all.rows += e.rows;
        all.dim = e.dim;
        all.data.insert(all.data.end(), e.data.begin(), e.data.end());
      }
      return all;
    };
    qclip::cli::WriteEmbeddings(embed(), out);
    if (bench.runs > 0) {
      const std::vector<double> ms = qclip::cli::TimeRuns(bench, [&] { embed(); });
      std::printf("%s\n", qclip::cli::FormatTimings(ms).c_str());
    }
    return 0;
  });
}

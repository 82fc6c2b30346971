// qclip-embed-text: embeds texts with a BERT-style text tower and its WordPiece vocabulary.
//
//   qclip-embed-text --model M --vocab V [--out OUT.npy] [--threads N] [--bench N [--warmup-ms T]]
//                    [--pooling auto|cls|mean|none] [--exact] TEXT...

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "common/cli.h"
#include "common/output.h"
#include "qclip/qclip.h"

int main(int argc, char** argv) {
  return qclip::cli::Main("qclip-embed-text", [&] {
    CLI::App app{"Embed texts with a BiomedCLIP-style text tower"};
    std::string model, vocab, out;
    std::vector<std::string> texts;
    qclip::TextEncoderOptions opts;
    qclip::cli::BenchOptions bench;
    std::string pooling = "auto";
    app.add_option("--model,-m", model, "text tower ONNX file")->required();
    app.add_option("--vocab,-v", vocab, "WordPiece vocab.txt")->required();
    app.add_option("--out,-o", out, "write [n, dim] float32 .npy instead of JSON lines");
    app.add_option("--threads,-t", opts.session.threads, "worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    qclip::cli::AddBenchOptions(app, bench, "embed the texts");
    app.add_option("--pooling", pooling, "auto, cls, mean or none")
        ->check(CLI::IsMember({"auto", "cls", "mean", "none"}));
    app.add_option("--max-length", opts.max_length, "tokens per text (default 256)")
        ->check(CLI::Range(2, 1 << 20));
    app.add_flag("--exact", opts.session.exact, "INT8: ONNX Runtime's per-tensor activations");
    app.add_option("texts", texts, "texts to embed")->required();
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 1;
    }
    const std::map<std::string, qclip::Pooling> poolings = {{"auto", qclip::Pooling::kAuto},
                                                            {"cls", qclip::Pooling::kCls},
                                                            {"mean", qclip::Pooling::kMean},
                                                            {"none", qclip::Pooling::kNone}};
    opts.pooling = poolings.at(pooling);
    auto encoder = qclip::TextEncoder::Load(model, vocab, opts);
    const qclip::Embeddings e = encoder->Embed(texts);
    qclip::cli::WriteEmbeddings(e, out);
    if (bench.runs > 0) {
      const std::vector<double> ms = qclip::cli::TimeRuns(bench, [&] { encoder->Embed(texts); });
      std::printf("%s\n", qclip::cli::FormatTimings(ms).c_str());
    }
    return 0;
  });
}

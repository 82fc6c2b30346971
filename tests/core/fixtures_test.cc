// Conformance against the golden fixtures: every model file in a fixtures folder, run on every
// case, compared with ONNX Runtime's outputs. Runs the compact copy in tests/data/models always,
// and ../shared/fixtures/models when it exists. One gtest per (model, file, case, mode).
//
// Each folder holds manifest.json (cases and their inputs) and CASE.out.OUTPUT.ort_VARIANT.npy
// references; VARIANT.onnx is the file that produced them (fp32, fp16, int8_qint8, ...).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qclip/qclip.h"

namespace fs = std::filesystem;

namespace {

struct Agreement {
  double max_abs = 0;
  double min_cos = 1;
  double mean_cos = 0;
};

// Cosine per row (rows = all leading dims, the last dim is the row) and max abs difference.
Agreement Compare(const qclip::Tensor& got, const qclip::Tensor& want) {
  EXPECT_EQ(qclip::ShapeToString(got.shape()), qclip::ShapeToString(want.shape()));
  Agreement a;
  if (got.shape() != want.shape() || got.dtype() != qclip::DType::kFloat32 ||
      want.dtype() != qclip::DType::kFloat32) {
    a.min_cos = -1;
    return a;
  }
  const int64_t cols = want.rank() == 0 ? 1 : want.dim(want.rank() - 1);
  const int64_t rows = cols == 0 ? 0 : want.size() / cols;
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0, gg = 0, ww = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double g = got.data<float>()[r * cols + c];
      const double w = want.data<float>()[r * cols + c];
      dot += g * w;
      gg += g * g;
      ww += w * w;
      a.max_abs = std::max(a.max_abs, std::fabs(g - w));
      if (std::isnan(g) != std::isnan(w)) a.max_abs = INFINITY;
    }
    const double cos = (gg == 0 && ww == 0) ? 1.0 : dot / std::sqrt(gg * ww);
    a.min_cos = std::min(a.min_cos, cos);
    a.mean_cos += cos / static_cast<double>(rows);
  }
  return a;
}

struct Case {
  fs::path dir;
  std::string variant;                                      // fp32, fp16, int8_qint8, ...
  std::string name;                                         // case name
  std::vector<std::pair<std::string, std::string>> inputs;  // name, file
  std::vector<std::string> outputs;
};

std::vector<qclip::Tensor> RunCase(const Case& c, const qclip::SessionOptions& opts) {
  auto session = qclip::Session::Load((c.dir / (c.variant + ".onnx")).string(), opts);
  std::vector<std::pair<std::string, qclip::Tensor>> inputs;
  for (const auto& [name, file] : c.inputs) {
    inputs.emplace_back(name, qclip::ReadNpy((c.dir / file).string()));
  }
  std::vector<qclip::Tensor> outputs = session->Run(inputs);
  std::vector<qclip::Tensor> ordered;
  for (const std::string& want : c.outputs) {
    size_t i = 0;
    while (i < session->outputs().size() && session->outputs()[i].name != want) ++i;
    if (i == session->outputs().size()) throw qclip::Error("model has no output " + want);
    ordered.push_back(outputs[i]);
  }
  return ordered;
}

qclip::Tensor Reference(const Case& c, const std::string& output, const std::string& source) {
  return qclip::ReadNpy((c.dir / (c.name + ".out." + output + "." + source + ".npy")).string());
}

void Report(const Case& c, const std::string& output, const char* mode, const Agreement& a) {
  std::printf("[fixture] %s/%s %s %s %s: max_abs=%.3g min_cos=%.9f mean_cos=%.9f\n",
              c.dir.filename().c_str(), c.variant.c_str(), c.name.c_str(), output.c_str(), mode,
              a.max_abs, a.min_cos, a.mean_cos);
}

bool IsInt8(const std::string& variant) { return variant.rfind("int8", 0) == 0; }

bool SameBits(const qclip::Tensor& a, const qclip::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// INT8 default mode (block-wise activations), the criteria of issue 3, on every output:
// (a) its mean cosine to ONNX Runtime's FP32 model is at least exact mode's, whenever that is
//     attainable at all: when the same INT8 model with unquantized activations (kFloat, the
//     oracle) is itself at least as close as exact mode. Weight rounding makes the oracle
//     farther on two fixtures (docs/QUANTIZATION.md); no activation scheme can do better there.
// (b) always: its distance to the oracle, the error the activation scheme controls, is smaller
//     than exact mode's: 1 - cos(default, oracle) < 1 - cos(exact, oracle).
void CheckDefaultMode(const Case& c, const qclip::SessionOptions& opts) {
  qclip::SessionOptions exact_opts = opts, float_opts = opts;
  exact_opts.exact = true;
  float_opts.int8_activations = qclip::Int8Activations::kFloat;
  const std::vector<qclip::Tensor> got = RunCase(c, opts);
  const std::vector<qclip::Tensor> exact = RunCase(c, exact_opts);
  const std::vector<qclip::Tensor> oracle = RunCase(c, float_opts);
  for (size_t o = 0; o < c.outputs.size(); ++o) {
    const std::string& out = c.outputs[o];
    const qclip::Tensor fp32 = Reference(c, out, "ort_fp32");
    const Agreement ours = Compare(got[o], fp32);
    const Agreement theirs = Compare(exact[o], fp32);
    const Agreement best = Compare(oracle[o], fp32);
    Report(c, out, "default-vs-fp32", ours);
    Report(c, out, "exact-vs-fp32", theirs);
    Report(c, out, "oracle-vs-fp32", best);
    if (best.mean_cos >= theirs.mean_cos) {
      EXPECT_GE(ours.mean_cos, theirs.mean_cos) << out << ": less close to FP32 than exact mode";
    } else {
      std::printf(
          "[fixture] %s/%s %s %s: (a) not attainable, the oracle is %.3g farther from "
          "FP32 than exact mode\n",
          c.dir.filename().c_str(), c.variant.c_str(), c.name.c_str(), out.c_str(),
          theirs.mean_cos - best.mean_cos);
    }
    if (SameBits(got[o], exact[o])) {
      // No activation is quantized (e.g. only a Gather table is INT8): nothing to compare.
      EXPECT_TRUE(SameBits(got[o], oracle[o])) << out;
      continue;
    }
    const Agreement ours_to_oracle = Compare(got[o], oracle[o]);
    const Agreement theirs_to_oracle = Compare(exact[o], oracle[o]);
    std::printf("[fixture] %s/%s %s %s: 1-cos to oracle: default=%.3g exact=%.3g (ratio %.2f)\n",
                c.dir.filename().c_str(), c.variant.c_str(), c.name.c_str(), out.c_str(),
                1 - ours_to_oracle.mean_cos, 1 - theirs_to_oracle.mean_cos,
                (1 - ours_to_oracle.mean_cos) / (1 - theirs_to_oracle.mean_cos));
    EXPECT_LT(1 - ours_to_oracle.mean_cos, 1 - theirs_to_oracle.mean_cos)
        << out << ": block-wise activations are farther from the oracle than per-tensor ones";
  }
}

// FP32/FP16 files: outputs match ONNX Runtime's to 1e-4 and cosine >= 0.999999 per row.
// INT8 files, exact mode: ONNX Runtime's per-tensor quantization reproduced, cosine >= 0.9999
// and max abs <= 1e-2. INT8 default mode: CheckDefaultMode.
void CheckCase(const Case& c, bool exact) {
  qclip::SessionOptions opts;
  opts.threads = 2;
  opts.exact = exact;
  if (IsInt8(c.variant) && !exact) return CheckDefaultMode(c, opts);
  const std::vector<qclip::Tensor> got = RunCase(c, opts);
  for (size_t o = 0; o < c.outputs.size(); ++o) {
    const std::string& out = c.outputs[o];
    const qclip::Tensor want = Reference(c, out, "ort_" + c.variant);
    const Agreement a = Compare(got[o], want);
    if (!IsInt8(c.variant)) {
      Report(c, out, "vs-ort", a);
      EXPECT_LE(a.max_abs, 1e-4) << out;
      EXPECT_GE(a.min_cos, 0.999999) << out;
    } else {
      Report(c, out, "exact-vs-ort", a);
      EXPECT_LE(a.max_abs, 1e-2) << out;
      EXPECT_GE(a.min_cos, 0.9999) << out;
    }
  }
}

class FixtureTest : public testing::Test {
 public:
  FixtureTest(Case c, bool exact) : case_(std::move(c)), exact_(exact) {}
  void TestBody() override { CheckCase(case_, exact_); }

 private:
  Case case_;
  bool exact_;
};

// ------------------------------ Batch independence

// Max |a - b| over row `row` of a [rows, n] output `a` and the [1, n] output `b`.
double RowDifference(const qclip::Tensor& a, int64_t row, const qclip::Tensor& b) {
  const int64_t n = b.size();
  double max_abs = 0;
  for (int64_t i = 0; i < n; ++i) {
    max_abs =
        std::max(max_abs, std::fabs(double{a.data<float>()[row * n + i]} - b.data<float>()[i]));
  }
  return max_abs;
}

// Runs `model` on input `name` = `alone` (one row) and = `batch` (that row first, then others of
// the same length) and returns max |difference| of the first row's embedding.
double BatchEffect(const fs::path& model, const std::string& name, const qclip::Tensor& alone,
                   const qclip::Tensor& batch, const qclip::SessionOptions& opts) {
  auto session = qclip::Session::Load(model.string(), opts);
  const qclip::Tensor one = session->Run({{name, alone}})[0];
  const qclip::Tensor many = session->Run({{name, batch}})[0];
  return RowDifference(many, 0, one);
}

// In default mode a row's result depends on that row alone: a text run alone and inside a batch
// of other texts of the same length (no padding, so attention does not mix them either) gives
// the same embedding, within float rounding. Exact mode's per-tensor scale depends on the batch.
// (Not so for the image towers in any mode: their patch embedding is an ORT ConvInteger, whose
// input ONNX quantizes per tensor, over the whole batch.)
void CheckBatchIndependence(const fs::path& model, const std::string& name,
                            const qclip::Tensor& alone, const qclip::Tensor& batch) {
  qclip::SessionOptions opts;
  opts.threads = 2;
  const double blockwise = BatchEffect(model, name, alone, batch, opts);
  opts.exact = true;
  const double per_tensor = BatchEffect(model, name, alone, batch, opts);
  std::printf("[batch] %s: max |alone - in batch| default=%.3g exact=%.3g\n", model.c_str(),
              blockwise, per_tensor);
  EXPECT_LE(blockwise, 1e-6);
  EXPECT_GT(per_tensor, blockwise);
}

TEST(BatchIndependence, Text) {
  const fs::path dir =
      fs::path(QCLIP_TEST_DATA) / "models" / "biomedclip_text_tiny_pubmedvocab_legacy_op18";
  const qclip::Tensor alone = qclip::ReadNpy((dir / "unpadded_b1.in.input_ids.npy").string());
  const qclip::Tensor others = qclip::ReadNpy((dir / "padded256_b8.in.input_ids.npy").string());
  // Batch-mates of the same length: [CLS], the words of another text repeated, [SEP].
  const int64_t length = alone.dim(1), mates = 3;
  qclip::Tensor batch(qclip::DType::kInt64, {1 + mates, length});
  std::memcpy(batch.data<int64_t>(), alone.data<int64_t>(), alone.bytes());
  for (int64_t m = 0; m < mates; ++m) {
    const int64_t* text = others.data<int64_t>() + m * others.dim(1);
    int64_t words = 0;  // ids between [CLS] and [SEP]
    while (words + 2 < others.dim(1) && text[words + 2] != 0) ++words;
    ASSERT_GT(words, 0);
    int64_t* row = batch.data<int64_t>() + (1 + m) * length;
    row[0] = text[0];
    for (int64_t i = 1; i + 1 < length; ++i) row[i] = text[1 + (i - 1) % words];
    row[length - 1] = text[words + 1];
  }
  CheckBatchIndependence(dir / "int8_qint8.onnx", "input_ids", alone, batch);
}

void RegisterFolder(const std::string& suite, const fs::path& models) {
  if (!fs::is_directory(models)) return;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(models)) {
    if (fs::exists(e.path() / "manifest.json")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    std::ifstream f(dir / "manifest.json");
    const nlohmann::json manifest = nlohmann::json::parse(f);
    for (const auto& jc : manifest.at("cases")) {
      Case base;
      base.dir = dir;
      base.name = jc.at("name").get<std::string>();
      for (const auto& [name, file] : jc.at("inputs").items()) {
        base.inputs.emplace_back(name, file.get<std::string>());
      }
      for (const auto& [name, sources] : jc.at("outputs").items()) base.outputs.push_back(name);
      // Variants: every VARIANT.onnx with a CASE.out.OUTPUT.ort_VARIANT.npy reference.
      std::vector<std::string> variants;
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".onnx") continue;
        const std::string v = e.path().stem().string();
        if (fs::exists(dir / (base.name + ".out." + base.outputs[0] + ".ort_" + v + ".npy"))) {
          variants.push_back(v);
        }
      }
      std::sort(variants.begin(), variants.end());
      for (const std::string& v : variants) {
        for (bool exact : {false, true}) {
          if (exact && !IsInt8(v)) continue;
          Case c = base;
          c.variant = v;
          const std::string test = dir.filename().string() + "/" + v + "/" + c.name +
                                   (IsInt8(v) ? (exact ? "/exact" : "/default") : "");
          testing::RegisterTest(
              suite.c_str(), test.c_str(), nullptr, nullptr, __FILE__, __LINE__,
              [c, exact]() -> testing::Test* { return new FixtureTest(c, exact); });
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  RegisterFolder("Compact", fs::path(QCLIP_TEST_DATA) / "models");
  RegisterFolder("Shared", fs::path(QCLIP_SHARED_FIXTURES) / "models");
  return RUN_ALL_TESTS();
}

// TextEncoder and ImageEncoder through the public API: agreement with ONNX Runtime's outputs,
// independence of an embedding from its batch-mates and batch size, pooling of token-state
// models, and errors for models of the wrong kind.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "qclip/qclip.h"

namespace {

namespace fs = std::filesystem;
const fs::path kData = QCLIP_TEST_DATA;
const fs::path kShared = QCLIP_SHARED_FIXTURES;
const fs::path kText = kData / "models/biomedclip_text_tiny_pubmedvocab_legacy_op18";
const fs::path kVision = kData / "models/biomedclip_vision_tiny_legacy_op17";
const fs::path kPubMedVocab = kData / "tokenizer/pubmedbert-vocab.txt";

std::vector<std::string> ReadLines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

double Cosine(const float* a, const float* b, int64_t n) {
  double dot = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    dot += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(aa * bb);
}

double MaxAbs(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

// Worst cosine of rows of `got` against rows of the [rows, dim] reference tensor.
double MinCosine(const qclip::Embeddings& got, const qclip::Tensor& want) {
  EXPECT_EQ(got.rows, want.dim(0));
  EXPECT_EQ(got.dim, want.dim(1));
  double worst = 1;
  for (int64_t r = 0; r < got.rows; ++r) {
    worst = std::min(worst, Cosine(got.row(r), want.data<float>() + r * want.dim(1), got.dim));
  }
  return worst;
}

TEST(TextEncoder, MatchesOrtAndIsIndependentOfBatchMates) {
  const std::vector<std::string> texts = ReadLines(kText / "padded256_b8.texts.txt");
  auto encoder = qclip::TextEncoder::Load((kText / "fp32.onnx").string(), kPubMedVocab.string());
  const qclip::Embeddings all = encoder->Embed(texts);
  const qclip::Tensor want = qclip::ReadNpy((kText / "padded256_b8.out.embeddings.ort_fp32.npy").string());
  EXPECT_GE(MinCosine(all, want), 0.99999);
  // The same text alone, and with batches of 3: the same embedding up to float rounding.
  qclip::TextEncoderOptions small_batches;
  small_batches.batch_size = 3;
  auto encoder3 = qclip::TextEncoder::Load((kText / "fp32.onnx").string(), kPubMedVocab.string(),
                                           small_batches);
  const qclip::Embeddings by3 = encoder3->Embed(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    const qclip::Embeddings alone = encoder->Embed({texts[i]});
    EXPECT_LE(MaxAbs(alone.row(0), all.row(i), all.dim), 1e-6) << texts[i];
    EXPECT_LE(MaxAbs(by3.row(i), all.row(i), all.dim), 1e-6) << texts[i];
  }
}

// INT8 default mode: activations quantized per row (token), so a text's embedding does not move
// with its batch-mates the way ONNX Runtime's per-tensor quantization makes it move.
TEST(TextEncoder, Int8DefaultModeIsIndependentOfBatchMates) {
  const std::vector<std::string> texts = ReadLines(kText / "padded256_b8.texts.txt");
  for (bool exact : {false, true}) {
    qclip::TextEncoderOptions opts;
    opts.session.exact = exact;
    auto encoder = qclip::TextEncoder::Load((kText / "int8_qint8.onnx").string(),
                                            kPubMedVocab.string(), opts);
    const qclip::Embeddings all = encoder->Embed(texts);
    double worst = 1;
    for (size_t i = 0; i < texts.size(); ++i) {
      worst = std::min(worst, Cosine(encoder->Embed({texts[i]}).row(0), all.row(i), all.dim));
    }
    std::printf("INT8 %s mode: worst cosine of a text alone vs in the batch %.9f\n",
                exact ? "exact" : "default", worst);
    if (!exact) {
      EXPECT_GE(worst, 0.99999);
    }
  }
}

TEST(TextEncoder, TokenizeAddsSpecialTokensAndTruncates) {
  qclip::TextEncoderOptions opts;
  opts.max_length = 4;
  auto encoder = qclip::TextEncoder::Load((kText / "fp32.onnx").string(), kPubMedVocab.string(), opts);
  const std::vector<int64_t> ids = encoder->Tokenize("a chest x-ray showing pneumonia");
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids.front(), 2);  // [CLS] in PubMedBERT's vocabulary
  EXPECT_EQ(ids.back(), 3);   // [SEP] kept by truncation
  EXPECT_EQ(encoder->Tokenize("").size(), 2u);
}

// A sentence-transformers export: three inputs, token states out, mean pooling over the mask.
TEST(TextEncoder, MeanPoolingOfTokenStates) {
  const fs::path dir = kShared / "models/minilm_style_tiny_legacy_op14";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found";
  const std::vector<std::string> texts = {
      "a chest x-ray showing pneumonia",
      "Bilateral pleural effusions, right greater than left, with adjacent atelectasis.",
      "Sjögren's syndrome", "left ← right → up ↑"};
  qclip::TextEncoderOptions opts;
  opts.pooling = qclip::Pooling::kMean;
  opts.normalize = false;
  auto encoder = qclip::TextEncoder::Load((dir / "fp32.onnx").string(),
                                          (kData / "tokenizer/bert-base-uncased-vocab.txt").string(), opts);
  const qclip::Tensor ids = qclip::ReadNpy((dir / "b4.in.input_ids.npy").string());
  const qclip::Tensor mask = qclip::ReadNpy((dir / "b4.in.attention_mask.npy").string());
  const qclip::Tensor states = qclip::ReadNpy((dir / "b4.out.last_hidden_state.ort_fp32.npy").string());
  const int64_t seq = ids.dim(1), dim = states.dim(2);
  // The fixture's ids are these texts' ids: check, then compare with the pooled reference.
  for (int64_t b = 0; b < 4; ++b) {
    std::vector<int64_t> want;
    for (int64_t t = 0; t < seq; ++t) {
      if (mask.data<int64_t>()[b * seq + t] != 0) want.push_back(ids.data<int64_t>()[b * seq + t]);
    }
    ASSERT_EQ(encoder->Tokenize(texts[b]), want) << texts[b];
  }
  const qclip::Embeddings got = encoder->Embed(texts);
  ASSERT_EQ(got.dim, dim);
  for (int64_t b = 0; b < 4; ++b) {
    std::vector<double> sum(dim, 0.0);
    double count = 0;
    for (int64_t t = 0; t < seq; ++t) {
      if (mask.data<int64_t>()[b * seq + t] == 0) continue;
      for (int64_t d = 0; d < dim; ++d) sum[d] += states.data<float>()[(b * seq + t) * dim + d];
      count += 1;
    }
    std::vector<float> want(dim);
    for (int64_t d = 0; d < dim; ++d) want[d] = static_cast<float>(sum[d] / count);
    EXPECT_LE(MaxAbs(got.row(b), want.data(), dim), 1e-4) << texts[b];
    EXPECT_GE(Cosine(got.row(b), want.data(), dim), 0.999999) << texts[b];
  }
}

TEST(ImageEncoder, FilesMatchPixelsAndOrt) {
  const std::vector<std::string> files = {
      (kData / "preprocess/xray_gray_1024x1024.png").string(),
      (kData / "preprocess/gradient_rgb_640x480.png").string(),
      (kData / "preprocess/noise_rgb_100x300_tall.png").string(),
      (kData / "preprocess/exact_224.png").string()};
  qclip::ImageEncoderOptions opts;
  opts.batch_size = 3;
  auto encoder = qclip::ImageEncoder::Load((kVision / "fp32.onnx").string(), opts);
  const qclip::Embeddings from_files = encoder->EmbedFiles(files);
  const qclip::Tensor pixels = qclip::ReadNpy((kVision / "images_b4.in.pixel_values.npy").string());
  const qclip::Embeddings from_pixels = encoder->EmbedPixels(pixels);
  const qclip::Tensor want = qclip::ReadNpy((kVision / "images_b4.out.embeddings.ort_fp32.npy").string());
  EXPECT_GE(MinCosine(from_files, want), 0.9999);
  EXPECT_GE(MinCosine(from_pixels, want), 0.99999);
  for (int64_t r = 0; r < 4; ++r) {
    double norm = 0;
    for (int64_t d = 0; d < from_files.dim; ++d) norm += double(from_files.row(r)[d]) * from_files.row(r)[d];
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
  // One image as [3, 224, 224].
  const qclip::Tensor one = encoder->Preprocess(files[3]);
  EXPECT_EQ(qclip::ShapeToString(one.shape()), "[3, 224, 224]");
  EXPECT_LE(MaxAbs(encoder->EmbedPixels(one).row(0), from_pixels.row(3), from_pixels.dim), 1e-6);
}

TEST(Encoders, RefuseModelsOfTheWrongKind) {
  EXPECT_THROW(qclip::ImageEncoder::Load((kText / "fp32.onnx").string()), qclip::Error);
  EXPECT_THROW(qclip::TextEncoder::Load((kVision / "fp32.onnx").string(), kPubMedVocab.string()),
               qclip::Error);
  auto encoder = qclip::ImageEncoder::Load((kVision / "fp32.onnx").string());
  EXPECT_THROW(encoder->EmbedPixels(qclip::Tensor(qclip::DType::kFloat32, {3, 32, 32})), qclip::Error);
  EXPECT_THROW(encoder->EmbedFiles({(kData / "no-such-image.png").string()}), qclip::Error);
}

}  // namespace

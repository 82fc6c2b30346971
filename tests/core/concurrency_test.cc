// The thread-safety and determinism contract of docs/RELIABILITY.md:
//   - one loaded TextEncoder, ImageEncoder or Session used from 8 threads at once gives, bit for
//     bit, what sequential calls give;
//   - in the default mode the same input gives the same bits on every run and for every thread
//     count (1, 2, 3, 8), for FP32 and INT8 models.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "qclip/qclip.h"

namespace {

namespace fs = std::filesystem;
const fs::path kData = QCLIP_TEST_DATA;
const fs::path kText = kData / "models/biomedclip_text_tiny_pubmedvocab_legacy_op18";
const fs::path kVision = kData / "models/biomedclip_vision_tiny_legacy_op17";
const std::string kVocab = (kData / "tokenizer/pubmedbert-vocab.txt").string();

constexpr int kCallers = 8;

// Calls fn(caller) on kCallers threads released together, and waits for them. A qclip::Error
// (or any exception) on a thread is a test failure, not a crash.
template <typename Fn>
void OnThreads(const Fn& fn) {
  std::atomic<int> waiting{kCallers};
  std::vector<std::thread> threads;
  for (int caller = 0; caller < kCallers; ++caller) {
    threads.emplace_back([&, caller] {
      waiting.fetch_sub(1);
      while (waiting.load() > 0) std::this_thread::yield();
      try {
        fn(caller);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "caller " << caller << " threw: " << e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

bool SameBits(const qclip::Embeddings& a, const qclip::Embeddings& b) {
  return a.rows == b.rows && a.dim == b.dim && a.data.size() == b.data.size() &&
         std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0;
}

bool SameBits(const qclip::Tensor& a, const qclip::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

std::vector<std::string> Texts() {
  std::ifstream in(kText / "padded256_b8.texts.txt");
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) texts.push_back(line);
  texts.push_back("");
  texts.push_back("cardiomegaly");
  texts.push_back(std::string(3000, 'x') + " pneumothorax");  // truncated to 256 tokens
  return texts;
}

std::vector<std::string> Images() {
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(kData / "preprocess")) {
    if (entry.path().extension() == ".png" || entry.path().extension() == ".jpg") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

class Concurrency : public testing::TestWithParam<std::string> {};  // the model variant

TEST_P(Concurrency, TextEncoderFromEightThreads) {
  auto encoder = qclip::TextEncoder::Load((kText / (GetParam() + ".onnx")).string(), kVocab);
  const std::vector<std::string> texts = Texts();
  std::vector<qclip::Embeddings> single;
  for (const std::string& t : texts) single.push_back(encoder->Embed({t}));
  const qclip::Embeddings batch = encoder->Embed(texts);

  std::atomic<int> mismatches{0};
  OnThreads([&](int caller) {
    for (int round = 0; round < 3; ++round) {
      const size_t i = static_cast<size_t>(caller + 5 * round) % texts.size();
      if (!SameBits(encoder->Embed({texts[i]}), single[i])) ++mismatches;
    }
    if (caller % 2 == 0 && !SameBits(encoder->Embed(texts), batch)) ++mismatches;
  });
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(Concurrency, ImageEncoderFromEightThreads) {
  auto encoder = qclip::ImageEncoder::Load((kVision / (GetParam() + ".onnx")).string());
  const std::vector<std::string> images = Images();
  ASSERT_GE(images.size(), 4u);
  std::vector<qclip::Embeddings> single;
  for (const std::string& path : images) single.push_back(encoder->EmbedFiles({path}));

  std::atomic<int> mismatches{0};
  OnThreads([&](int caller) {
    for (int round = 0; round < 2; ++round) {
      const size_t i = static_cast<size_t>(caller + 3 * round) % images.size();
      if (!SameBits(encoder->EmbedFiles({images[i]}), single[i])) ++mismatches;
    }
  });
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(Concurrency, SessionFromEightThreads) {
  // Batches of 1 and 4 images: two plans, made and cached while other threads run.
  const qclip::Tensor four = qclip::ReadNpy((kVision / "images_b4.in.pixel_values.npy").string());
  const qclip::Tensor one = qclip::ReadNpy((kVision / "randn_b1.in.pixel_values.npy").string());
  const std::string input = "pixel_values";
  std::vector<qclip::Tensor> want_four, want_one;
  {
    auto fresh = qclip::Session::Load((kVision / (GetParam() + ".onnx")).string());
    want_four = fresh->Run({{input, four}});
    want_one = fresh->Run({{input, one}});
  }
  auto session = qclip::Session::Load((kVision / (GetParam() + ".onnx")).string());
  std::atomic<int> mismatches{0};
  OnThreads([&](int caller) {
    const bool big = caller % 2 == 0;
    const std::vector<qclip::Tensor> got = session->Run({{input, big ? four : one}});
    const std::vector<qclip::Tensor>& want = big ? want_four : want_one;
    if (got.size() != want.size()) {
      ++mismatches;
      return;
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (!SameBits(got[i], want[i])) ++mismatches;
    }
  });
  EXPECT_EQ(mismatches.load(), 0);
}

// Same bits for 1, 2, 3 and 8 threads, and on a second run with the same encoder.
TEST_P(Concurrency, DeterministicAcrossRunsAndThreadCounts) {
  const std::vector<std::string> texts = Texts();
  const qclip::Tensor pixels =
      qclip::ReadNpy((kVision / "images_b4.in.pixel_values.npy").string());
  qclip::Embeddings text_want, image_want;
  for (const int threads : {1, 2, 3, 8}) {
    qclip::TextEncoderOptions text_options;
    text_options.session.threads = threads;
    auto text = qclip::TextEncoder::Load((kText / (GetParam() + ".onnx")).string(), kVocab,
                                         text_options);
    qclip::ImageEncoderOptions image_options;
    image_options.session.threads = threads;
    auto image = qclip::ImageEncoder::Load((kVision / (GetParam() + ".onnx")).string(),
                                           image_options);
    for (int run = 0; run < 2; ++run) {
      const qclip::Embeddings t = text->Embed(texts);
      const qclip::Embeddings i = image->EmbedPixels(pixels);
      if (text_want.rows == 0) {
        text_want = t;
        image_want = i;
        continue;
      }
      EXPECT_TRUE(SameBits(t, text_want)) << threads << " threads, run " << run;
      EXPECT_TRUE(SameBits(i, image_want)) << threads << " threads, run " << run;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Concurrency, testing::Values("fp32", "int8_qint8"));

}  // namespace

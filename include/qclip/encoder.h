// Text and image encoders: strings and image files in, L2-normalised embeddings out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qclip/session.h"
#include "qclip/tensor.h"

namespace qclip {

// Row-major [rows, dim] float embeddings.
struct Embeddings {
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> data;
  const float* row(int64_t i) const { return data.data() + i * dim; }
};

// How a model that outputs token states [batch, sequence, dim] becomes one vector per text.
enum class Pooling {
  kAuto,  // none for models whose output is already [batch, dim] (BiomedCLIP), else mean
  kCls,   // the first token's state
  kMean,  // the mean over the tokens the attention mask keeps (sentence-transformers)
  kNone,  // the output as it is: must be [batch, dim]
};

struct TextEncoderOptions {
  SessionOptions session;   // threads; exact = ONNX Runtime's per-tensor INT8 activations
  size_t max_length = 256;  // tokens per text including [CLS] and [SEP] (BiomedCLIP: 256)
  Pooling pooling = Pooling::kAuto;
  bool normalize = true;   // L2-normalise each embedding
  size_t batch_size = 16;  // texts per model call
};

// A BERT-style text tower (BiomedCLIP's PubMedBERT, sentence-transformers exports) with its
// WordPiece vocabulary. Texts are cleaned as open_clip does (whitespace collapsed), tokenized,
// truncated to max_length, and run *without* padding to max_length: a batch is padded only to
// its longest text, and the attention mask (in the graph, or the model's attention_mask input)
// makes pad positions inert, so a text's embedding is the same alone or in any batch, and the
// same as open_clip's padded-to-256 computation. Safe to use from several threads.
class TextEncoder {
 public:
  static std::unique_ptr<TextEncoder> Load(const std::string& model_path,
                                           const std::string& vocab_path,
                                           const TextEncoderOptions& options = {});
  virtual ~TextEncoder() = default;
  // Embed and Tokenize may be called from several threads at once; each call gives the same
  // bits as sequential calls (docs/RELIABILITY.md).
  virtual Embeddings Embed(const std::vector<std::string>& texts) = 0;
  // The token ids Embed feeds the model for `text` (with [CLS] and [SEP], no padding).
  virtual std::vector<int64_t> Tokenize(const std::string& text) const = 0;
};

enum class ImagePreprocess {
  kClip,            // BiomedCLIP/open_clip: shorter side to 224 (bicubic), centre crop 224
  kSquashBilinear,  // both sides to 224 (bilinear): the Med-MIR browser pipeline
};

struct ImageEncoderOptions {
  SessionOptions session;
  ImagePreprocess preprocess = ImagePreprocess::kClip;
  int64_t max_pixels = int64_t{64} << 20;  // images with more pixels are refused before decoding
  bool normalize = true;
  size_t batch_size = 8;
};

// A vision tower taking pixel_values [batch, 3, 224, 224]. Safe to use from several threads.
class ImageEncoder {
 public:
  static std::unique_ptr<ImageEncoder> Load(const std::string& model_path,
                                            const ImageEncoderOptions& options = {});
  virtual ~ImageEncoder() = default;
  // EmbedFiles, EmbedPixels and Preprocess may be called from several threads at once, with the
  // same bits as sequential calls (docs/RELIABILITY.md).
  // Decodes (PNG, JPEG, BMP, PNM, TGA) and preprocesses each file, then embeds them.
  virtual Embeddings EmbedFiles(const std::vector<std::string>& paths) = 0;
  // Embeds preprocessed pixels: float32 [3, 224, 224] or [n, 3, 224, 224].
  virtual Embeddings EmbedPixels(const Tensor& pixels) = 0;
  // The preprocessed [3, 224, 224] tensor EmbedFiles feeds the model for `path`.
  virtual Tensor Preprocess(const std::string& path) const = 0;
};

}  // namespace qclip

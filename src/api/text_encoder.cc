#include <algorithm>
#include <cmath>
#include <numeric>

#include "api/pooling.h"
#include "qclip/encoder.h"
#include "qclip/error.h"
#include "text/normalizer.h"
#include "text/wordpiece.h"

namespace qclip {

namespace {

class TextEncoderImpl final : public TextEncoder {
 public:
  TextEncoderImpl(const std::string& model_path, const std::string& vocab_path,
                  const TextEncoderOptions& options)
      : options_(options),
        tokenizer_(WordPieceTokenizer::FromFile(vocab_path)),
        session_(Session::Load(model_path, options.session)) {
    if (options_.max_length < 2) throw Error("TextEncoder: max_length must be at least 2");
    if (options_.batch_size == 0) throw Error("TextEncoder: batch_size must be at least 1");
    for (const ValueDesc& in : session_->inputs()) {
      if (in.name == "input_ids") {
        ids_dtype_ = in.dtype;
      } else if (in.name == "attention_mask") {
        mask_dtype_ = in.dtype;
      } else if (in.name == "token_type_ids") {
        types_dtype_ = in.dtype;
      } else {
        throw Error(model_path + ": TextEncoder does not know what to feed input '" + in.name +
                    "' (it feeds input_ids, attention_mask and token_type_ids)");
      }
    }
    for (DType d : {ids_dtype_, mask_dtype_, types_dtype_}) {
      if (d != DType::kUndefined && d != DType::kInt64 && d != DType::kInt32) {
        throw Error(model_path + ": text model inputs must be int64 or int32");
      }
    }
    if (ids_dtype_ == DType::kUndefined) throw Error(model_path + ": the model has no input_ids");
  }

  std::vector<int64_t> Tokenize(const std::string& text) const override {
    const std::vector<int32_t> ids =
        tokenizer_.Encode(CleanTextLikeOpenClip(text), options_.max_length);
    return std::vector<int64_t>(ids.begin(), ids.end());
  }

  Embeddings Embed(const std::vector<std::string>& texts) override {
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(texts.size());
    for (const std::string& t : texts) ids.push_back(Tokenize(t));
    // Batch texts of similar length together so little padding is computed; each embedding is
    // independent of its batch-mates, so the order does not change results.
    std::vector<size_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });
    Embeddings out;
    out.rows = static_cast<int64_t>(texts.size());
    for (size_t start = 0; start < order.size(); start += options_.batch_size) {
      const size_t n = std::min(options_.batch_size, order.size() - start);
      const std::vector<size_t> batch(order.begin() + start, order.begin() + start + n);
      RunBatch(ids, batch, &out);
    }
    return out;
  }

 private:
  static Tensor IntTensor(DType dtype, const Shape& shape, const std::vector<int64_t>& values) {
    Tensor t(dtype, shape);
    for (size_t i = 0; i < values.size(); ++i) {
      if (dtype == DType::kInt64) {
        t.data<int64_t>()[i] = values[i];
      } else {
        t.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
      }
    }
    return t;
  }

  void RunBatch(const std::vector<std::vector<int64_t>>& ids, const std::vector<size_t>& batch,
                Embeddings* out) {
    size_t length = 0;
    for (size_t i : batch) length = std::max(length, ids[i].size());
    const Shape shape = {static_cast<int64_t>(batch.size()), static_cast<int64_t>(length)};
    std::vector<int64_t> flat(batch.size() * length, tokenizer_.pad_id());
    std::vector<int64_t> mask(batch.size() * length, 0);
    for (size_t b = 0; b < batch.size(); ++b) {
      const std::vector<int64_t>& row = ids[batch[b]];
      std::copy(row.begin(), row.end(), flat.begin() + b * length);
      std::fill(mask.begin() + b * length, mask.begin() + b * length + row.size(), 1);
    }
    std::vector<std::pair<std::string, Tensor>> inputs;
    inputs.emplace_back("input_ids", IntTensor(ids_dtype_, shape, flat));
    if (mask_dtype_ != DType::kUndefined) {
      inputs.emplace_back("attention_mask", IntTensor(mask_dtype_, shape, mask));
    }
    if (types_dtype_ != DType::kUndefined) {
      inputs.emplace_back("token_type_ids",
                          IntTensor(types_dtype_, shape, std::vector<int64_t>(flat.size(), 0)));
    }
    const Tensor result = session_->Run(inputs)[0];
    const Tensor pooled = Pool(result, mask, options_.pooling);
    const int64_t dim = pooled.dim(1);
    if (out->data.empty()) {
      out->dim = dim;
      out->data.assign(static_cast<size_t>(out->rows * dim), 0.0f);
    }
    for (size_t b = 0; b < batch.size(); ++b) {
      float* dst = out->data.data() + batch[b] * dim;
      std::copy(pooled.data<float>() + b * dim, pooled.data<float>() + (b + 1) * dim, dst);
      if (options_.normalize) NormalizeL2(dst, dim);
    }
  }

  TextEncoderOptions options_;
  WordPieceTokenizer tokenizer_;
  std::unique_ptr<Session> session_;
  DType ids_dtype_ = DType::kUndefined;
  DType mask_dtype_ = DType::kUndefined;
  DType types_dtype_ = DType::kUndefined;
};

}  // namespace

std::unique_ptr<TextEncoder> TextEncoder::Load(const std::string& model_path,
                                               const std::string& vocab_path,
                                               const TextEncoderOptions& options) {
  return std::make_unique<TextEncoderImpl>(model_path, vocab_path, options);
}

}  // namespace qclip

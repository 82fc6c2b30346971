// ImageEncoder: image files -> BiomedCLIP's preprocessing (src/image) -> the vision tower.
#include <algorithm>
#include <string>

#include "api/pooling.h"
#include "image/preprocess.h"
#include "qclip/encoder.h"
#include "qclip/error.h"

namespace qclip {

namespace {

constexpr int64_t kSize = kPreprocessSize;

PreprocessMode ToPreprocessMode(ImagePreprocess p) {
  return p == ImagePreprocess::kClip ? PreprocessMode::kClip : PreprocessMode::kSquashBilinear;
}

class ImageEncoderImpl final : public ImageEncoder {
 public:
  ImageEncoderImpl(const std::string& model_path, const ImageEncoderOptions& options)
      : options_(options), session_(Session::Load(model_path, options.session)) {
    if (options_.batch_size == 0) throw Error("ImageEncoder: batch_size must be at least 1");
    if (options_.max_pixels < 1) throw Error("ImageEncoder: max_pixels must be at least 1");
    // One float input [batch, 3, 224, 224]; symbolic dims are fine, other fixed ones are not.
    if (session_->inputs().size() != 1) {
      throw Error(model_path + ": an image model has one input (pixel_values), this one has " +
                  std::to_string(session_->inputs().size()));
    }
    const ValueDesc& in = session_->inputs()[0];
    input_name_ = in.name;
    const Shape want = {-1, 3, kSize, kSize};
    bool shape_ok = in.dtype == DType::kFloat32 && in.shape.size() == want.size();
    for (size_t d = 1; shape_ok && d < want.size(); ++d) {
      shape_ok = in.shape[d] == -1 || in.shape[d] == want[d];
    }
    if (!shape_ok) {
      throw Error(model_path + ": input '" + in.name + "' must be float32 [batch, 3, 224, 224], is " +
                  DTypeName(in.dtype) + " " + ShapeToString(in.shape));
    }
    // The output named "embeddings" (BiomedCLIP exports), else the first.
    for (size_t i = 0; i < session_->outputs().size(); ++i) {
      if (session_->outputs()[i].name == "embeddings") output_index_ = i;
    }
  }

  Tensor Preprocess(const std::string& path) const override {
    DecodeLimits limits;
    limits.max_pixels = options_.max_pixels;
    return PreprocessImageFile(path, ToPreprocessMode(options_.preprocess), limits);
  }

  Embeddings EmbedFiles(const std::vector<std::string>& paths) override {
    Embeddings out;
    out.rows = static_cast<int64_t>(paths.size());
    const int64_t image_floats = 3 * kSize * kSize;
    for (size_t start = 0; start < paths.size(); start += options_.batch_size) {
      const size_t n = std::min(options_.batch_size, paths.size() - start);
      Tensor pixels(DType::kFloat32, {static_cast<int64_t>(n), 3, kSize, kSize});
      for (size_t i = 0; i < n; ++i) {
        const Tensor one = Preprocess(paths[start + i]);
        std::copy(one.data<float>(), one.data<float>() + image_floats,
                  pixels.data<float>() + i * image_floats);
      }
      RunBatch(pixels, start, &out);
    }
    return out;
  }

  Embeddings EmbedPixels(const Tensor& pixels) override {
    const bool single = pixels.rank() == 3;
    const Shape& s = pixels.shape();
    const bool ok = pixels.dtype() == DType::kFloat32 && (single || pixels.rank() == 4) &&
                    s[s.size() - 3] == 3 && s[s.size() - 2] == kSize && s[s.size() - 1] == kSize;
    if (!ok) {
      throw Error("ImageEncoder::EmbedPixels: expected float32 [3, 224, 224] or [n, 3, 224, 224], got " +
                  std::string(DTypeName(pixels.dtype())) + " " + ShapeToString(s));
    }
    const int64_t rows = single ? 1 : s[0];
    const int64_t image_floats = 3 * kSize * kSize;
    Embeddings out;
    out.rows = rows;
    for (int64_t start = 0; start < rows; start += static_cast<int64_t>(options_.batch_size)) {
      const int64_t n = std::min(static_cast<int64_t>(options_.batch_size), rows - start);
      Tensor batch(DType::kFloat32, {n, 3, kSize, kSize});
      std::copy(pixels.data<float>() + start * image_floats,
                pixels.data<float>() + (start + n) * image_floats, batch.data<float>());
      RunBatch(batch, static_cast<size_t>(start), &out);
    }
    return out;
  }

 private:
  // Runs one batch and stores its embeddings as rows [first, first + batch) of `out`.
  void RunBatch(const Tensor& pixels, size_t first, Embeddings* out) {
    const Tensor result = session_->Run({{input_name_, pixels}})[output_index_];
    if (result.dtype() != DType::kFloat32 || result.rank() != 2 || result.dim(0) != pixels.dim(0)) {
      throw Error("ImageEncoder: the model's output '" + session_->outputs()[output_index_].name +
                  "' is " + ShapeToString(result.shape()) + ", expected float32 [batch, dim]");
    }
    const int64_t dim = result.dim(1);
    if (out->data.empty()) {
      out->dim = dim;
      out->data.assign(static_cast<size_t>(out->rows * dim), 0.0f);
    }
    for (int64_t b = 0; b < result.dim(0); ++b) {
      float* dst = out->data.data() + (first + static_cast<size_t>(b)) * dim;
      std::copy(result.data<float>() + b * dim, result.data<float>() + (b + 1) * dim, dst);
      if (options_.normalize) NormalizeL2(dst, dim);
    }
  }

  ImageEncoderOptions options_;
  std::unique_ptr<Session> session_;
  std::string input_name_;
  size_t output_index_ = 0;
};

}  // namespace

std::unique_ptr<ImageEncoder> ImageEncoder::Load(const std::string& model_path,
                                                 const ImageEncoderOptions& options) {
  return std::make_unique<ImageEncoderImpl>(model_path, options);
}

}  // namespace qclip

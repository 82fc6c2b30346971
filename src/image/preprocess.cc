// The torchvision half of the preprocessing (output sizes, crop offsets, ToTensor, Normalize);
// the Pillow half is in resample.cc and decode.cc.

#include "image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "image/resample.h"
#include "qclip/error.h"

namespace qclip {
namespace {

// OpenAI CLIP's normalisation, which BiomedCLIP keeps.
constexpr float kMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

// Resized longer sides beyond this come only from absurd aspect ratios (Pillow would need
// gigabytes for the resize): refused.
constexpr int64_t kMaxResizedSide = int64_t{1} << 24;

// convert('RGB'), except that gray images stay one channel: R = G = B and every later step
// treats channels alike, so gray images cost a third.
Image ConvertToRgbOrGray(const Image& image) {
  return image.channels < 3 ? ConvertToGray(image) : ConvertToRgb(image);
}

// torchvision ToTensor then Normalize, in float32 as torch computes them: v / 255, then
// (x - mean) / std. A table per channel holds the 256 possible results. CHW out of HWC, with
// a one-channel image's gray in R, G and B.
Tensor Normalize(const Image& image) {
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v)
      table[c][v] = (static_cast<float>(v) / 255.0f - kMean[c]) / kStd[c];
  }
  Tensor out(DType::kFloat32, {3, image.height, image.width});
  float* planes = out.data<float>();
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  const int channels = image.channels;  // 1 or 3
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      planes[c * plane + i] = table[c][image.pixels[i * channels + (channels == 3 ? c : 0)]];
    }
  }
  return out;
}

// torchvision F.center_crop: the offset is int(round((size - crop) / 2.0)), and Python's round
// takes halves to the even neighbour, as nearbyint does in the default rounding mode.
int CenterCropOffset(int size, int crop) {
  return static_cast<int>(std::nearbyint((size - crop) / 2.0));
}

}  // namespace

PreprocessMode ParsePreprocessMode(const std::string& name) {
  if (name == "clip") return PreprocessMode::kClip;
  if (name == "squash-bilinear" || name == "squash_bilinear") {
    return PreprocessMode::kSquashBilinear;
  }
  throw Error("unknown preprocessing mode '" + name + "' (clip or squash-bilinear)");
}

Tensor PreprocessImage(const Image& image, PreprocessMode mode) {
  constexpr int kSize = kPreprocessSize;
  if (mode == PreprocessMode::kSquashBilinear) {
    // convert('RGB') first: alpha is dropped and palettes expanded before resizing.
    return Normalize(PillowResize(ConvertToRgbOrGray(image), kSize, kSize,
                                  ResampleFilter::kBilinear, Window{0, 0, kSize, kSize}));
  }
  // torchvision Resize(224) (_compute_resized_output_size): the shorter side becomes 224, the
  // longer int(224 * long / short), truncated; a square goes by its width.
  const int64_t short_side = std::min(image.width, image.height);
  const int64_t long_side = std::max(image.width, image.height);
  if (short_side < 1) throw Error("preprocess: empty image");
  const auto resized_long = static_cast<int64_t>(static_cast<double>(kSize * long_side) /
                                                 static_cast<double>(short_side));
  if (resized_long > kMaxResizedSide) {
    throw Error("preprocess: a " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " image would resize to a side of " +
                std::to_string(resized_long) + " pixels (aspect ratio too extreme)");
  }
  const bool portrait = image.width <= image.height;
  const int width = portrait ? kSize : static_cast<int>(resized_long);
  const int height = portrait ? static_cast<int>(resized_long) : kSize;
  // CenterCrop(224) right after the resize, so only the crop is resampled.
  const Window crop{CenterCropOffset(width, kSize), CenterCropOffset(height, kSize), kSize, kSize};
  // Resized in the file's own mode, converted after (open_clip's order).
  return Normalize(
      ConvertToRgbOrGray(PillowResize(image, width, height, ResampleFilter::kBicubic, crop)));
}

Tensor PreprocessImageFile(const std::string& path, PreprocessMode mode,
                           const DecodeLimits& limits) {
  return PreprocessImage(ReadImageFile(path, limits), mode);
}

}  // namespace qclip

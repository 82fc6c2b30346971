// BiomedCLIP image preprocessing: an image to the [3, 224, 224] float32 tensor the vision tower
// takes, exactly as the Python pipelines compute it with Pillow and torchvision.
#pragma once

#include <string>

#include "image/decode.h"
#include "image/image.h"
#include "qclip/tensor.h"

namespace qclip {

constexpr int kPreprocessSize = 224;

enum class PreprocessMode {
  // open_clip's eval transform for BiomedCLIP: Resize(224, BICUBIC) of the shorter side,
  // CenterCrop(224), convert('RGB'), ToTensor, Normalize(CLIP mean, std).
  kClip,
  // The Med-MIR browser pipeline: convert('RGB'), Resize((224, 224), BILINEAR), ToTensor,
  // Normalize(CLIP mean, std).
  kSquashBilinear,
};

// "clip" or "squash-bilinear" (also "squash_bilinear"); throws qclip::Error on anything else.
PreprocessMode ParsePreprocessMode(const std::string& name);

// The CHW float32 tensor [3, 224, 224] of `image`.
Tensor PreprocessImage(const Image& image, PreprocessMode mode);

// Reads, decodes and preprocesses the image file at `path`.
Tensor PreprocessImageFile(const std::string& path, PreprocessMode mode,
                           const DecodeLimits& limits = {});

}  // namespace qclip

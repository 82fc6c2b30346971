// qclip::Image: a decoded image in the layout Pillow would hold it in.
//
// The BiomedCLIP transform resizes an image *before* converting it to RGB, so the result depends
// on Pillow's mode for the file: palette images are resized with NEAREST whatever the filter,
// images with alpha are resized premultiplied, 16-bit gray is resized in 16 bits. Image keeps
// that mode beside the samples so the resampler can do what Pillow does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qclip {

// Pillow's image modes as far as resizing and convert('RGB') can tell them apart.
enum class PillowMode {
  kL,        // "L": 8-bit gray
  kLA,       // "LA": gray + alpha; Image.resize works on premultiplied "La"
  kRGB,      // "RGB"
  kRGBA,     // "RGBA"; Image.resize works on premultiplied "RGBa"
  kIndexed,  // "P" (palette) or "1" (bilevel), stored expanded; Image.resize uses NEAREST
  kI16,      // "I;16": 16-bit gray in `pixels16`; convert('RGB') clips it to 0..255
};

struct Image {
  int width = 0;
  int height = 0;
  // Interleaved samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
  int channels = 0;
  PillowMode mode = PillowMode::kRGB;
  std::vector<uint8_t> pixels;     // height * width * channels samples, row by row
  std::vector<uint16_t> pixels16;  // kI16 only, instead of `pixels`: height * width samples
};

// Whether an image's samples fill exactly its size (an Image made by hand may not).
inline bool HasMatchingSamples(const Image& image) {
  if (image.width < 1 || image.height < 1 || image.channels < 1 || image.channels > 4) {
    return false;
  }
  const size_t pixels = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  return image.mode == PillowMode::kI16
             ? image.channels == 1 && image.pixels16.size() == pixels && image.pixels.empty()
             : image.pixels.size() == pixels * image.channels;
}

}  // namespace qclip

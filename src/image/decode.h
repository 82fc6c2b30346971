// Decoding PNG, JPEG, BMP, PNM and TGA files into the Pillow-mode Image of image.h (stb_image;
// libjpeg-turbo for JPEG in builds with QCLIP_WITH_LIBJPEG, see jpeg.h), and Pillow's
// convert('RGB').
//
// Files are hostile input: every limit is checked on the header before any pixel is decoded, and
// stb_image's own allocations are capped, so a bad file ends in a qclip::Error, never a crash,
// hang or unbounded allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace qclip {

struct DecodeLimits {
  // Images with more pixels are refused from their header, before decoding: 8192 x 8192.
  int64_t max_pixels = int64_t{8192} * 8192;
  // Files larger than this are refused before they are read.
  int64_t max_file_bytes = int64_t{512} << 20;
};

// Decodes an image file held in memory. `name` (a path or any label) names the image in errors.
// Throws qclip::Error for an empty, truncated, corrupt, unsupported or too large image.
Image DecodeImage(const uint8_t* data, size_t size, const std::string& name,
                  const DecodeLimits& limits = {});

// Reads and decodes the image file at `path`.
Image ReadImageFile(const std::string& path, const DecodeLimits& limits = {});

// Pillow's image.convert('RGB'): gray is replicated, alpha dropped without compositing, 16-bit
// gray clipped to 0..255 (Convert.c I16_RGB). The result has mode kRGB and 3 channels.
Image ConvertToRgb(const Image& image);

// For a gray image (1 or 2 channels, or kI16): the value convert('RGB') puts in each of R, G and
// B, as a one-channel kL image. Throws qclip::Error for colour images.
Image ConvertToGray(const Image& image);

}  // namespace qclip

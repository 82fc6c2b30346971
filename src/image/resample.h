// Pillow's Image.resize, bit for bit: the antialiased separable filters of
// src/libImaging/Resample.c (support widened by the downscale factor, fixed-point 8-bit passes,
// horizontal first with the intermediate rounded and clipped to 8 bits) and the mode rules of
// Image.resize (palette images use NEAREST, alpha images are resized premultiplied).
#pragma once

#include "image/image.h"

namespace qclip {

enum class ResampleFilter {
  kBilinear,  // Image.Resampling.BILINEAR: triangle, support 1
  kBicubic,   // Image.Resampling.BICUBIC: cubic convolution with a = -0.5, support 2
};

// A rectangle of an image: columns [x, x + width), rows [y, y + height).
struct Window {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// image.resize((out_width, out_height), filter) as Pillow computes it, cropped to `window` of the
// resized image. Only the window is computed, with the exact values the full resize would have.
// The result keeps the image's mode. Throws qclip::Error on sizes below 1 or a window outside.
Image PillowResize(const Image& image, int out_width, int out_height, ResampleFilter filter,
                   const Window& window);

}  // namespace qclip

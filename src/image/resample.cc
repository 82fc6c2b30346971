// Pillow's resampling, reproduced operation for operation: Resample.c (the separable filters),
// Geometry.c ImagingScaleAffine (NEAREST) and the mode rules of Image.resize.

#include "image/resample.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qclip/error.h"

// The weights must round as Pillow's do on x86-64, where no a * b + c is fused into one FMA.
#if defined(__FP_FAST_FMA) && defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__FP_FAST_FMA) && defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace qclip {
namespace {

// Resample.c PRECISION_BITS: 8 bits of result, 2 of headroom for the negative lobes, 22 of
// fraction in the fixed-point weights of the 8-bit passes.
constexpr int kPrecisionBits = 32 - 8 - 2;

double FilterSupport(ResampleFilter filter) {
  return filter == ResampleFilter::kBicubic ? 2.0 : 1.0;
}

// Resample.c bilinear_filter and bicubic_filter, in Pillow's order of operations.
double FilterWeight(ResampleFilter filter, double x) {
  if (x < 0.0) x = -x;
  if (filter == ResampleFilter::kBilinear) return x < 1.0 ? 1.0 - x : 0.0;
  constexpr double a = -0.5;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// One axis of a resize: output i (counted from the first output computed) is the weighted sum of
// inputs first[i] .. first[i] + count[i] - 1 with weights[i * taps + k].
struct Axis {
  int taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<double> weights;
};

// Resample.c precompute_coeffs, for outputs [begin, end) of an in_size -> out_size resize.
Axis ComputeAxis(int in_size, int out_size, ResampleFilter filter, int begin, int end) {
  // Pillow's box is (0, in_size) in floats: scale = (double)(in1 - in0) / outSize.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  // Downscaling widens the filter by the scale factor (the antialiasing); upscaling does not.
  const double filterscale = std::max(scale, 1.0);
  const double support = FilterSupport(filter) * filterscale;
  const double inverse_filterscale = 1.0 / filterscale;
  Axis axis;
  axis.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(end - begin);
  axis.count.resize(end - begin);
  axis.weights.assign(static_cast<size_t>(end - begin) * axis.taps, 0.0);
  for (int i = 0; i < end - begin; ++i) {
    const double center = (begin + i + 0.5) * scale;
    // Bounds rounded by adding 0.5 and truncating, as Pillow does.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size);
    double* weights = &axis.weights[static_cast<size_t>(i) * axis.taps];
    double sum = 0.0;
    for (int k = 0; k < xmax - xmin; ++k) {
      weights[k] = FilterWeight(filter, (k + xmin - center + 0.5) * inverse_filterscale);
      sum += weights[k];
    }
    for (int k = 0; k < xmax - xmin; ++k) {
      if (sum != 0.0) weights[k] /= sum;
    }
    axis.first[i] = xmin;
    axis.count[i] = xmax - xmin;
  }
  return axis;
}

// Resample.c normalize_coeffs_8bpc: weights in fixed point, rounded half away from zero.
std::vector<int32_t> FixedPointWeights(const Axis& axis) {
  std::vector<int32_t> fixed(axis.weights.size());
  for (size_t i = 0; i < fixed.size(); ++i) {
    const double w = axis.weights[i];
    fixed[i] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                          : 0.5 + w * (1 << kPrecisionBits));
  }
  return fixed;
}

// Resample.c clip8: a sum started at 1 << (kPrecisionBits - 1), so the shift rounds.
uint8_t Clip8(int32_t sum) {
  return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255));
}

// Resample.c ROUND_UP, which the 16-bit passes use.
int RoundUp(double f) { return static_cast<int>(f >= 0.0 ? f + 0.5F : f - 0.5F); }

// How the 16-bit passes of Resample.c store a sum: two bytes clipped apart, CLIP8(v % 256) and
// CLIP8(v >> 8). A negative sum becomes 0; one above 65535 keeps its low byte under 0xFF.
uint16_t StoreI16(int v) {
  const int low = std::clamp(v % 256, 0, 255);
  const int high = std::clamp(v >> 8, 0, 255);
  return static_cast<uint16_t>(high << 8 | low);
}

// Resample.c ImagingResampleHorizontal_8bpc over `rows` rows of `channels` interleaved samples.
void HorizontalPass(const uint8_t* in, int in_width, int rows, int channels, const Axis& axis,
                    uint8_t* out) {
  const std::vector<int32_t> weights = FixedPointWeights(axis);
  const int out_width = static_cast<int>(axis.first.size());
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in_row = in + static_cast<size_t>(y) * in_width * channels;
    uint8_t* out_row = out + static_cast<size_t>(y) * out_width * channels;
    for (int x = 0; x < out_width; ++x) {
      const int32_t* w = &weights[static_cast<size_t>(x) * axis.taps];
      const uint8_t* src = in_row + static_cast<size_t>(axis.first[x]) * channels;
      for (int c = 0; c < channels; ++c) {
        int32_t sum = 1 << (kPrecisionBits - 1);
        for (int k = 0; k < axis.count[x]; ++k) sum += src[k * channels + c] * w[k];
        out_row[x * channels + c] = Clip8(sum);
      }
    }
  }
}

// Resample.c ImagingResampleVertical_8bpc; `in` holds input rows from `first_row` on. Whole rows
// are summed at once, which the compiler vectorises.
void VerticalPass(const uint8_t* in, size_t row_samples, const Axis& axis, int first_row,
                  uint8_t* out) {
  const std::vector<int32_t> weights = FixedPointWeights(axis);
  std::vector<int32_t> sums(row_samples);
  for (size_t y = 0; y < axis.first.size(); ++y) {
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    for (int k = 0; k < axis.count[y]; ++k) {
      const uint8_t* row = in + static_cast<size_t>(axis.first[y] - first_row + k) * row_samples;
      const int32_t w = weights[y * axis.taps + k];
      for (size_t s = 0; s < row_samples; ++s) sums[s] += row[s] * w;
    }
    uint8_t* out_row = out + y * row_samples;
    for (size_t s = 0; s < row_samples; ++s) out_row[s] = Clip8(sums[s]);
  }
}

// Resample.c ImagingResampleHorizontal_16bpc: double weights and sums, rounded by ROUND_UP.
void HorizontalPass(const uint16_t* in, int in_width, int rows, int channels, const Axis& axis,
                    uint16_t* out) {
  const int out_width = static_cast<int>(axis.first.size());
  for (int y = 0; y < rows; ++y) {
    const uint16_t* in_row = in + static_cast<size_t>(y) * in_width * channels;
    uint16_t* out_row = out + static_cast<size_t>(y) * out_width * channels;
    for (int x = 0; x < out_width; ++x) {
      const double* w = &axis.weights[static_cast<size_t>(x) * axis.taps];
      const uint16_t* src = in_row + static_cast<size_t>(axis.first[x]) * channels;
      for (int c = 0; c < channels; ++c) {
        double sum = 0.0;
        for (int k = 0; k < axis.count[x]; ++k) sum += src[k * channels + c] * w[k];
        out_row[x * channels + c] = StoreI16(RoundUp(sum));
      }
    }
  }
}

// Resample.c ImagingResampleVertical_16bpc.
void VerticalPass(const uint16_t* in, size_t row_samples, const Axis& axis, int first_row,
                  uint16_t* out) {
  for (size_t y = 0; y < axis.first.size(); ++y) {
    const double* w = &axis.weights[y * axis.taps];
    const uint16_t* rows = in + static_cast<size_t>(axis.first[y] - first_row) * row_samples;
    for (size_t s = 0; s < row_samples; ++s) {
      double sum = 0.0;
      for (int k = 0; k < axis.count[y]; ++k) sum += rows[k * row_samples + s] * w[k];
      out[y * row_samples + s] = StoreI16(RoundUp(sum));
    }
  }
}

// Resample.c ImagingResampleInner for `window` of the resized image: the horizontal pass over the
// input rows that the window's rows read, then the vertical pass. Like Pillow, a pass is skipped
// when its axis keeps its size.
template <typename T>
std::vector<T> ResampleWindow(const T* in, int in_width, int in_height, int channels, int out_width,
                              int out_height, ResampleFilter filter, const Window& window) {
  const bool vertical = out_height != in_height;
  Axis rows_axis;
  int row_begin = window.y;
  int row_end = window.y + window.height;
  if (vertical) {
    rows_axis = ComputeAxis(in_height, out_height, filter, window.y, window.y + window.height);
    row_begin = rows_axis.first.front();
    row_end = rows_axis.first.back() + rows_axis.count.back();
  }
  const size_t row_samples = static_cast<size_t>(window.width) * channels;
  const T* in_rows = in + static_cast<size_t>(row_begin) * in_width * channels;
  std::vector<T> columns(static_cast<size_t>(row_end - row_begin) * row_samples);
  if (out_width != in_width) {
    const Axis columns_axis =
        ComputeAxis(in_width, out_width, filter, window.x, window.x + window.width);
    HorizontalPass(in_rows, in_width, row_end - row_begin, channels, columns_axis, columns.data());
  } else {
    for (int y = 0; y < row_end - row_begin; ++y) {
      const T* src = in_rows + (static_cast<size_t>(y) * in_width + window.x) * channels;
      std::copy(src, src + row_samples, columns.begin() + y * row_samples);
    }
  }
  if (!vertical) return columns;
  std::vector<T> out(static_cast<size_t>(window.height) * row_samples);
  VerticalPass(columns.data(), row_samples, rows_axis, row_begin, out.data());
  return out;
}

// Geometry.c ImagingScaleAffine, which NEAREST resizes use: output i samples input
// (int)(scale / 2 + i * scale), the position summed step by step as Pillow sums it; -1 (a zero
// pixel) outside the image.
std::vector<int> NearestSources(int in_size, int out_size, int begin, int end) {
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  std::vector<int> sources;
  double position = scale * 0.5;
  for (int i = 0; i < end; ++i, position += scale) {
    if (i < begin) continue;
    const int source = position < 0.0 ? -1 : static_cast<int>(position);
    sources.push_back(source < in_size ? source : -1);
  }
  return sources;
}

std::vector<uint8_t> ResizeNearest(const Image& image, int out_width, int out_height,
                                   const Window& window) {
  const std::vector<int> xs =
      NearestSources(image.width, out_width, window.x, window.x + window.width);
  const std::vector<int> ys =
      NearestSources(image.height, out_height, window.y, window.y + window.height);
  const int channels = image.channels;
  std::vector<uint8_t> out(static_cast<size_t>(window.width) * window.height * channels, 0);
  for (int y = 0; y < window.height; ++y) {
    for (int x = 0; x < window.width; ++x) {
      if (xs[x] < 0 || ys[y] < 0) continue;
      const uint8_t* src =
          &image.pixels[(static_cast<size_t>(ys[y]) * image.width + xs[x]) * channels];
      std::copy(src, src + channels, &out[(static_cast<size_t>(y) * window.width + x) * channels]);
    }
  }
  return out;
}

// Convert.c rgbA2rgba and lA2la: colour times alpha with MULDIV255; alpha is the last channel.
void Premultiply(std::vector<uint8_t>* pixels, int channels) {
  for (size_t i = 0; i < pixels->size(); i += channels) {
    uint8_t* p = &(*pixels)[i];
    const int alpha = p[channels - 1];
    for (int c = 0; c < channels - 1; ++c) {
      const int t = p[c] * alpha + 128;
      p[c] = static_cast<uint8_t>(((t >> 8) + t) >> 8);
    }
  }
}

// Convert.c rgba2rgbA and la2lA: divided back by alpha and clipped; alpha 0 and 255 keep colour.
void Unpremultiply(std::vector<uint8_t>* pixels, int channels) {
  for (size_t i = 0; i < pixels->size(); i += channels) {
    uint8_t* p = &(*pixels)[i];
    const int alpha = p[channels - 1];
    if (alpha == 0 || alpha == 255) continue;
    for (int c = 0; c < channels - 1; ++c) {
      p[c] = static_cast<uint8_t>(std::min(255 * p[c] / alpha, 255));
    }
  }
}

template <typename T>
std::vector<T> CopyWindow(const std::vector<T>& in, int in_width, int channels,
                          const Window& window) {
  const size_t row_samples = static_cast<size_t>(window.width) * channels;
  std::vector<T> out(row_samples * window.height);
  for (int y = 0; y < window.height; ++y) {
    const size_t src = (static_cast<size_t>(window.y + y) * in_width + window.x) * channels;
    std::copy(in.begin() + src, in.begin() + src + row_samples, out.begin() + y * row_samples);
  }
  return out;
}

}  // namespace

Image PillowResize(const Image& image, int out_width, int out_height, ResampleFilter filter,
                   const Window& window) {
  const std::string size = std::to_string(image.width) + "x" + std::to_string(image.height) +
                           " -> " + std::to_string(out_width) + "x" + std::to_string(out_height);
  if (!HasMatchingSamples(image)) {
    throw Error("resize " + size + ": the image's samples do not match its size");
  }
  if (out_width < 1 || out_height < 1 || window.width < 1 || window.height < 1 || window.x < 0 ||
      window.y < 0 || window.x > out_width - window.width ||
      window.y > out_height - window.height) {
    throw Error("resize " + size + ": empty size, or window outside the resized image");
  }
  const bool sixteen_bit = image.mode == PillowMode::kI16;
  Image out;
  out.width = window.width;
  out.height = window.height;
  out.channels = image.channels;
  out.mode = image.mode;
  if (out_width == image.width && out_height == image.height) {
    // Image.resize returns a copy when the size does not change (no premultiplication).
    if (sixteen_bit) {
      out.pixels16 = CopyWindow(image.pixels16, image.width, 1, window);
    } else {
      out.pixels = CopyWindow(image.pixels, image.width, image.channels, window);
    }
    return out;
  }
  switch (image.mode) {
    case PillowMode::kIndexed:  // Image.resize: "1" and "P" always use NEAREST
      out.pixels = ResizeNearest(image, out_width, out_height, window);
      break;
    case PillowMode::kI16:
      out.pixels16 = ResampleWindow(image.pixels16.data(), image.width, image.height, 1, out_width,
                                    out_height, filter, window);
      break;
    case PillowMode::kLA:
    case PillowMode::kRGBA: {  // Image.resize converts to "La"/"RGBa" and back
      std::vector<uint8_t> premultiplied = image.pixels;
      Premultiply(&premultiplied, image.channels);
      out.pixels = ResampleWindow(premultiplied.data(), image.width, image.height, image.channels,
                                  out_width, out_height, filter, window);
      Unpremultiply(&out.pixels, image.channels);
      break;
    }
    case PillowMode::kL:
    case PillowMode::kRGB:
      out.pixels = ResampleWindow(image.pixels.data(), image.width, image.height, image.channels,
                                  out_width, out_height, filter, window);
      break;
  }
  return out;
}

}  // namespace qclip

// Fuzzes image decoding from memory (PNG, JPEG, BMP, PNM, TGA: stb_image, libjpeg-turbo and our
// checks around them) and both preprocessing modes. Any bytes must give an image whose samples
// fill its size, then a [3, 224, 224] tensor, or a qclip::Error.
//
// The pixel limit is 1 Mpx here, not the default 64 Mpx: it is the same check, and keeps each
// run short enough for the fuzzer to explore (tests/image/decode_test.cc covers the defaults).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "image/decode.h"
#include "image/preprocess.h"
#include "qclip/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qclip::DecodeLimits limits;
  limits.max_pixels = int64_t{1} << 20;
  limits.max_file_bytes = int64_t{1} << 20;
  qclip::Image image;
  try {
    image = qclip::DecodeImage(data, size, "fuzz", limits);
  } catch (const qclip::Error&) {
    return 0;
  }
  if (!qclip::HasMatchingSamples(image)) std::abort();
  // One mode per input (chosen by its size) keeps each run to one resize.
  const auto mode =
      size % 2 == 0 ? qclip::PreprocessMode::kClip : qclip::PreprocessMode::kSquashBilinear;
  try {
    const qclip::Tensor t = qclip::PreprocessImage(image, mode);
    if (t.shape() != qclip::Shape{3, qclip::kPreprocessSize, qclip::kPreprocessSize}) std::abort();
  } catch (const qclip::Error&) {
    // Aspect ratios too extreme to resize are refused.
  }
  return 0;
}

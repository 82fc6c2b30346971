// JPEG decoding with libjpeg-turbo (see jpeg.h).

#include "image/jpeg.h"

#include "qclip/error.h"

#if defined(QCLIP_WITH_LIBJPEG)

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <string>
#include <utility>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

namespace qclip {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  bool reading_pixels = false;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void OnError(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings are ignored, as Pillow ignores them, except running out of data while pixels are
// still to come: jpeg_mem_src then pads with an End Of Image marker, but Pillow's suspending
// source fails ("image file is truncated"). A missing marker after the last row is fine in both.
void OnMessage(j_common_ptr cinfo, int level) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF && errors->reading_pixels) {
    OnError(cinfo);
  }
}

// Pillow opens every four-channel JPEG as "CMYK" with inverted samples ("CMYK;I", the Adobe
// convention), and convert('RGB') applies Convert.c cmyk2rgb.
void InvertedCmykToRgb(const uint8_t* cmyk, size_t pixels, uint8_t* rgb) {
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - (255 - K)
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - cmyk[c]) * nk + 128;  // MULDIV255
      rgb[c] = static_cast<uint8_t>(std::clamp(nk - (((t >> 8) + t) >> 8), 0, 255));
    }
  }
}

// The libjpeg calls, under setjmp for its errors. No object in here has a destructor, so longjmp
// skips none; what they fill lives in the caller. Returns false when libjpeg failed.
bool RunLibjpeg(const uint8_t* data, size_t size, int64_t max_pixels, jpeg_decompress_struct* cinfo,
                ErrorManager* errors, std::vector<uint8_t>* samples, bool* too_large) {
  if (setjmp(errors->jump) != 0) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  const int64_t width = cinfo->image_width, height = cinfo->image_height;
  if (width > max_pixels / height) {
    *too_large = true;
    return true;
  }
  cinfo->out_color_space = cinfo->jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                           : cinfo->num_components == 4             ? JCS_CMYK
                                                                    : JCS_RGB;
  // libjpeg's own cap, on the whole-image buffers of progressive files.
  cinfo->mem->max_memory_to_use = 16 * (width + 32) * (height + 32) + (1 << 20);
  errors->reading_pixels = true;
  jpeg_start_decompress(cinfo);
  const size_t row_samples = static_cast<size_t>(cinfo->output_width) * cinfo->output_components;
  samples->resize(row_samples * cinfo->output_height);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = samples->data() + cinfo->output_scanline * row_samples;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  errors->reading_pixels = false;
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

bool HaveLibjpeg() { return true; }

Image DecodeJpegWithLibjpeg(const uint8_t* data, size_t size, const std::string& name,
                            const DecodeLimits& limits) {
  jpeg_decompress_struct cinfo = {};
  struct Destroy {
    jpeg_decompress_struct* cinfo;
    ~Destroy() { jpeg_destroy_decompress(cinfo); }
  } destroy{&cinfo};
  ErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = OnError;
  errors.pub.emit_message = OnMessage;
  std::vector<uint8_t> samples;
  bool too_large = false;
  if (!RunLibjpeg(data, size, limits.max_pixels, &cinfo, &errors, &samples, &too_large)) {
    throw Error("image '" + name + "': corrupt or truncated JPEG (" + errors.message + ")");
  }
  if (too_large) {
    throw Error("image '" + name + "': JPEG of " + std::to_string(cinfo.image_width) + "x" +
                std::to_string(cinfo.image_height) + " pixels is above the limit of " +
                std::to_string(limits.max_pixels) +
                " pixels (DecodeLimits::max_pixels); refused before decoding");
  }
  Image image;
  image.width = static_cast<int>(cinfo.output_width);
  image.height = static_cast<int>(cinfo.output_height);
  const bool gray = cinfo.out_color_space == JCS_GRAYSCALE;
  image.channels = gray ? 1 : 3;
  image.mode = gray ? PillowMode::kL : PillowMode::kRGB;
  if (cinfo.out_color_space == JCS_CMYK) {
    image.pixels.resize(samples.size() / 4 * 3);
    InvertedCmykToRgb(samples.data(), samples.size() / 4, image.pixels.data());
  } else {
    image.pixels = std::move(samples);
  }
  return image;
}

}  // namespace qclip

#else  // !QCLIP_WITH_LIBJPEG

namespace qclip {

bool HaveLibjpeg() { return false; }

Image DecodeJpegWithLibjpeg(const uint8_t*, size_t, const std::string& name, const DecodeLimits&) {
  throw Error("image '" + name + "': this build has no libjpeg (QCLIP_WITH_LIBJPEG)");
}

}  // namespace qclip

#endif

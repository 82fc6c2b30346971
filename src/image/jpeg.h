// JPEG decoding with libjpeg-turbo, the library Pillow decodes JPEG with, in builds that define
// QCLIP_WITH_LIBJPEG and link libjpeg; other builds decode JPEG with stb_image (decode.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/decode.h"
#include "image/image.h"

namespace qclip {

// Whether this build decodes JPEG with libjpeg-turbo.
bool HaveLibjpeg();

// Decodes a JPEG as Pillow does, bit for bit: libjpeg-turbo with its defaults (islow IDCT, fancy
// upsampling). Refuses images above the limits after reading the header, and, like Pillow, a
// file whose image data is cut short. Throws qclip::Error, always in builds without libjpeg.
Image DecodeJpegWithLibjpeg(const uint8_t* data, size_t size, const std::string& name,
                            const DecodeLimits& limits);

}  // namespace qclip

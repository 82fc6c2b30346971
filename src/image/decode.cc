// Image decoding with stb_image, hardened: limits from the header first, capped allocations,
// and the checks stb_image lacks. JPEG goes to libjpeg-turbo instead in builds that have it.

#include "image/decode.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "image/jpeg.h"
#include "qclip/error.h"

namespace {

// stb_image allocates as the file asks: a PNG's zlib stream inflates into a buffer that doubles
// until the stream ends, whatever size the header declares (a decompression bomb). Every
// allocation it makes goes through these and is refused above a cap set per decode from the
// header's dimensions.
thread_local size_t stb_allocation_cap = 0;
thread_local bool stb_allocation_refused = false;

void* StbMalloc(size_t size) {
  if (size > stb_allocation_cap) {
    stb_allocation_refused = true;
    return nullptr;
  }
  // Zeroed: on a truncated BMP or TGA stb_image leaves the missing pixels unwritten.
  return std::calloc(1, size);
}

void* StbRealloc(void* p, size_t size) {
  if (size > stb_allocation_cap) {
    stb_allocation_refused = true;
    return nullptr;
  }
  return std::realloc(p, size);
}

}  // namespace

// Only the formats we promise; stb's GIF, PSD, HDR and PIC readers are the least hardened.
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_ONLY_TGA
#define STBI_NO_STDIO  // files are read here, size-checked first
#define STBI_MAX_DIMENSIONS (1 << 20)
#define STBI_MALLOC(size) StbMalloc(size)
#define STBI_REALLOC(p, size) StbRealloc(p, size)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_STATIC  // keep stb's symbols private to this file
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

namespace qclip {
namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool IsPng(const uint8_t* data, size_t size) {
  return size >= 8 && std::memcmp(data, kPngSignature, 8) == 0;
}
// Where a JPEG's Start Of Image marker ends, or 0 if there is none. stb_image accepts fill
// bytes before it: FF (FF)* D8.
size_t JpegStart(const uint8_t* data, size_t size) {
  if (size < 2 || data[0] != 0xFF) return 0;
  size_t pos = 1;
  while (pos < size && data[pos] == 0xFF) ++pos;
  return pos < size && data[pos] == 0xD8 ? pos + 1 : 0;
}
bool IsJpeg(const uint8_t* data, size_t size) { return JpegStart(data, size) != 0; }
bool IsPnm(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6');
}

const char* FormatName(const uint8_t* data, size_t size) {
  if (IsPng(data, size)) return "PNG";
  if (IsJpeg(data, size)) return "JPEG";
  if (IsPnm(data, size)) return "PNM";
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') return "BMP";
  return "TGA";  // stb_image tries TGA last: it has no signature
}

uint32_t ReadBigEndian32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// What a header says: the size, and the Pillow mode and channels to decode into.
struct Layout {
  int64_t width = 0;
  int64_t height = 0;
  PillowMode mode = PillowMode::kRGB;
  int channels = 3;
};

// Pillow's PNG modes by bit depth and colour type (PngImagePlugin._MODES). stb_image reports only
// channel counts (a tRNS chunk even adds one), so they come from IHDR: a valid PNG starts with it.
bool ReadPngLayout(const uint8_t* data, size_t size, Layout* layout) {
  if (size < 33 || std::memcmp(data + 12, "IHDR", 4) != 0) return false;
  layout->width = ReadBigEndian32(data + 16);
  layout->height = ReadBigEndian32(data + 20);
  const int bit_depth = data[24];
  const int colour_type = data[25];
  switch (colour_type) {
    case 0:  // gray: "1" for 1 bit, "I;16" for 16, else "L"
      layout->mode = bit_depth == 16  ? PillowMode::kI16
                     : bit_depth == 1 ? PillowMode::kIndexed
                                      : PillowMode::kL;
      layout->channels = 1;
      return true;
    case 2:  // "RGB" (16-bit keeps the high bytes, as stb does)
      layout->mode = PillowMode::kRGB;
      layout->channels = 3;
      return true;
    case 3:  // "P"
      layout->mode = PillowMode::kIndexed;
      layout->channels = 3;
      return true;
    case 4:  // "LA"; 16-bit opens as "RGBA" with R = G = B, which resizes the same
      layout->mode = PillowMode::kLA;
      layout->channels = 2;
      return true;
    case 6:  // "RGBA"
      layout->mode = PillowMode::kRGBA;
      layout->channels = 4;
      return true;
  }
  return false;
}

// Whether each Huffman table of the DHT segment at `pos` has at most 256 codes. Read as stb reads
// it: table after table while the segment has bytes left, even where a table runs past its end.
bool HuffmanTablesFit(const uint8_t* data, size_t size, size_t pos, size_t length) {
  for (int64_t left = static_cast<int64_t>(length); left > 0;) {
    size_t codes = 0;  // after a class/id byte, 16 code counts; stb reads 0 past the file's end
    for (size_t i = 1; i <= 16; ++i) codes += pos + i < size ? data[pos + i] : 0;
    if (codes > 256) return false;
    pos += 17 + codes;
    left -= static_cast<int64_t>(17 + codes);
  }
  return true;
}

// Walks a JPEG's markers before stb_image reads it, for two things stb gets wrong. It writes
// past a Huffman table whose DHT counts more than 256 codes (fixed upstream in 2.28; Debian has
// 2.27). And it decodes a file cut short as if it were whole, padding it with grey, where
// libjpeg-turbo, and so Pillow, fails: a whole file ends in an End Of Image marker. The walk
// skips stray and fill bytes as stb does. Returns "" or the problem.
std::string JpegStructureProblem(const uint8_t* data, size_t size) {
  size_t pos = JpegStart(data, size);
  while (pos + 1 < size) {
    if (data[pos] != 0xFF || data[pos + 1] == 0xFF) {
      ++pos;
      continue;
    }
    const uint8_t marker = data[pos + 1];
    pos += 2;
    if (marker == 0xD9) return "";
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (pos + 2 > size) break;
    const size_t length = size_t{data[pos]} << 8 | data[pos + 1];
    if (marker == 0xC4 &&
        !HuffmanTablesFit(data, size, pos + 2, length - std::min<size_t>(length, 2))) {
      return "corrupt JPEG (a Huffman table of more than 256 codes)";
    }
    if (length < 2 || length > size - pos) break;
    pos += length;
    if (marker != 0xDA) continue;
    // Compressed data runs to the next marker. A data byte FF is stored as FF 00 (stb, like
    // libjpeg, also takes FF FF .. 00 as one), and restart markers FF D0..D7 belong to it.
    while (pos < size) {
      if (data[pos++] != 0xFF) continue;
      while (pos < size && data[pos] == 0xFF) ++pos;
      if (pos < size && data[pos] != 0 && (data[pos] & 0xF8) != 0xD0) {
        pos -= 1;  // back to the marker's FF
        break;
      }
    }
  }
  return "truncated JPEG (no End Of Image marker)";
}

// Whether a PNG's first IDAT chunk is empty. stb_image 2.27 allocates its buffer for the
// compressed data at the first IDAT with data, and copies every IDAT's data into it: an empty
// one before that is a memcpy to a null pointer (undefined behaviour). No encoder writes one;
// such files are refused. Chunks are walked as stb walks them: length, type, data, CRC.
bool PngStartsWithEmptyIdat(const uint8_t* data, size_t size) {
  for (size_t pos = 8; pos <= size && size - pos >= 8;) {
    const uint32_t length = ReadBigEndian32(data + pos);
    if (std::memcmp(data + pos + 4, "IDAT", 4) == 0) return length == 0;
    pos += size_t{12} + length;
  }
  return false;
}

// A PNM header as stb_image parses it: "P5"/"P6", then width, height and maxval separated by
// whitespace or #-comments, then one whitespace byte before the samples.
struct PnmHeader {
  int64_t numbers[3] = {};  // width, height, maxval
  size_t samples_start = 0;
};

// Returns false when a number of the header does not fit an int: stb_image 2.27 accumulates
// them in an int without checking, which overflows (fixed upstream in 2.28).
bool ReadPnmHeader(const uint8_t* data, size_t size, PnmHeader* header) {
  const auto is_space = [](uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  size_t pos = 2;
  for (int64_t& number : header->numbers) {
    for (;;) {
      while (pos < size && is_space(data[pos])) ++pos;
      if (pos >= size || data[pos] != '#') break;
      while (pos < size && data[pos] != '\n' && data[pos] != '\r') ++pos;
    }
    for (number = 0; pos < size && data[pos] >= '0' && data[pos] <= '9'; ++pos) {
      number = number * 10 + (data[pos] - '0');
      if (number > std::numeric_limits<int>::max()) return false;
    }
  }
  header->samples_start = pos + 1;
  return true;
}

// stb_image ignores a short read of PNM samples (the buffer keeps what it held).
bool PnmHasAllSamples(const uint8_t* data, size_t size, const Layout& layout) {
  PnmHeader header;
  if (!ReadPnmHeader(data, size, &header)) return false;
  const int64_t sample_bytes = header.numbers[2] > 255 ? 2 : 1;
  const int64_t needed = layout.width * layout.height * layout.channels * sample_bytes;
  return header.samples_start <= size &&
         static_cast<int64_t>(size - header.samples_start) >= needed;
}

std::string StbFailureReason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown error";
}

// Sets the cap on stb_image's allocations for one decode, and releases its result at the end.
struct StbScope {
  // Enough for the header readers' state (a JPEG decoder is some 20 KB).
  StbScope() { SetCap(size_t{1} << 20); }
  ~StbScope() {
    stbi_image_free(pixels);
    stb_allocation_cap = 0;
  }
  void SetCap(size_t cap) {
    stb_allocation_cap = cap;
    stb_allocation_refused = false;
  }
  void* pixels = nullptr;
};

}  // namespace

Image DecodeImage(const uint8_t* data, size_t size, const std::string& name,
                  const DecodeLimits& limits) {
  if (size == 0) throw Error("image '" + name + "': empty file");
  if (static_cast<uint64_t>(size) > static_cast<uint64_t>(limits.max_file_bytes) ||
      size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw Error("image '" + name + "': file of " + std::to_string(size) +
                " bytes is above the limit of " + std::to_string(limits.max_file_bytes) +
                " bytes (DecodeLimits::max_file_bytes)");
  }
  if (IsJpeg(data, size) && HaveLibjpeg()) return DecodeJpegWithLibjpeg(data, size, name, limits);
  const std::string format = FormatName(data, size);
  const int len = static_cast<int>(size);
  StbScope stb;
  // Before stb reads even the header: its header reader builds the Huffman tables.
  if (IsJpeg(data, size)) {
    const std::string problem = JpegStructureProblem(data, size);
    if (!problem.empty()) throw Error("image '" + name + "': " + problem);
  }

  PnmHeader pnm;
  if (IsPnm(data, size) && !ReadPnmHeader(data, size, &pnm)) {
    throw Error("image '" + name + "': corrupt PNM (a header number above 2^31 - 1)");
  }
  if (IsPng(data, size) && PngStartsWithEmptyIdat(data, size)) {
    throw Error("image '" + name + "': corrupt PNG (its first IDAT chunk is empty)");
  }

  // The size and mode from the header alone, so that no pixel is decoded before the limits
  // pass. A PNG's IHDR is read here: stb refuses big ones with a vaguer "too large".
  Layout layout;
  if (!IsPng(data, size) || !ReadPngLayout(data, size, &layout)) {
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(data, len, &width, &height, &channels)) {
      throw Error("image '" + name + "': not a readable PNG, JPEG, BMP, PNM or TGA file (" +
                  StbFailureReason() + ")");
    }
    layout.width = width;
    layout.height = height;
    layout.channels = std::clamp(channels, 1, 4);
    constexpr PillowMode kModes[] = {PillowMode::kL, PillowMode::kLA, PillowMode::kRGB,
                                     PillowMode::kRGBA};
    layout.mode = kModes[layout.channels - 1];
    if (layout.channels == 1 && stbi_is_16_bit_from_memory(data, len)) {
      layout.mode = PillowMode::kI16;
    }
  }
  if (layout.width <= 0 || layout.height <= 0) {
    throw Error("image '" + name + "': " + format + " has zero size (" +
                std::to_string(layout.width) + "x" + std::to_string(layout.height) + ")");
  }
  if (layout.width > limits.max_pixels / layout.height) {  // width * height could overflow
    throw Error("image '" + name + "': " + format + " of " + std::to_string(layout.width) + "x" +
                std::to_string(layout.height) + " pixels is above the limit of " +
                std::to_string(limits.max_pixels) +
                " pixels (DecodeLimits::max_pixels); refused before decoding");
  }
  const int64_t pixels = layout.width * layout.height;
  if (IsPnm(data, size) && !PnmHasAllSamples(data, size, layout)) {
    throw Error("image '" + name + "': truncated PNM (fewer samples than " +
                std::to_string(layout.width) + "x" + std::to_string(layout.height) + ")");
  }

  // Room for what stb legitimately needs: the zlib buffer of a 16-bit RGBA PNG, doubled once
  // for interlacing, or a JPEG's coefficients padded to whole MCUs; plus 1 MiB of tables.
  const size_t cap =
      16 * static_cast<size_t>(layout.width + 32) * static_cast<size_t>(layout.height + 32) +
      (size_t{1} << 20);
  stb.SetCap(cap);
  int width = 0, height = 0, channels_in_file = 0;
  const bool sixteen_bit = layout.mode == PillowMode::kI16;
  stb.pixels = sixteen_bit ? static_cast<void*>(stbi_load_16_from_memory(data, len, &width, &height,
                                                                         &channels_in_file, 1))
                           : static_cast<void*>(stbi_load_from_memory(
                                 data, len, &width, &height, &channels_in_file, layout.channels));
  if (stb.pixels == nullptr) {
    if (stb_allocation_refused) {
      throw Error("image '" + name + "': " + format + " needs more memory than its " +
                  std::to_string(layout.width) + "x" + std::to_string(layout.height) +
                  " size allows (more than " + std::to_string(cap) +
                  " bytes at once): corrupt or a decompression bomb");
    }
    throw Error("image '" + name + "': corrupt or truncated " + format + " (" + StbFailureReason() +
                ")");
  }
  if (width != layout.width || height != layout.height) {
    throw Error("image '" + name + "': " + format + " decoded to " + std::to_string(width) + "x" +
                std::to_string(height) + ", not the " + std::to_string(layout.width) + "x" +
                std::to_string(layout.height) + " of its header");
  }

  Image image;
  image.width = width;
  image.height = height;
  image.channels = sixteen_bit ? 1 : layout.channels;
  image.mode = layout.mode;
  const size_t samples = static_cast<size_t>(pixels) * image.channels;
  if (sixteen_bit) {
    const auto* begin = static_cast<const uint16_t*>(stb.pixels);
    image.pixels16.assign(begin, begin + samples);
  } else {
    const auto* begin = static_cast<const uint8_t*>(stb.pixels);
    image.pixels.assign(begin, begin + samples);
  }
  return image;
}

Image ReadImageFile(const std::string& path, const DecodeLimits& limits) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw Error("image '" + path + "': " +
                (std::filesystem::exists(path, error) ? "not a regular file" : "no such file"));
  }
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error) throw Error("image '" + path + "': cannot read its size: " + error.message());
  if (size > static_cast<uintmax_t>(limits.max_file_bytes)) {
    throw Error("image '" + path + "': file of " + std::to_string(size) +
                " bytes is above the limit of " + std::to_string(limits.max_file_bytes) +
                " bytes (DecodeLimits::max_file_bytes)");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  std::ifstream file(path, std::ios::binary);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    throw Error("image '" + path + "': cannot read the file");
  }
  return DecodeImage(bytes.data(), bytes.size(), path, limits);
}

Image ConvertToGray(const Image& image) {
  if (!HasMatchingSamples(image) || image.channels > 2) {
    throw Error("convert to gray: not a gray image with samples matching its " +
                std::to_string(image.width) + "x" + std::to_string(image.height) + " size");
  }
  Image gray;
  gray.width = image.width;
  gray.height = image.height;
  gray.channels = 1;
  gray.mode = PillowMode::kL;
  gray.pixels.resize(static_cast<size_t>(image.width) * image.height);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    // Convert.c l2rgb and la2rgb copy L (alpha is dropped, not composited); I16_RGB clips to
    // 255, it does not rescale.
    gray.pixels[i] = image.mode == PillowMode::kI16
                         ? static_cast<uint8_t>(std::min<int>(image.pixels16[i], 255))
                         : image.pixels[i * image.channels];
  }
  return gray;
}

Image ConvertToRgb(const Image& image) {
  if (!HasMatchingSamples(image)) {
    throw Error("convert('RGB'): the image's samples do not match its " +
                std::to_string(image.width) + "x" + std::to_string(image.height) + " size");
  }
  Image rgb;
  rgb.width = image.width;
  rgb.height = image.height;
  rgb.channels = 3;
  rgb.mode = PillowMode::kRGB;
  const size_t pixels = static_cast<size_t>(image.width) * image.height;
  rgb.pixels.resize(pixels * 3);
  if (image.channels < 3) {
    const Image gray = ConvertToGray(image);
    for (size_t i = 0; i < pixels; ++i) {
      rgb.pixels[i * 3] = rgb.pixels[i * 3 + 1] = rgb.pixels[i * 3 + 2] = gray.pixels[i];
    }
    return rgb;
  }
  for (size_t i = 0; i < pixels; ++i) {  // Convert.c rgba2rgb drops alpha
    std::copy_n(&image.pixels[i * image.channels], 3, &rgb.pixels[i * 3]);
  }
  return rgb;
}

}  // namespace qclip

// Decoding: the Pillow mode of each PNG kind, the other formats, and hostile files (truncated,
// corrupt, random, oversized, decompression bombs), which must end in qclip::Error.

#include "image/decode.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "image/jpeg.h"
#include "qclip/error.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace qclip {
namespace {

const std::string kData = QCLIP_TEST_DATA "/preprocess/";

std::string ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file) << path;
  return std::string(std::istreambuf_iterator<char>(file), {});
}

Image Decode(const std::string& bytes, const DecodeLimits& limits = {}) {
  return DecodeImage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test", limits);
}

// The qclip::Error message of decoding `bytes`, or "" when it decodes.
std::string DecodeError(const std::string& bytes, const DecodeLimits& limits = {}) {
  try {
    Decode(bytes, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// --- a minimal PNG writer, for the kinds stb_image_write does not make --------------------------

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

uint32_t Crc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (const unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
  }
  return ~crc;
}

std::string Chunk(const std::string& type, const std::string& data) {
  return BigEndian32(static_cast<uint32_t>(data.size())) + type + data +
         BigEndian32(Crc32(type + data));
}

std::string Zlib(const std::string& raw) {
  int size = 0;
  unsigned char* z =
      stbi_zlib_compress(reinterpret_cast<unsigned char*>(const_cast<char*>(raw.data())),
                         static_cast<int>(raw.size()), &size, 8);
  std::string out(reinterpret_cast<char*>(z), static_cast<size_t>(size));
  std::free(z);
  return out;
}

// A PNG of `rows` equal-length rows of packed samples (filter bytes are added), with
// `chunks` (PLTE, tRNS) between IHDR and IDAT.
std::string MakePng(uint32_t width, int bit_depth, int color_type,
                    const std::vector<std::string>& rows, const std::string& chunks = "") {
  std::string scanlines;
  for (const std::string& row : rows) scanlines += '\0' + row;
  const std::string ihdr = BigEndian32(width) + BigEndian32(static_cast<uint32_t>(rows.size())) +
                           static_cast<char>(bit_depth) + static_cast<char>(color_type) +
                           std::string(3, '\0');
  return std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IHDR", ihdr) + chunks +
         Chunk("IDAT", Zlib(scanlines)) + Chunk("IEND", "");
}

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (const int v : values) s += static_cast<char>(v);
  return s;
}

// --- Pillow's mode for each PNG kind -------------------------------------------------------------

TEST(DecodePng, FixtureModes) {
  const Image gray = ReadImageFile(kData + "upscale_gray_50x40.png");
  EXPECT_EQ(gray.mode, PillowMode::kL);
  EXPECT_EQ(gray.channels, 1);
  EXPECT_EQ(gray.width, 50);
  EXPECT_EQ(gray.height, 40);
  EXPECT_EQ(gray.pixels.size(), 50u * 40);
  const Image rgba = ReadImageFile(kData + "opaque_rgba_96x64.png");
  EXPECT_EQ(rgba.mode, PillowMode::kRGBA);
  EXPECT_EQ(rgba.channels, 4);
  const Image rgb = ReadImageFile(kData + "noise_rgb_100x300_tall.png");
  EXPECT_EQ(rgb.mode, PillowMode::kRGB);
  EXPECT_EQ(rgb.channels, 3);
}

TEST(DecodePng, PaletteIsIndexedAndExpanded) {
  const std::string plte = Chunk("PLTE", Bytes({255, 0, 0, 0, 255, 0, 0, 0, 255}));
  const std::string trns = Chunk("tRNS", Bytes({0, 128}));
  for (const std::string& chunks : {plte, plte + trns}) {
    const Image image = Decode(MakePng(2, 8, 3, {Bytes({0, 1}), Bytes({2, 1})}, chunks));
    EXPECT_EQ(image.mode, PillowMode::kIndexed);
    EXPECT_EQ(image.channels, 3);  // a palette's alpha is not kept: convert('RGB') drops it
    EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0}));
  }
}

TEST(DecodePng, OneBitGrayIsIndexed) {  // Pillow mode "1"
  const Image image = Decode(MakePng(8, 1, 0, {Bytes({0b10110000})}));
  EXPECT_EQ(image.mode, PillowMode::kIndexed);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 0, 255, 255, 0, 0, 0, 0}));
}

TEST(DecodePng, LowBitGrayIsScaled) {  // Pillow "L;2": 0..3 -> 0, 85, 170, 255
  const Image image = Decode(MakePng(4, 2, 0, {Bytes({0b00011011})}));
  EXPECT_EQ(image.mode, PillowMode::kL);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0, 85, 170, 255}));
}

TEST(DecodePng, Gray16IsI16) {
  const Image image = Decode(MakePng(2, 16, 0, {Bytes({0x12, 0x34, 0x00, 0xFF})}));
  EXPECT_EQ(image.mode, PillowMode::kI16);
  EXPECT_EQ(image.channels, 1);
  EXPECT_TRUE(image.pixels.empty());
  EXPECT_EQ(image.pixels16, (std::vector<uint16_t>{0x1234, 0x00FF}));
  // convert('RGB') clips (Convert.c I16_RGB), it does not rescale.
  EXPECT_EQ(ConvertToRgb(image).pixels, (std::vector<uint8_t>{255, 255, 255, 255, 255, 255}));
}

TEST(DecodePng, TransparentColourKeepsMode) {  // tRNS on gray or RGB: Pillow keeps L / RGB
  const Image gray = Decode(MakePng(2, 8, 0, {Bytes({7, 9})}, Chunk("tRNS", Bytes({0, 7}))));
  EXPECT_EQ(gray.mode, PillowMode::kL);
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{7, 9}));
  const Image rgb =
      Decode(MakePng(1, 8, 2, {Bytes({1, 2, 3})}, Chunk("tRNS", Bytes({0, 1, 0, 2, 0, 3}))));
  EXPECT_EQ(rgb.mode, PillowMode::kRGB);
  EXPECT_EQ(rgb.pixels, (std::vector<uint8_t>{1, 2, 3}));
}

TEST(DecodePng, AlphaKinds) {
  const Image la = Decode(MakePng(1, 8, 4, {Bytes({40, 200})}));
  EXPECT_EQ(la.mode, PillowMode::kLA);
  EXPECT_EQ(la.pixels, (std::vector<uint8_t>{40, 200}));
  const Image la16 = Decode(MakePng(1, 16, 4, {Bytes({40, 1, 200, 2})}));  // high bytes
  EXPECT_EQ(la16.mode, PillowMode::kLA);
  EXPECT_EQ(la16.pixels, (std::vector<uint8_t>{40, 200}));
  const Image rgba16 = Decode(MakePng(1, 16, 6, {Bytes({1, 9, 2, 9, 3, 9, 4, 9})}));
  EXPECT_EQ(rgba16.mode, PillowMode::kRGBA);
  EXPECT_EQ(rgba16.pixels, (std::vector<uint8_t>{1, 2, 3, 4}));
  const Image rgb16 = Decode(MakePng(1, 16, 2, {Bytes({5, 9, 6, 9, 7, 9})}));
  EXPECT_EQ(rgb16.mode, PillowMode::kRGB);
  EXPECT_EQ(rgb16.pixels, (std::vector<uint8_t>{5, 6, 7}));
  // convert('RGB') drops alpha without compositing.
  EXPECT_EQ(ConvertToRgb(la).pixels, (std::vector<uint8_t>{40, 40, 40}));
  EXPECT_EQ(ConvertToRgb(rgba16).pixels, (std::vector<uint8_t>{1, 2, 3}));
}

// --- the other formats -------------------------------------------------------------------------

void AppendToString(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<char*>(data), static_cast<size_t>(size));
}

TEST(DecodeFormats, BmpTgaPnm) {
  const std::vector<uint8_t> rgb = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
  std::string bmp, tga;
  ASSERT_TRUE(stbi_write_bmp_to_func(AppendToString, &bmp, 2, 2, 3, rgb.data()));
  ASSERT_TRUE(stbi_write_tga_to_func(AppendToString, &tga, 2, 2, 3, rgb.data()));
  const std::string ppm = "P6\n# comment\n2 2\n255\n" + std::string(rgb.begin(), rgb.end());
  for (const std::string& file : {bmp, tga, ppm}) {
    const Image image = Decode(file);
    EXPECT_EQ(image.mode, PillowMode::kRGB);
    EXPECT_EQ(image.width, 2);
    EXPECT_EQ(image.pixels, rgb);
  }
  const Image pgm = Decode("P5 3 1 255 " + Bytes({1, 2, 3}));
  EXPECT_EQ(pgm.mode, PillowMode::kL);
  EXPECT_EQ(pgm.pixels, (std::vector<uint8_t>{1, 2, 3}));
}

// Pillow's own decode of the fixture is the reference. libjpeg-turbo builds match it exactly;
// stb_image's JPEG decoder is a few levels off.
TEST(DecodeFormats, JpegMatchesPillow) {
  const Image ours = ReadImageFile(kData + "gradient_rgb_640x480_jpeg.jpg");
  const Image pillow = ReadImageFile(kData + "gradient_rgb_640x480_jpeg.decoded_rgb.png");
  ASSERT_EQ(ours.mode, PillowMode::kRGB);
  ASSERT_EQ(ours.pixels.size(), pillow.pixels.size());
  int max = 0;
  double mean = 0.0;
  for (size_t i = 0; i < ours.pixels.size(); ++i) {
    const int d = std::abs(ours.pixels[i] - pillow.pixels[i]);
    max = std::max(max, d);
    mean += static_cast<double>(d) / ours.pixels.size();
  }
  std::printf("  %s vs Pillow: max %d, mean %.4f levels\n",
              HaveLibjpeg() ? "libjpeg-turbo" : "stb_image", max, mean);
  EXPECT_LE(mean, 0.5);
  EXPECT_LE(max, HaveLibjpeg() ? 0 : 8);
}

// --- hostile input -----------------------------------------------------------------------------

std::string ReadError(const std::string& path) {
  try {
    ReadImageFile(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DecodeHostile, EmptyMissingAndDirectory) {
  EXPECT_NE(DecodeError("").find("empty file"), std::string::npos);
  const std::string empty = testing::TempDir() + "qclip_empty_image.png";
  std::ofstream(empty).close();
  EXPECT_NE(ReadError(empty).find("empty file"), std::string::npos) << ReadError(empty);
  std::remove(empty.c_str());
  EXPECT_NE(ReadError(kData + "no-such-image.png").find("no such file"), std::string::npos);
  EXPECT_NE(ReadError(kData).find("not a regular file"), std::string::npos);
}

TEST(DecodeHostile, HandMadeImageWithTooFewSamples) {
  Image image;
  image.width = 4;
  image.height = 4;
  image.channels = 3;
  image.pixels.resize(47);
  EXPECT_THROW(ConvertToRgb(image), Error);
}

TEST(DecodeHostile, RandomBytes) {
  std::mt19937 random(42);
  for (const size_t size : {1, 2, 7, 64, 1000, 100000}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    EXPECT_THROW(Decode(bytes), Error) << size;
  }
}

TEST(DecodeHostile, TruncatedFiles) {
  for (const std::string name : {"noise_rgb_100x300_tall.png", "gradient_rgb_640x480_jpeg.jpg"}) {
    const std::string bytes = ReadBytes(kData + name);
    for (int eighth = 1; eighth < 8; ++eighth) {
      const std::string cut = bytes.substr(0, bytes.size() * eighth / 8);
      EXPECT_THROW(Decode(cut), Error) << name << " cut at " << cut.size();
    }
  }
  // A JPEG without its End Of Image marker (Pillow: "image file is truncated").
  const std::string jpeg = ReadBytes(kData + "gradient_rgb_640x480_jpeg.jpg");
  EXPECT_NE(DecodeError(jpeg.substr(0, jpeg.size() - 2)).find("truncated JPEG"), std::string::npos);
  const std::string ppm = "P6 2 2 255\n" + std::string(11, 'x');  // 12 samples needed
  EXPECT_NE(DecodeError(ppm).find("truncated PNM"), std::string::npos);
}

TEST(DecodeHostile, HugeDimensionsAreRefusedBeforeDecoding) {
  const std::string png = MakePng(100000, 8, 2, {std::string(300000, '\0')});
  std::string claim = png;  // IHDR height 1 -> 100000: the IDAT holds one row
  claim.replace(20, 4, BigEndian32(100000));
  const auto start = std::chrono::steady_clock::now();
  const std::string message = DecodeError(claim);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(message.find("100000x100000"), std::string::npos) << message;
  EXPECT_NE(message.find("max_pixels"), std::string::npos) << message;
  EXPECT_LT(ms, 50.0);
  // A JPEG whose frame header claims 60000x60000.
  std::string jpeg = ReadBytes(kData + "gradient_rgb_640x480_jpeg.jpg");
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg.replace(sof + 5, 4, Bytes({0xEA, 0x60, 0xEA, 0x60}));
  EXPECT_NE(DecodeError(jpeg).find("max_pixels"), std::string::npos);
}

// stb_image 2.27 writes past a Huffman table of more than 256 codes; such files are refused.
TEST(DecodeHostile, OversizedHuffmanTable) {
  std::string jpeg = ReadBytes(kData + "gradient_rgb_640x480_jpeg.jpg");
  const size_t dht = jpeg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  jpeg.replace(dht + 5, 16, std::string(16, '\x20'));  // 16 * 32 = 512 codes
  EXPECT_NE(DecodeError(jpeg).find("Huffman table"), std::string::npos) << DecodeError(jpeg);
}

TEST(DecodeHostile, LimitsAreConfigurable) {
  const std::string png = ReadBytes(kData + "upscale_gray_50x40.png");
  DecodeLimits limits;
  limits.max_pixels = 50 * 40 - 1;
  EXPECT_NE(DecodeError(png, limits).find("above the limit of 1999 pixels"), std::string::npos);
  limits.max_pixels = 50 * 40;
  EXPECT_EQ(DecodeError(png, limits), "");
  limits.max_file_bytes = 100;
  EXPECT_THROW(ReadImageFile(kData + "upscale_gray_50x40.png", limits), Error);
  EXPECT_NE(DecodeError(png, limits).find("max_file_bytes"), std::string::npos);
}

TEST(DecodeHostile, ZeroSize) {
  EXPECT_THROW(Decode(MakePng(0, 8, 0, {"", ""})), Error);
  EXPECT_THROW(Decode("P5 0 0 255 "), Error);
}

// A 64x64 PNG whose zlib stream inflates to 8 MB: stb_image would grow its buffer to match.
TEST(DecodeHostile, DecompressionBombIsRefused) {
  const std::string rows(8 << 20, '\0');
  const std::string ihdr = BigEndian32(64) + BigEndian32(64) + Bytes({8, 0, 0, 0, 0});
  const std::string bomb = std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IHDR", ihdr) +
                           Chunk("IDAT", Zlib(rows)) + Chunk("IEND", "");
  EXPECT_LT(bomb.size(), 200000u);
  EXPECT_NE(DecodeError(bomb).find("decompression bomb"), std::string::npos) << DecodeError(bomb);
}

// Random corruption of valid files: each must decode or throw qclip::Error, never crash.
TEST(DecodeHostile, CorruptedFilesNeverCrash) {
  std::mt19937 random(7);
  for (const std::string name :
       {"upscale_gray_50x40.png", "opaque_rgba_96x64.png", "gradient_rgb_640x480_jpeg.jpg"}) {
    const std::string bytes = ReadBytes(kData + name);
    int decoded = 0;
    for (int trial = 0; trial < 300; ++trial) {
      std::string corrupt = bytes;
      const int flips = 1 + static_cast<int>(random() % 8);
      for (int i = 0; i < flips; ++i) corrupt[random() % corrupt.size()] ^= 1 << (random() % 8);
      try {
        Decode(corrupt);
        ++decoded;
      } catch (const Error&) {
      }
    }
    std::printf("  %s: %d of 300 corrupted copies still decode\n", name.c_str(), decoded);
  }
}

}  // namespace
}  // namespace qclip

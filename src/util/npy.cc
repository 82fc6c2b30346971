#include "qclip/npy.h"

#include <cstring>
#include <fstream>
#include <memory>

#include "qclip/error.h"
#include "util/mapped_file.h"

namespace qclip {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxHeaderBytes = 1 << 16;

struct DescrMap {
  const char* descr;
  DType dtype;
};
// "|b1" etc.: byte order '<' little-endian or '|' not applicable.
constexpr DescrMap kDescrs[] = {
    {"<f4", DType::kFloat32}, {"<f2", DType::kFloat16}, {"<i8", DType::kInt64},
    {"<i4", DType::kInt32},   {"|i1", DType::kInt8},    {"|u1", DType::kUInt8},
    {"|b1", DType::kBool},
};

// Returns the text of `key`'s value in the header dict, e.g. 'descr' -> "'<f4'".
std::string DictValue(const std::string& header, const std::string& key, const std::string& name) {
  const std::string quoted = "'" + key + "'";
  const size_t k = header.find(quoted);
  if (k == std::string::npos) throw Error(name + ": .npy header has no '" + key + "'");
  size_t v = header.find(':', k + quoted.size());
  if (v == std::string::npos) throw Error(name + ": malformed .npy header");
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  size_t end = v;
  if (end < header.size() && header[end] == '(') {
    end = header.find(')', end);
    if (end == std::string::npos) throw Error(name + ": malformed .npy shape");
    ++end;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  }
  return header.substr(v, end - v);
}

Shape ParseShape(const std::string& text, const std::string& name) {
  // "(2, 3)", "(5,)", "()"
  Shape shape;
  size_t i = 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() || text[i] == ')') break;
    int64_t d = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (d > (INT64_MAX - 9) / 10) throw Error(name + ": .npy dimension overflows");
      d = d * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) throw Error(name + ": malformed .npy shape " + text);
    shape.push_back(d);
    if (shape.size() > 16) throw Error(name + ": .npy rank above 16");
  }
  return shape;
}

}  // namespace

Tensor ParseNpy(const void* data, size_t size, const std::string& name) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (size < 10 || std::memcmp(bytes, kMagic, 6) != 0) throw Error(name + ": not a .npy file");
  const int major = bytes[6];
  size_t header_len = 0;
  size_t offset = 0;
  if (major == 1) {
    header_len = bytes[8] | (size_t{bytes[9]} << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(name + ": truncated .npy header");
    header_len =
        bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) | (size_t{bytes[11]} << 24);
    offset = 12;
  } else {
    throw Error(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderBytes || offset + header_len > size) {
    throw Error(name + ": truncated or oversized .npy header");
  }
  const std::string header(reinterpret_cast<const char*>(bytes + offset), header_len);
  const std::string descr = DictValue(header, "descr", name);
  const std::string order = DictValue(header, "fortran_order", name);
  if (order != "False") throw Error(name + ": Fortran-order .npy arrays are not supported");
  DType dtype = DType::kUndefined;
  for (const DescrMap& m : kDescrs) {
    if (descr == std::string("'") + m.descr + "'") dtype = m.dtype;
  }
  // NumPy writes '|i1'/'|u1'/'|b1', but '<i1' is also valid.
  if (descr == "'<i1'") dtype = DType::kInt8;
  if (descr == "'<u1'") dtype = DType::kUInt8;
  if (dtype == DType::kUndefined) throw Error(name + ": unsupported .npy dtype " + descr);
  const Shape shape = ParseShape(DictValue(header, "shape", name), name);
  int64_t n = 0;
  try {
    n = NumElements(shape);
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
  const size_t payload = size - offset - header_len;
  if (static_cast<uint64_t>(n) > payload / DTypeSize(dtype) ||
      static_cast<size_t>(n) * DTypeSize(dtype) != payload) {
    throw Error(name + ": .npy data size does not match shape " + ShapeToString(shape));
  }
  Tensor t(dtype, shape);
  if (t.bytes() != 0) std::memcpy(t.raw(), bytes + offset + header_len, t.bytes());
  return t;
}

Tensor ReadNpy(const std::string& path) {
  // Mapped, not streamed: only regular files, whose size is known before anything is read (a
  // stream from /dev/zero or a FIFO would grow a buffer without end).
  const std::shared_ptr<MappedFile> file = MappedFile::Open(path);
  return ParseNpy(file->data(), file->size(), path);
}

void WriteNpy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  for (const DescrMap& m : kDescrs) {
    if (m.dtype == t.dtype()) descr = m.descr;
  }
  if (descr == nullptr) throw Error(path + ": cannot write dtype " + DTypeName(t.dtype()));
  std::string shape = "(";
  for (int i = 0; i < t.rank(); ++i)
    shape += std::to_string(t.dim(i)) + (t.rank() == 1 ? "," : i + 1 < t.rank() ? ", " : "");
  shape += ")";
  std::string header =
      "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so the data starts at a multiple of 64 bytes; the header ends with '\n'.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open for writing");
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write(kMagic, 6);
  const char version[2] = {1, 0};
  f.write(version, 2);
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(len_bytes, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.bytes()));
  if (!f) throw Error(path + ": write failed");
}

}  // namespace qclip

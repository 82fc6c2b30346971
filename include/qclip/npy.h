// Reading and writing NumPy .npy files (format versions 1-3, little-endian, C order).
#pragma once

#include <string>

#include "qclip/tensor.h"

namespace qclip {

// Reads float32/float16/int64/int32/int8/uint8/bool arrays. Throws qclip::Error naming the file
// on anything else: Fortran order, big-endian data, object arrays, a header or data size that
// does not match the file.
Tensor ReadNpy(const std::string& path);
Tensor ParseNpy(const void* data, size_t size, const std::string& name);

// Writes `t` as a version 1.0 .npy file. Throws qclip::Error if the file cannot be written.
void WriteNpy(const std::string& path, const Tensor& t);

}  // namespace qclip

// Writing embeddings as the example tools do: a .npy file, or one JSON array per input.
#pragma once

#include <string>

#include "qclip/encoder.h"

namespace qclip::cli {

// With `out_path` non-empty, writes a float32 [rows, dim] .npy; otherwise prints one JSON array
// per row on stdout (shortest round-trip floats).
void WriteEmbeddings(const Embeddings& e, const std::string& out_path);

}  // namespace qclip::cli

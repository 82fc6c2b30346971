#include "common/output.h"

#include <cstdio>
#include <cstring>

#include "qclip/npy.h"

namespace qclip::cli {

void WriteEmbeddings(const Embeddings& e, const std::string& out_path) {
  if (!out_path.empty()) {
    Tensor t(DType::kFloat32, {e.rows, e.dim});
    if (!e.data.empty()) std::memcpy(t.raw(), e.data.data(), e.data.size() * sizeof(float));
    WriteNpy(out_path, t);
    return;
  }
  std::string line;
  for (int64_t r = 0; r < e.rows; ++r) {
    line = "[";
    char buf[32];
    for (int64_t d = 0; d < e.dim; ++d) {
      std::snprintf(buf, sizeof(buf), d ? ",%.9g" : "%.9g", e.row(r)[d]);
      line += buf;
    }
    line += "]\n";
    std::fputs(line.c_str(), stdout);
  }
}

}  // namespace qclip::cli

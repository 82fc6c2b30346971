// npy_compare: compares two float32 .npy files row by row (rows = all leading dims) for the shell
// tests. Prints the worst cosine and max abs difference; exits 0 when within the given bounds,
// 1 otherwise, 2 on usage or file errors.
//
//   npy_compare GOT.npy WANT.npy [--rows i,j,...] [--min-cos C] [--max-abs A]
//
// --rows picks rows of WANT (in that order) to compare with GOT's rows 0, 1, ...
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "qclip/error.h"
#include "qclip/npy.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: npy_compare GOT.npy WANT.npy [--rows i,j] [--min-cos C] [--max-abs A]\n");
    return 2;
  }
  double min_cos_bound = -2, max_abs_bound = INFINITY;
  std::vector<int64_t> rows;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--min-cos") {
      min_cos_bound = std::atof(argv[i + 1]);
    } else if (flag == "--max-abs") {
      max_abs_bound = std::atof(argv[i + 1]);
    } else if (flag == "--rows") {
      std::stringstream list(argv[i + 1]);
      for (std::string item; std::getline(list, item, ',');) rows.push_back(std::stoll(item));
    } else {
      std::fprintf(stderr, "npy_compare: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    const qclip::Tensor got = qclip::ReadNpy(argv[1]);
    const qclip::Tensor want = qclip::ReadNpy(argv[2]);
    if (got.dtype() != qclip::DType::kFloat32 || want.dtype() != qclip::DType::kFloat32 ||
        got.rank() == 0 || want.rank() == 0) {
      std::fprintf(stderr, "npy_compare: both files must be float32 arrays\n");
      return 2;
    }
    const int64_t cols = want.dim(want.rank() - 1);
    const int64_t want_rows = want.size() / cols;
    if (rows.empty()) {
      for (int64_t r = 0; r < want_rows; ++r) rows.push_back(r);
    }
    if (got.dim(got.rank() - 1) != cols || got.size() / cols != static_cast<int64_t>(rows.size())) {
      std::fprintf(stderr, "npy_compare: GOT has shape %s, expected %zu rows of %lld\n",
                   qclip::ShapeToString(got.shape()).c_str(), rows.size(),
                   static_cast<long long>(cols));
      return 1;
    }
    double min_cos = 1, max_abs = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] < 0 || rows[i] >= want_rows) {
        std::fprintf(stderr, "npy_compare: WANT has no row %lld\n", static_cast<long long>(rows[i]));
        return 2;
      }
      const float* g = got.data<float>() + static_cast<int64_t>(i) * cols;
      const float* w = want.data<float>() + rows[i] * cols;
      double dot = 0, gg = 0, ww = 0;
      for (int64_t c = 0; c < cols; ++c) {
        dot += double(g[c]) * w[c];
        gg += double(g[c]) * g[c];
        ww += double(w[c]) * w[c];
        const double d = std::fabs(double(g[c]) - w[c]);
        max_abs = std::isnan(d) ? INFINITY : std::max(max_abs, d);
      }
      const double cos = (gg == 0 && ww == 0) ? 1.0 : dot / std::sqrt(gg * ww);
      min_cos = std::isnan(cos) ? -2 : std::min(min_cos, cos);
    }
    std::printf("rows=%zu min_cos=%.9f max_abs=%.3g\n", rows.size(), min_cos, max_abs);
    return min_cos >= min_cos_bound && max_abs <= max_abs_bound ? 0 : 1;
  } catch (const qclip::Error& e) {
    std::fprintf(stderr, "npy_compare: %s\n", e.what());
    return 2;
  }
}

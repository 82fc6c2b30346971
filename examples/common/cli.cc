#include "common/cli.h"

#include <algorithm>
#include <cstdio>

namespace qclip::cli {

std::string FormatTimings(std::vector<double> ms) {
  if (ms.empty()) return "median_ms=nan min_ms=nan";
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  const double median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "median_ms=%.3f min_ms=%.3f", median, ms.front());
  return buf;
}

}  // namespace qclip::cli

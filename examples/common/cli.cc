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

std::string FormatBytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 1000) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1000 * 1000) {
    std::snprintf(buf, sizeof(buf), "%.1f kB", bytes / 1e3);
  } else if (bytes < 1000ull * 1000 * 1000) {
    std::snprintf(buf, sizeof(buf), "%.2f MB", bytes / 1e6);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GB", bytes / 1e9);
  }
  return buf;
}

}  // namespace qclip::cli

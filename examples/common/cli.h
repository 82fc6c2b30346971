// Shared plumbing for the example binaries: uniform error reporting and timing.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "qclip/error.h"

namespace qclip::cli {

// Runs `body`, turning any exception into "PROGRAM: error: MESSAGE" on stderr and exit code 1.
template <typename Fn>
int Main(const char* program, Fn&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

inline double NowMs() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

// Median and minimum of timings in milliseconds; "median_ms=… min_ms=…".
std::string FormatTimings(std::vector<double> ms);

// Runs `fn` n times and returns the wall time of each run in milliseconds (for --bench), after
// running it untimed for at least `warmup_ms` (--warmup-ms): a process that serves many requests
// is measured in its steady state, caches and thread shares settled.
template <typename Fn>
std::vector<double> TimeRuns(int n, double warmup_ms, Fn&& fn) {
  for (const double start = NowMs(); NowMs() - start < warmup_ms;) fn();
  std::vector<double> ms;
  for (int r = 0; r < n; ++r) {
    const double start = NowMs();
    fn();
    ms.push_back(NowMs() - start);
  }
  return ms;
}

// A byte count for people: "1.27 MB" (decimal units, as file managers show them).
std::string FormatBytes(uint64_t bytes);

}  // namespace qclip::cli

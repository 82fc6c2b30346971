// Shared plumbing for the example binaries: uniform error reporting and timing.
#pragma once

#include <CLI/CLI.hpp>
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

// --bench N [--warmup-ms T]: N timed runs after the first, and after untimed ones for at least
// T ms, so that a process that serves many requests is measured in its steady state (caches and
// thread shares settled).
struct BenchOptions {
  int runs = 0;
  double warmup_ms = 0;
};

// Adds --bench (`what`: what one run does, for the help text) and --warmup-ms to `app`.
inline void AddBenchOptions(CLI::App& app, BenchOptions& bench, const std::string& what) {
  app.add_option("--bench", bench.runs, what + " N more times and print timings")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--warmup-ms", bench.warmup_ms, "with --bench: run untimed for this long first")
      ->check(CLI::Range(0.0, 3.6e6));
}

// Runs `fn` as `bench` says and returns the wall time of each timed run in milliseconds.
template <typename Fn>
std::vector<double> TimeRuns(const BenchOptions& bench, Fn&& fn) {
  for (const double start = NowMs(); NowMs() - start < bench.warmup_ms;) fn();
  std::vector<double> ms;
  for (int r = 0; r < bench.runs; ++r) {
    const double start = NowMs();
    fn();
    ms.push_back(NowMs() - start);
  }
  return ms;
}

// A byte count for people: "1.27 MB" (decimal units, as file managers show them).
std::string FormatBytes(uint64_t bytes);

}  // namespace qclip::cli

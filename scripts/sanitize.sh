#!/usr/bin/env bash
# Builds the library, tools and tests with AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer, part of ASan) in their own folder and runs every test there. Any finding fails.
# Usage: scripts/sanitize.sh [BUILD_DIR]   (default: build-asan)
# Env: QCLIP_SANITIZE (default address,undefined); CC/CXX pick the compiler (default: the system
# one, gcc on Debian, as the normal build; clang works too once kernels/gemm_s8 builds with it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-asan}
sanitize=${QCLIP_SANITIZE:-address,undefined}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# -O1: fast enough to run the model tests, keeps stacks exact. -g1: line tables for reports.
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DQCLIP_SANITIZE="$sanitize" -DQCLIP_BUILD_BENCH=OFF
cmake --build "$build" --parallel "$(nproc)"

# Every finding is fatal and printed with its stack; leaks are checked at each process's exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure --timeout 1800 -j "$(nproc)" -LE slow  # slow: the Release stage runs those

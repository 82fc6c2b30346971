#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) in their own folder, replays the
# regression inputs, then fuzzes each target for SECONDS (default 60). Fails on any crash, leak,
# sanitizer report, timeout or out-of-memory; the input that caused it is saved as
# BUILD/artifacts/TARGET-crash-... (add it to tests/data/hostile/ with a regression test).
#
#   scripts/fuzz.sh [SECONDS]   fuzz every target for SECONDS each
#   scripts/fuzz.sh --seeds     rewrite the seed models of fuzz/corpus/load_model
#
# Env: QCLIP_FUZZ_BUILD (default build-fuzz), QCLIP_FUZZ_TARGETS (default: all four).
# The growing corpus is kept in BUILD/corpus/TARGET, so repeated runs pick up where they left.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QCLIP_FUZZ_BUILD:-$root/build-fuzz}
targets=(${QCLIP_FUZZ_TARGETS:-load_model_fuzzer npy_fuzzer image_fuzzer tokenizer_fuzzer})
seconds=${1:-60}

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DQCLIP_FUZZ=ON -DQCLIP_BUILD_TESTS=OFF -DQCLIP_BUILD_EXAMPLES=OFF -DQCLIP_BUILD_BENCH=OFF \
  >/dev/null

if [[ $seconds == --seeds ]]; then
  cmake --build "$build" --parallel "$(nproc)" --target make_model_seeds
  rm -f "$root"/fuzz/corpus/load_model/*.onnx
  mkdir -p "$root/fuzz/corpus/load_model"
  "$build/fuzz/make_model_seeds" "$root/fuzz/corpus/load_model"
  ls -l "$root/fuzz/corpus/load_model"
  exit 0
fi
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS | --seeds]" >&2; exit 2; }
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"

# Per target: the largest input worth trying (each seed fits), and which regression folder
# of tests/data/hostile it replays.
declare -A max_len=([load_model_fuzzer]=16384 [npy_fuzzer]=4096 [image_fuzzer]=65536
                    [tokenizer_fuzzer]=8192)
declare -A hostile=([load_model_fuzzer]=onnx [npy_fuzzer]=npy [image_fuzzer]=image
                    [tokenizer_fuzzer]=text)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  bin=$build/fuzz/$t
  corpus=$build/corpus/$t
  mkdir -p "$corpus"
  log=$build/artifacts/$t.log
  # Limits: 2 GiB of memory (a bigger allocation is a finding too), 30 s for one input.
  flags=(-max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=30
         -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1)
  # Every input that ever crashed a target must still pass: run them once, no mutation.
  regressions=("$root/tests/data/hostile/${hostile[$t]}"/*)
  if [[ -e ${regressions[0]} ]]; then
    if ! "$bin" "${flags[@]}" "${regressions[@]}" >"$log" 2>&1; then
      echo "fuzz.sh: $t: FAILED on a regression input of tests/data/hostile (log: $log)"
      tail -40 "$log"
      status=1
      continue
    fi
  fi
  start=$(date +%s)
  if "$bin" "${flags[@]}" -max_total_time="$seconds" "$corpus" "$root/fuzz/corpus/${t%_fuzzer}" \
      >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  # libFuzzer's last status line holds the coverage (cov: edges, ft: features) and corpus size.
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "fuzz.sh: $t: $result in $(($(date +%s) - start)) s: ${runs:-?} runs; ${last:-no status}"
  if [[ $result != ok ]]; then
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || true
    echo "fuzz.sh: $t: full log: $log"
  fi
done
exit $status

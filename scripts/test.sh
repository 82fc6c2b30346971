#!/usr/bin/env bash
# Installs dependencies, then runs every check CI runs, in stages:
#   1. build (Release) and run every test;
#   2. the sanitizer build (ASan + UBSan + LSan, build-asan) and every test again there;
#   3. the bounded fuzz run: each libFuzzer target for QCLIP_FUZZ_SECONDS (build-fuzz).
# Stops at the first stage that fails, naming it. Usage: scripts/test.sh [BUILD_DIR]
# Env: QCLIP_SKIP_SANITIZE=1 skips stage 2; QCLIP_FUZZ_SECONDS=N fuzzes N s per target
# (default 60; 0 skips stage 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
fuzz_seconds=${QCLIP_FUZZ_SECONDS:-60}

stage_name=""
stage_start=0
summary=()
stage() {
  end_stage
  stage_name=$1
  stage_start=$(date +%s)
  echo
  echo "=== test.sh: $stage_name ==="
}
end_stage() {
  if [[ -n $stage_name ]]; then
    summary+=("$stage_name: ok in $(($(date +%s) - stage_start)) s")
  fi
  stage_name=""
}
on_exit() {
  if [[ -n $stage_name ]]; then
    echo "=== test.sh: FAILED in stage: $stage_name (after $(($(date +%s) - stage_start)) s) ===" >&2
  fi
}
trap on_exit EXIT

stage "install dependencies"
"$root/scripts/install-deps.sh"

stage "build ($build, Release)"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --parallel "$(nproc)"

stage "tests"
# ONNX Runtime (onnxruntime-node, a dev tool) lets the quantizer tests check that ORT loads the
# files qclip writes; without npm or network those checks say they are skipped.
if command -v npm >/dev/null && [[ ! -d $root/tools/ort/node_modules/onnxruntime-node ]]; then
  (cd "$root/tools/ort" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) ||
    echo "test.sh: skipped: onnxruntime-node could not be installed (ORT checks skip)"
fi
if [[ -d "$root/../shared/fixtures" ]]; then
  echo "test.sh: golden fixtures found at ../shared/fixtures: running the full suite"
else
  echo "test.sh: skipped: no ../shared/fixtures (only the compact copy in tests/data runs)"
fi
(cd "$build" && ctest --output-on-failure --timeout 900 -j "$(nproc)")

if [[ ${QCLIP_SKIP_SANITIZE:-0} == 1 ]]; then
  echo "test.sh: skipped: sanitizer build (QCLIP_SKIP_SANITIZE=1)"
else
  stage "sanitizer build and tests (ASan + UBSan + LSan, build-asan)"
  "$root/scripts/sanitize.sh" "$root/build-asan"
fi

if [[ $fuzz_seconds == 0 ]]; then
  echo "test.sh: skipped: fuzzing (QCLIP_FUZZ_SECONDS=0)"
else
  stage "fuzzing, $fuzz_seconds s per target (build-fuzz)"
  "$root/scripts/fuzz.sh" "$fuzz_seconds"
fi
end_stage

echo
echo "=== test.sh: all stages passed ==="
printf '  %s\n' "${summary[@]}"

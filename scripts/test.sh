#!/usr/bin/env bash
# Installs dependencies, configures, builds and runs every test. Usage: scripts/test.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
"$root/scripts/install-deps.sh"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" --parallel "$(nproc)"
if [[ -d "$root/../shared/fixtures" ]]; then
  echo "test.sh: golden fixtures found at ../shared/fixtures: running the full suite"
else
  echo "test.sh: skipped: no ../shared/fixtures (only the compact copy in tests/data runs)"
fi
cd "$build"
ctest --output-on-failure --timeout 900 -j "$(nproc)"

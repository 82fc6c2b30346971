#!/usr/bin/env bash
# Installs the Debian packages qclip's build, tests and benchmarks need. Idempotent: does nothing
# when everything is already there.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config
  libhwy-dev libprotobuf-dev protobuf-compiler libonnx-dev
  libstb-dev libeigen3-dev libopenblas-dev libutf8proc-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg62-turbo-dev
  clang libclang-rt-dev llvm  # scripts/fuzz.sh: libFuzzer and llvm-symbolizer for its reports
  python3-torch python3-onnx python3-numpy  # models/export_biomedclip.py, its test, demo.sh
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

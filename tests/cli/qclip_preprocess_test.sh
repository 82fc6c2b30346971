#!/usr/bin/env bash
# qclip-preprocess end to end: writes the tensor Pillow + torchvision compute for PNG fixtures
# (within one pixel level: |difference| <= 1 / (255 * std), 0.01422 for the widest std), and refuses bad input.
# Usage: qclip_preprocess_test.sh QCLIP_PREPROCESS NPY_COMPARE TESTS_DATA_DIR
set -u
bin=$1
compare=$2
data=$3/preprocess
source "$(dirname "$0")/lib.sh"

for f in "$data"/*.clip.npy; do
  name=$(basename "$f" .clip.npy)
  [[ -f "$data/$name.png" ]] || continue
  if "$bin" "$data/$name.png" --mode clip --out "$tmp/x.npy"; then
    check "$name clip" "$compare" "$tmp/x.npy" "$f" --max-abs 0.01423
  else
    fail "$name: qclip-preprocess failed"
  fi
done
name=noise_rgb_100x300_tall
if "$bin" "$data/$name.png" --mode squash-bilinear --out "$tmp/x.npy"; then
  check "$name squash-bilinear" "$compare" "$tmp/x.npy" "$data/$name.squash_bilinear.npy" --max-abs 0.01423
else
  fail "$name squash-bilinear failed"
fi

printf 'garbage' >"$tmp/bad.png"
expect_error "missing image" "none.png" "$tmp/none.png" --out "$tmp/o.npy"
expect_error "corrupt image" "bad.png" "$tmp/bad.png" --out "$tmp/o.npy"
expect_error "bad mode" "mode" "$data/exact_224.png" --mode nearest --out "$tmp/o.npy"
expect_error "too many pixels" "pixels" "$data/exact_224.png" --max-pixels 100 --out "$tmp/o.npy"
finish

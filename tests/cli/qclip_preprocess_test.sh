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

# Hostile images (tests/data/hostile/image): sizes are checked from the header before decoding,
# and decompression bombs are stopped by the allocation cap.
hostile=$3/hostile/image
expect_error "PNG header of 100000 x 100000" "refused before decoding" "$hostile/png_100000x100000_header.png" --out "$tmp/o.npy"
expect_error "JPEG header of 65000 x 65000" "refused before decoding" "$hostile/jpeg_65000x65000_header.jpg" --out "$tmp/o.npy"
expect_error "BMP header of 50000 x 50000" "refused before decoding" "$hostile/bmp_50000x50000_header.bmp" --out "$tmp/o.npy"
expect_error "1x1 PNG inflating to 16 MiB" "decompression bomb" "$hostile/png_zlib_bomb_1x1.png" --out "$tmp/o.npy"
head -c 5000 "$data/gradient_rgb_640x480_jpeg.jpg" >"$tmp/cut.jpg"
expect_error "truncated JPEG" "cut.jpg" "$tmp/cut.jpg" --out "$tmp/o.npy"
head -c 100000 /dev/urandom >"$tmp/random.png"
expect_error "random bytes" "random.png" "$tmp/random.png" --out "$tmp/o.npy"
mkfifo "$tmp/fifo"
expect_error "FIFO (no hang)" "not a regular file" "$tmp/fifo" --out "$tmp/o.npy"
expect_error "directory" "not a regular file" "$tmp" --out "$tmp/o.npy"
expect_error "/dev/zero" "not a regular file" /dev/zero --out "$tmp/o.npy"
finish

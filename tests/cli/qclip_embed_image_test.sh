#!/usr/bin/env bash
# qclip-embed-image end to end: fixture images decoded and preprocessed by qclip, embedded by the
# vision fixture, match ONNX Runtime's embeddings of Pillow's tensors (PNG: cosine >= 0.9999;
# JPEG: >= 0.999 against the embedding of Pillow's tensor of the same file), --pixels, output
# formats, --bench, and refusals of bad input.
# Usage: qclip_embed_image_test.sh QCLIP_EMBED_IMAGE NPY_COMPARE TESTS_DATA_DIR [SHARED]
set -u
bin=$1
compare=$2
data=$3
shared=${4:-}
source "$(dirname "$0")/lib.sh"

# images_b4 holds these four images' clip tensors, in this order.
images=(xray_gray_1024x1024.png gradient_rgb_640x480.png noise_rgb_100x300_tall.png exact_224.png)
check_images() {  # MODEL_DIR PREPROCESS_DIR LABEL
  local model=$1 pre=$2 label=$3 files=() rows=()
  for i in "${!images[@]}"; do
    if [[ -f "$pre/${images[$i]}" ]]; then
      files+=("$pre/${images[$i]}")
      rows+=("$i")
    fi
  done
  local row_list
  row_list=$(IFS=,; echo "${rows[*]}")
  for variant in fp32 int8_qint8; do
    local flags=() bound=0.9999
    [[ $variant == fp32 ]] || flags=(--exact)
    if "$bin" --model "$model/$variant.onnx" "${flags[@]}" --out "$tmp/img.npy" "${files[@]}"; then
      check "$label $variant ${#files[@]} PNG images vs ort_$variant" "$compare" "$tmp/img.npy" \
        "$model/images_b4.out.embeddings.ort_$variant.npy" --rows "$row_list" --min-cos $bound
    else
      fail "$label $variant: qclip-embed-image failed"
    fi
  done
  # JPEG: our decode + preprocess vs Pillow's tensor of the same file, both through the model.
  local jpeg=gradient_rgb_640x480_jpeg
  if "$bin" --model "$model/fp32.onnx" --out "$tmp/jpeg.npy" "$pre/$jpeg.jpg" &&
      "$bin" --model "$model/fp32.onnx" --pixels --out "$tmp/jpeg_ref.npy" "$pre/$jpeg.clip.npy"; then
    check "$label JPEG vs Pillow's tensor" "$compare" "$tmp/jpeg.npy" "$tmp/jpeg_ref.npy" --min-cos 0.999
  else
    fail "$label JPEG: embedding failed"
  fi
}

check_images "$data/models/biomedclip_vision_tiny_legacy_op17" "$data/preprocess" "compact"
if [[ -n "$shared" && -d "$shared" ]]; then
  check_images "$shared/models/biomedclip_vision_tiny_legacy_op17" "$shared/preprocess" "shared"
fi

model=$data/models/biomedclip_vision_tiny_legacy_op17
png=$data/preprocess/exact_224.png
lines=$("$bin" --model "$model/fp32.onnx" "$png" "$png" | grep -c '^\[.*\]$')
[[ $lines -eq 2 ]] && pass "prints one JSON array per image" || fail "JSON lines: $lines of 2"
out=$("$bin" --model "$model/fp32.onnx" --bench 2 --threads 1 "$png" | tail -1)
[[ $out =~ ^median_ms=[0-9.]+ ]] && pass "--bench prints median_ms" || fail "--bench: $out"

printf 'garbage' >"$tmp/bad.png"
head -c 200 "$png" >"$tmp/truncated.png"
: >"$tmp/empty.jpg"
expect_error "missing model" "cannot open" --model "$tmp/none.onnx" "$png"
expect_error "missing image" "$tmp/none.png" --model "$model/fp32.onnx" "$tmp/none.png"
expect_error "corrupt image" "bad.png" --model "$model/fp32.onnx" "$tmp/bad.png"
expect_error "truncated image" "truncated.png" --model "$model/fp32.onnx" "$tmp/truncated.png"
expect_error "empty image" "empty.jpg" --model "$model/fp32.onnx" "$tmp/empty.jpg"
expect_error "too many pixels" "pixels" --model "$model/fp32.onnx" --max-pixels 1000 "$png"
expect_error "no images" "images" --model "$model/fp32.onnx"
expect_error "--pixels with an image" "not a .npy file" --model "$model/fp32.onnx" --pixels "$png"
expect_error "--pixels wrong shape" "expected float32 [3, 224, 224]" --model "$model/fp32.onnx" --pixels "$data/models/biomedclip_text_tiny_pubmedvocab_legacy_op18/unpadded_b1.out.embeddings.ort_fp32.npy"
expect_error "text model" "must be float32 [batch, 3, 224, 224]" --model "$data/models/biomedclip_text_tiny_pubmedvocab_legacy_op18/fp32.onnx" "$png"

# Hostile images, models and tensors.
hostile=$data/hostile
expect_error "PNG header of 100000 x 100000" "refused before decoding" --model "$model/fp32.onnx" "$hostile/image/png_100000x100000_header.png"
expect_error "1x1 PNG inflating to 16 MiB" "decompression bomb" --model "$model/fp32.onnx" "$png" "$hostile/image/png_zlib_bomb_1x1.png"
expect_error "hostile model (cycle)" "cycle" --model "$hostile/onnx/cycle.onnx" "$png"
expect_error "hostile model (overflowing dims)" "overflows int64" --model "$hostile/onnx/overflowing_dims.onnx" "$png"
expect_error "--pixels: truncated .npy" "data size does not match" --model "$model/fp32.onnx" --pixels "$hostile/npy/truncated_data.npy"
mkfifo "$tmp/fifo"
expect_error "FIFO as an image (no hang)" "not a regular file" --model "$model/fp32.onnx" "$tmp/fifo"
expect_error "FIFO as a tensor (no hang)" "not a regular file" --model "$model/fp32.onnx" --pixels "$tmp/fifo"
finish

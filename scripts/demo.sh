#!/usr/bin/env bash
# README's first command: installs dependencies, builds qclip, exports full-size BiomedCLIP towers
# (random weights unless you bring the real ones, see below) once, quantizes them to INT8 with
# qclip-quantize, embeds medical phrases and sample images, and prints the text x image
# similarity table and timings.
#
#   scripts/demo.sh                          # random-weight towers, cached in $QCLIP_MODELS
#   QCLIP_MODELS=~/biomedclip-onnx scripts/demo.sh   # a folder with your own exports
#
# QCLIP_MODELS (default ~/.cache/qclip/biomedclip-random-seed0) holds
# biomedclip_{text,vision}_fp32.onnx; missing ones are exported with random weights, and their
# INT8 versions are made next to them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QCLIP_BUILD:-$root/build}
models=${QCLIP_MODELS:-$HOME/.cache/qclip/biomedclip-random-seed0}
threads=${QCLIP_THREADS:-$(nproc)}
py=/usr/bin/python3
say() { printf '\n== %s\n' "$*"; }

say "dependencies"
"$root/scripts/install-deps.sh"

say "build"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target qclip-quantize qclip-embed-text \
  qclip-embed-image >/dev/null
bin=$build/examples

say "models in $models"
mkdir -p "$models"
random=0
if [[ ! -f $models/biomedclip_text_fp32.onnx || ! -f $models/biomedclip_vision_fp32.onnx ]]; then
  echo "exporting full-size towers with random weights (once; about a minute)"
  "$py" "$root/models/export_biomedclip.py" --random-init --seed 0 --out-dir "$models"
  touch "$models/RANDOM_WEIGHTS"
fi
[[ -f $models/RANDOM_WEIGHTS ]] && random=1
for tower in text vision; do
  if [[ ! -f $models/biomedclip_${tower}_int8.onnx ]]; then
    "$bin/qclip-quantize" "$models/biomedclip_${tower}_fp32.onnx" \
      "$models/biomedclip_${tower}_int8.onnx"
  fi
done
ls -l "$models"/*.onnx | awk '{printf "  %-40s %7.1f MB\n", $NF, $5 / 1e6}' | sed "s#$models/##"

vocab=$root/tests/data/tokenizer/pubmedbert-vocab.txt  # BiomedCLIP's PubMedBERT vocabulary
phrases=("chest x-ray showing pneumonia" "normal chest radiograph" "left pleural effusion"
         "brain MRI with glioblastoma" "a colour gradient")
images=("$root/tests/data/preprocess/xray_gray_1024x1024.png"
        "$root/tests/data/preprocess/gradient_rgb_640x480.png"
        "$root/tests/data/preprocess/noise_rgb_100x300_tall.png")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for precision in int8 fp32; do
  say "embedding with the $precision towers ($threads threads)"
  t=$("$bin/qclip-embed-text" --model "$models/biomedclip_text_$precision.onnx" --vocab "$vocab" \
    --threads "$threads" --bench 5 --out "$work/text_$precision.npy" "${phrases[@]}")
  echo "  ${#phrases[@]} phrases: $t"
  t=$("$bin/qclip-embed-image" --model "$models/biomedclip_vision_$precision.onnx" \
    --threads "$threads" --bench 3 --out "$work/image_$precision.npy" "${images[@]}")
  echo "  ${#images[@]} images: $t"
done

say "text x image cosine similarity (INT8 towers; FP32 agreement below)"
"$py" - "$work" "${phrases[@]}" -- "${images[@]}" <<'PY'
import os, sys
import numpy as np
work, rest = sys.argv[1], sys.argv[2:]
split = rest.index("--")
phrases, images = rest[:split], [os.path.basename(p) for p in rest[split + 1:]]
t8, i8 = np.load(f"{work}/text_int8.npy"), np.load(f"{work}/image_int8.npy")
t32, i32 = np.load(f"{work}/text_fp32.npy"), np.load(f"{work}/image_fp32.npy")
sim = t8 @ i8.T
print(" " * 34 + "".join(f"{n[:22]:>24}" for n in images))
for p, row in zip(phrases, sim):
    print(f"{p[:32]:<34}" + "".join(f"{v:>24.4f}" for v in row))
cos = lambda a, b: np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(f"\nINT8 vs FP32 embeddings: text cosine min {cos(t8, t32).min():.5f}, "
      f"image cosine min {cos(i8, i32).min():.5f}")
PY

if [[ $random -eq 1 ]]; then
  cat <<'MSG'

NOTE: these towers have RANDOM weights (no model weights can be downloaded here), so the
similarities above are meaningless; only the pipeline and the timings are real. For real
BiomedCLIP embeddings, export the released weights and point the demo at them:

  curl -L -o open_clip_pytorch_model.bin https://huggingface.co/microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224/resolve/main/open_clip_pytorch_model.bin
  /usr/bin/python3 models/export_biomedclip.py --checkpoint open_clip_pytorch_model.bin --out-dir ~/biomedclip-onnx
  QCLIP_MODELS=~/biomedclip-onnx scripts/demo.sh

(see models/README.md)
MSG
fi

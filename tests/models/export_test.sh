#!/usr/bin/env bash
# models/export_biomedclip.py end to end. Usage: export_test.sh QCLIP_RUN [SHARED_FIXTURES_DIR]
# (SHARED_FIXTURES_DIR defaults to ../shared/fixtures beside the repository.)
#
#  1. Architecture: our plain-torch towers, loaded with the weights of the golden fixture models
#     (exported from the real transformers BertModel / timm VisionTransformer), reproduce the
#     fixtures' torch outputs (../shared/fixtures when present, else the copy in tests/data).
#  2. Names and shapes: the full-size model's state dict == open_clip's reference list (when
#     ../shared/fixtures/models-reference is present).
#  3. Export --size tiny --random-init --seed 1; the ONNX initializers are the model's weights;
#     qclip-run on the ONNX files == torch eager (cos >= 0.99999 per row, max abs <= 1e-4) for
#     unpadded and padded text (incl. padded to 256), batch 1 and > 1, and images.
#  4. --checkpoint: an open_clip-style state dict exports the same weights; a checkpoint with a
#     missing, mis-shaped or unexpected tensor, or no file, is refused with exit 1 and a message.
#
# Exit 0: pass; 1: fail; 77: skipped (the Python interpreter lacks torch, onnx or numpy).
set -u
run=${1:?usage: export_test.sh QCLIP_RUN}
python=${QCLIP_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export_py=$root/models/export_biomedclip.py
check_py=$root/models/check_export.py

if ! "$python" -c 'import torch, onnx, numpy' >/dev/null 2>&1; then
  echo "skipped: $python lacks torch, onnx or numpy (Debian: apt-get install python3-torch python3-onnx python3-numpy)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
pass() { echo "ok: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
py() { "$python" -B "$@"; }

# 1. Architecture against the fixtures.
shared=${2:-$root/../shared/fixtures}
if [[ -d $shared/models ]]; then
  fixtures=("$shared"/models/biomedclip_*_legacy_op*)
else
  fixtures=("$root"/tests/data/models/biomedclip_*_legacy_op*)
fi
if [[ ${#fixtures[@]} -gt 0 && -d ${fixtures[0]} ]]; then
  if py "$check_py" fixtures "${fixtures[@]}"; then
    pass "plain-torch towers reproduce ${#fixtures[@]} fixture models (transformers/timm)"
  else
    fail "plain-torch towers vs fixture models"
  fi
else
  fail "no biomedclip fixture models found"
fi

# 2. Full-size names and shapes.
reference=$shared/models-reference/biomedclip_state_dict_shapes.json
if [[ -f $reference ]]; then
  if py "$check_py" shapes "$reference"; then
    pass "full-size state dict matches open_clip's names and shapes"
  else
    fail "full-size state dict vs $reference"
  fi
else
  echo "note: $reference not present, full-size name check not run"
fi

# 3. Tiny export, qclip-run vs torch eager.
if out=$(py "$export_py" --out-dir "$tmp/model" --size tiny --random-init --seed 1 2>&1) &&
    [[ -s $tmp/model/biomedclip_text_fp32.onnx && -s $tmp/model/biomedclip_vision_fp32.onnx ]] &&
    [[ $(grep -c '^wrote ' <<<"$out") -eq 2 ]]; then
  echo "$out"
  pass "export --size tiny --random-init --seed 1 writes both models"
else
  echo "$out"
  fail "export --size tiny --random-init --seed 1"
fi
if py "$check_py" weights --onnx-dir "$tmp/model" --size tiny --seed 1; then
  pass "ONNX initializers are the model's weights"
else
  fail "ONNX initializers vs the model's weights"
fi
if py "$check_py" cases --size tiny --seed 1 --out-dir "$tmp/cases"; then
  pass "torch eager cases (padding and batching change nothing in eager)"
else
  fail "torch eager cases"
fi
ran=1
while read -r file name input; do
  mkdir -p "$tmp/qclip/$name"
  if ! "$run" "$tmp/model/$file" --input "$input=$tmp/cases/$name.in.$input.npy" \
      --output-dir "$tmp/qclip/$name" >/dev/null; then
    fail "qclip-run $file on $name"
    ran=0
  fi
done <"$tmp/cases/cases.txt"
if [[ $ran -eq 1 ]] && py "$check_py" compare --cases-dir "$tmp/cases" --actual-dir "$tmp/qclip"; then
  pass "qclip-run on the exported models == torch eager"
else
  fail "qclip-run on the exported models vs torch eager"
fi

# 4. Checkpoints.
if py "$check_py" checkpoint --size tiny --seed 1 --out "$tmp/ok.bin" >/dev/null &&
    py "$export_py" --out-dir "$tmp/from_ckpt" --size tiny --checkpoint "$tmp/ok.bin" >/dev/null &&
    py "$check_py" weights --onnx-dir "$tmp/from_ckpt" --size tiny --seed 1; then
  pass "--checkpoint exports the checkpoint's weights"
else
  fail "--checkpoint export"
fi
expect_refusal() {
  local what=$1 needle=$2 ckpt=$3 err rc
  err=$(py "$export_py" --out-dir "$tmp/refused" --size tiny --checkpoint "$ckpt" 2>&1 >/dev/null)
  rc=$?
  if [[ $rc -eq 1 && "$err" == *"error:"* && "$err" == *"$needle"* && ! -e $tmp/refused/biomedclip_text_fp32.onnx ]]; then
    pass "refuses $what"
  else
    fail "refuses $what (rc=$rc, stderr: $err)"
  fi
}
for kind in missing shape extra; do
  py "$check_py" checkpoint --size tiny --seed 1 --corrupt $kind --out "$tmp/$kind.bin" >/dev/null
done
expect_refusal "a checkpoint missing a tensor" "text.proj.2.weight" "$tmp/missing.bin"
expect_refusal "a mis-shaped tensor" "visual.trunk.pos_embed: shape [1, 196, 64], expected [1, 197, 64]" "$tmp/shape.bin"
expect_refusal "an unexpected tensor" "text.transformer.pooler.dense.weight" "$tmp/extra.bin"
expect_refusal "a missing file" "cannot open checkpoint" "$tmp/none.bin"
printf 'not a checkpoint' >"$tmp/garbage.bin"
expect_refusal "a corrupt file" "cannot read checkpoint" "$tmp/garbage.bin"

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]

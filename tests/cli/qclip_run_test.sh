#!/usr/bin/env bash
# qclip-run end to end: runs a fixture model, writes outputs, times runs, and refuses bad input
# with a message on stderr and exit code 1. Usage: qclip_run_test.sh QCLIP_RUN TESTS_DATA_DIR
set -u
run=$1
bin=$run
data=$2/models/biomedclip_text_tiny_pubmedvocab_legacy_op18
hostile=$2/hostile
source "$(dirname "$0")/lib.sh"

if "$run" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" \
    --output-dir "$tmp" >/dev/null && [[ -s "$tmp/embeddings.npy" ]]; then
  pass "writes DIR/OUTPUT.npy"
else
  fail "writes DIR/OUTPUT.npy"
fi

out=$("$run" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --bench 3 --threads 1)
if grep -Eq '^load_ms=[0-9.]+ median_ms=[0-9.]+ min_ms=[0-9.]+$' <<<"$out"; then
  pass "--bench prints one timing line"
else
  fail "--bench output: $out"
fi

err=$(QCLIP_PROFILE=1 "$run" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --bench 2 --threads 1 2>&1 >/dev/null)
if grep -q '^qclip profile: .* 3 runs' <<<"$err" && grep -Eq '^  MatMul +[0-9.]+ ms/run' <<<"$err"; then
  pass "QCLIP_PROFILE=1 prints a per-op table"
else
  fail "QCLIP_PROFILE=1 output: $err"
fi
err=$(QCLIP_PROFILE=1 "$run" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --bench 2 --warmup-ms 100 --threads 1 2>&1 >/dev/null)
runs=$(sed -n 's/^qclip profile: .*, \([0-9]*\) runs.*/\1/p' <<<"$err")
if [[ -n $runs ]] && ((runs > 3)); then
  pass "--warmup-ms runs untimed before the timed runs ($runs runs in all)"
else
  fail "--warmup-ms: $err"
fi

err=$(QCLIP_PROFILE=2 "$run" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --bench 2 --threads 1 2>&1 >/dev/null)
if grep -Eq '^  MatMul \[[0-9, ]+\] +[0-9.]+ ms/run' <<<"$err"; then
  pass "QCLIP_PROFILE=2 prints a per-op-and-shape table"
else
  fail "QCLIP_PROFILE=2 output: $err"
fi

printf 'garbage' >"$tmp/bad.onnx"
printf 'not npy' >"$tmp/bad.npy"
expect_error "missing model" "cannot open" "$tmp/none.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy"
expect_error "corrupt model" "not a valid ONNX model" "$tmp/bad.onnx" --input x="$tmp/bad.npy"
expect_error "corrupt .npy" "not a .npy file" "$data/fp32.onnx" --input input_ids="$tmp/bad.npy"
expect_error "wrong input name" "has no input 'pixels'" "$data/fp32.onnx" --input pixels="$data/unpadded_b1.in.input_ids.npy"
expect_error "wrong dtype" "must be int64, got float32" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.out.embeddings.ort_fp32.npy"
expect_error "malformed --input" "expects NAME=FILE.npy" "$data/fp32.onnx" --input input_ids
expect_error "--threads out of range" "threads" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --threads -3
expect_error "--warmup-ms out of range" "warmup-ms" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --bench 1 --warmup-ms -5

# Hostile models (tests/data/hostile/onnx, written by fuzz/make_model_seeds --hostile), each
# refused with its problem named.
ids=input_ids="$data/unpadded_b1.in.input_ids.npy"
while read -r name needle; do
  expect_error "hostile model $name" "$needle" "$hostile/onnx/$name.onnx" --input "x=$data/unpadded_b1.in.input_ids.npy"
done <<'EOF'
cycle the graph has a cycle
dangling_input reads 'ghost', which no node
overflowing_dims overflows int64
missing_data has 12 bytes of data for shape [1000000000]
expand_bomb exceeds the
external_escapes_folder must be a plain relative path
external_absolute_path must be a plain relative path
external_past_end lies past the end
external_offset_past_end lies past the end
external_missing not found
EOF
mkdir "$tmp/model"
cp "$hostile/onnx/external_past_end.onnx" "$tmp/model/m.onnx"
ln -s /etc/hostname "$tmp/model/short.bin"
expect_error "external data through a symlink out of the folder" "resolves outside the model's folder" "$tmp/model/m.onnx" --input "$ids"
head -c 100000 "$data/fp32.onnx" >"$tmp/truncated.onnx"
expect_error "truncated model" "not a valid ONNX model" "$tmp/truncated.onnx" --input "$ids"
mkfifo "$tmp/fifo"
expect_error "FIFO as the model (no hang)" "not a regular file" "$tmp/fifo" --input "$ids"
expect_error "directory as the model" "not a regular file" "$tmp" --input "$ids"
expect_error "FIFO as an input (no hang)" "not a regular file" "$data/fp32.onnx" --input input_ids="$tmp/fifo"
expect_error "/dev/zero as an input (bounded)" "not a regular file" "$data/fp32.onnx" --input input_ids=/dev/zero
# A float32 [2, 3] .npy of zeros, for the model whose activations are too large to allocate.
{ printf '\x93NUMPY\x01\x00\x76\x00'; printf '%-117s\n' "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
  head -c 24 /dev/zero; } >"$tmp/x.npy"
expect_error "activations of 2^40 times the input" "the activations for these input shapes need" "$hostile/onnx/tile_activation_bomb.onnx" --input x="$tmp/x.npy"
while read -r name needle; do
  expect_error "hostile .npy $name" "$needle" "$data/fp32.onnx" --input input_ids="$hostile/npy/$name.npy"
done <<'EOF'
truncated_data data size does not match shape [1000, 1000]
overflowing_shape overflowing_shape.npy: shape
header_past_end truncated or oversized .npy header
object_dtype unsupported .npy dtype
EOF

finish

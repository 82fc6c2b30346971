#!/usr/bin/env bash
# qclip-run end to end: runs a fixture model, writes outputs, times runs, and refuses bad input
# with a message on stderr and exit code 1. Usage: qclip_run_test.sh QCLIP_RUN TESTS_DATA_DIR
set -u
run=$1
data=$2/models/biomedclip_text_tiny_pubmedvocab_legacy_op18
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
pass() { echo "ok: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

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

# Each bad invocation: exit code 1, a message on stderr, within 60 s.
expect_error() {
  local what=$1 needle=$2
  shift 2
  local err rc
  err=$(timeout 60 "$run" "$@" 2>&1 >/dev/null)
  rc=$?
  if [[ $rc -eq 1 && "$err" == *"$needle"* ]]; then
    pass "$what"
  else
    fail "$what (rc=$rc, stderr: $err)"
  fi
}
printf 'garbage' >"$tmp/bad.onnx"
printf 'not npy' >"$tmp/bad.npy"
expect_error "missing model" "cannot open" "$tmp/none.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy"
expect_error "corrupt model" "not a valid ONNX model" "$tmp/bad.onnx" --input x="$tmp/bad.npy"
expect_error "corrupt .npy" "not a .npy file" "$data/fp32.onnx" --input input_ids="$tmp/bad.npy"
expect_error "wrong input name" "has no input 'pixels'" "$data/fp32.onnx" --input pixels="$data/unpadded_b1.in.input_ids.npy"
expect_error "wrong dtype" "must be int64, got float32" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.out.embeddings.ort_fp32.npy"
expect_error "malformed --input" "expects NAME=FILE.npy" "$data/fp32.onnx" --input input_ids
expect_error "--threads out of range" "threads" "$data/fp32.onnx" --input input_ids="$data/unpadded_b1.in.input_ids.npy" --threads -3

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]

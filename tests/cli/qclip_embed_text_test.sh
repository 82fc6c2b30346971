#!/usr/bin/env bash
# qclip-embed-text end to end: the pubmedvocab fixture's texts through tokenizer + FP32 model
# match ONNX Runtime's embeddings of the same ids (cosine >= 0.99999), output formats, --bench,
# and refusals of bad input.
# Usage: qclip_embed_text_test.sh QCLIP_EMBED_TEXT NPY_COMPARE TESTS_DATA_DIR
set -u
bin=$1
compare=$2
data=$3
source "$(dirname "$0")/lib.sh"
model=$data/models/biomedclip_text_tiny_pubmedvocab_legacy_op18
vocab=$data/tokenizer/pubmedbert-vocab.txt

for case in padded256_b8 unpadded_b1; do
  mapfile -t texts <"$model/$case.texts.txt"
  if "$bin" --model "$model/fp32.onnx" --vocab "$vocab" --out "$tmp/$case.npy" "${texts[@]}"; then
    check "$case FP32 vs ort_fp32" "$compare" "$tmp/$case.npy" \
      "$model/$case.out.embeddings.ort_fp32.npy" --min-cos 0.99999
  else
    fail "$case: qclip-embed-text failed"
  fi
  # INT8, exact mode: ORT's per-tensor activations over the batch it ran, i.e. padded to 256 for
  # padded256_b8; the encoder trims padding, so compare with the looser INT8 bound.
  if "$bin" --model "$model/int8_qint8.onnx" --vocab "$vocab" --out "$tmp/$case.int8.npy" \
      "${texts[@]}"; then
    check "$case INT8 vs ort_fp32" "$compare" "$tmp/$case.int8.npy" \
      "$model/$case.out.embeddings.ort_fp32.npy" --min-cos 0.998
  else
    fail "$case INT8: qclip-embed-text failed"
  fi
done

# Exact mode on one unpadded text is ORT's computation: its INT8 output, not just near FP32.
if "$bin" --model "$model/int8_qint8.onnx" --vocab "$vocab" --exact --out "$tmp/exact.npy" \
    "cardiomegaly"; then
  check "unpadded_b1 INT8 --exact vs ort_int8_qint8" "$compare" "$tmp/exact.npy" \
    "$model/unpadded_b1.out.embeddings.ort_int8_qint8.npy" --min-cos 0.9999 --max-abs 1e-2
else
  fail "--exact: qclip-embed-text failed"
fi

mapfile -t texts <"$model/padded256_b8.texts.txt"
lines=$("$bin" --model "$model/fp32.onnx" --vocab "$vocab" "${texts[@]}" | grep -c '^\[.*\]$')
[[ $lines -eq 8 ]] && pass "prints one JSON array per text" || fail "JSON lines: $lines of 8"
out=$("$bin" --model "$model/fp32.onnx" --vocab "$vocab" --bench 2 --threads 1 "cardiomegaly" | tail -1)
[[ $out =~ ^median_ms=[0-9.]+ ]] && pass "--bench prints median_ms" || fail "--bench: $out"

: >"$tmp/empty.txt"
printf 'garbage' >"$tmp/bad.onnx"
expect_error "missing model" "cannot open" --model "$tmp/none.onnx" --vocab "$vocab" x
expect_error "corrupt model" "not a valid ONNX model" --model "$tmp/bad.onnx" --vocab "$vocab" x
expect_error "missing vocabulary" "cannot" --model "$model/fp32.onnx" --vocab "$tmp/none.txt" x
expect_error "empty vocabulary" "empty" --model "$model/fp32.onnx" --vocab "$tmp/empty.txt" x
expect_error "no texts" "texts" --model "$model/fp32.onnx" --vocab "$vocab"
expect_error "bad pooling" "pooling" --model "$model/fp32.onnx" --vocab "$vocab" --pooling max x
expect_error "image model" "input" --model "$data/models/biomedclip_vision_tiny_legacy_op17/fp32.onnx" --vocab "$vocab" x

# Hostile models, vocabularies and texts.
hostile=$data/hostile
expect_error "hostile model (cycle)" "cycle" --model "$hostile/onnx/cycle.onnx" --vocab "$vocab" x
expect_error "hostile model (external data outside the folder)" "plain relative path" --model "$hostile/onnx/external_escapes_folder.onnx" --vocab "$vocab" x
mkfifo "$tmp/fifo"
expect_error "FIFO as the vocabulary (no hang)" "not a regular file" --model "$model/fp32.onnx" --vocab "$tmp/fifo" x
expect_error "directory as the vocabulary" "not a regular file" --model "$model/fp32.onnx" --vocab "$tmp" x
{ cat "$vocab"; head -c 1048576 /dev/zero | tr '\0' a; echo; } >"$tmp/long_line.txt"
expect_error "vocabulary with a 1 MB line" "1048576 bytes long" --model "$model/fp32.onnx" --vocab "$tmp/long_line.txt" x
{ cat "$vocab"; printf 'caf\xe9\n'; } >"$tmp/latin1.txt"
expect_error "vocabulary with a non-UTF-8 token" "not valid UTF-8" --model "$model/fp32.onnx" --vocab "$tmp/latin1.txt" x
{ cat "$vocab"; echo "[CLS]"; } >"$tmp/duplicate.txt"
expect_error "vocabulary with a duplicate token" "duplicate token" --model "$model/fp32.onnx" --vocab "$tmp/duplicate.txt" x
grep -v '^\[CLS\]$' "$vocab" >"$tmp/no_cls.txt"
expect_error "vocabulary without [CLS]" "no [CLS]" --model "$model/fp32.onnx" --vocab "$tmp/no_cls.txt" x
head -c 100000 /dev/urandom >"$tmp/random.txt"
expect_error "random bytes as the vocabulary" "random.txt: " --model "$model/fp32.onnx" --vocab "$tmp/random.txt" x
# Invalid UTF-8 and control bytes in a text are not errors: replaced by U+FFFD and dropped, as
# HF's tokenizer does; a text longer than 256 tokens is truncated.
out=$(timeout 60 "$bin" --model "$model/fp32.onnx" --vocab "$vocab" $'caf\xc3 \xff\xfe x-ray\x01' \
  "$(head -c 100000 /dev/zero | tr '\0' 'a' | fold -w 7 | tr '\n' ' ')" | grep -c '^\[.*\]$')
[[ $out -eq 2 ]] && pass "invalid UTF-8 and a 100 kB text are embedded" || fail "odd texts: $out of 2 lines"
finish

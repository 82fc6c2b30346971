#!/usr/bin/env bash
# qclip-quantize end to end. For every FP32 fixture model found under the MODELS folders (each a
# model folder with manifest.json, or a folder of them), it writes three INT8 files (the default
# QInt8 per channel, --per-tensor, --weight-type quint8) and checks:
#   - ONNX Runtime (tools/ort/run_ort.js, when node and tools/ort/node_modules are there) loads
#     and runs each. The cosine of its outputs to the fixture's ort_fp32 outputs (the mean over
#     rows, and the smallest row): per channel (QInt8 and QUInt8) mean >= 0.999, rows >= 0.998,
#     and the QInt8 one >= the mean cosine of ORT's own per-channel file - 2e-4 where the fixture
#     has one; per tensor >= ORT's own int8_qint8 file's mean and smallest row - 2e-4 (0.998 and
#     0.997 where there is none), and within 1e-6 of ORT's own outputs: the files are the same
#     but for graph.value_info, whose absence changes one of ORT's graph optimizations by float
#     rounding;
#   - qclip-run agrees with ONNX Runtime on each file (--exact: every row's cosine >= 0.9999),
#     and its default mode meets the same floors against ort_fp32; qclip-run --quantize on the
#     FP32 file gives exactly what it gives on the default INT8 file.
# Without node, the ORT checks are skipped (with a message) and qclip-run is checked against
# ort_fp32 alone. Bad invocations must exit 1 with a message. Exit 77 when nothing could run.
#
# Usage: qclip_quantize_test.sh QCLIP_QUANTIZE QCLIP_RUN MODELS...
set -u
quantize=$1
run=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
ort_dir=$(cd "$here/../../tools/ort" && pwd)
# A python3 with numpy (Debian's python3-numpy is in /usr/bin; a pyenv one may shadow it).
py=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import numpy' 2>/dev/null; then
    py=$candidate
    break
  fi
done
compare=("$py" "$here/npy_compare.py")
bin=$quantize
source "$here/lib.sh"  # tmp, pass, fail, expect_error

# ---- bad invocations: exit code 1 and a message on stderr.
printf 'garbage' >"$tmp/bad.onnx"
expect_error "missing model" "cannot open" "$tmp/none.onnx" "$tmp/out.onnx"
expect_error "corrupt model" "not a valid ONNX model" "$tmp/bad.onnx" "$tmp/out.onnx"
expect_error "missing output argument" "output" "$tmp/bad.onnx"
expect_error "bad --weight-type" "weight-type" "$tmp/bad.onnx" "$tmp/out.onnx" --weight-type int4
expect_error "--per-channel with --per-tensor" "per-" "$tmp/bad.onnx" "$tmp/out.onnx" --per-channel --per-tensor
expect_error "negative --keep-fp32-last" "keep-fp32-last" "$tmp/bad.onnx" "$tmp/out.onnx" --keep-fp32-last -1
expect_error "empty --exclude" "exclude" "$tmp/bad.onnx" "$tmp/out.onnx" --exclude ""
expect_error "unknown option" "--frobnicate" "$tmp/bad.onnx" "$tmp/out.onnx" --frobnicate
[[ ! -e "$tmp/out.onnx" ]] && pass "no output file after errors" || fail "an output file was left behind"

# ---- what is available
have_numpy=0
[[ -n "$py" ]] && have_numpy=1
have_ort=0
if command -v node >/dev/null && [[ -d "$ort_dir/node_modules/onnxruntime-node" ]]; then
  have_ort=1
else
  echo "skipped: ONNX Runtime checks (need node and 'npm install --ignore-scripts' in tools/ort)"
fi
if [[ $have_numpy -eq 0 ]]; then
  echo "skipped: model checks (python3 with numpy is missing)"
fi

models=()
for root in "$@"; do
  if [[ -f "$root/manifest.json" && -f "$root/fp32.onnx" ]]; then
    models+=("$root")
  else
    for m in "$root"/*/; do
      [[ -f "$m/manifest.json" && -f "$m/fp32.onnx" ]] && models+=("${m%/}")
    done
  fi
done

# Prints one line per case output: CASE OUTPUT INPUT_ARGS... as "case|output|ref_fp32|ref_pc|ref_pt|NAME=FILE ..."
cases() {
  "$py" - "$1" <<'EOF'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for c in m["cases"]:
    inputs = " ".join(f"{k}={os.path.join(d, v)}" for k, v in c["inputs"].items())
    for out, refs in c["outputs"].items():
        ref = lambda k: os.path.join(d, refs[k]) if k in refs else "-"
        print("|".join([c["name"], out, ref("ort_fp32"), ref("ort_int8_qint8_perchannel"),
                        ref("ort_int8_qint8"), inputs]))
EOF
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# ge A B: A >= B as numbers
ge() { "$py" -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }
file_name() { sed 's/[^A-Za-z0-9._-]/_/g' <<<"$1"; }

ran_models=0
if [[ $have_numpy -eq 1 ]]; then
  for model in "${models[@]}"; do
    name=$(basename "$model")
    ran_models=$((ran_models + 1))
    for variant in pc pt u8; do
      case $variant in
        pc) opts=() ;;
        pt) opts=(--per-tensor) ;;
        u8) opts=(--weight-type quint8) ;;
      esac
      q="$tmp/$name.$variant.onnx"
      if ! "$quantize" "$model/fp32.onnx" "$q" "${opts[@]}" >"$tmp/log" 2>&1; then
        fail "$name/$variant: qclip-quantize: $(cat "$tmp/log")"
        continue
      fi
      while IFS='|' read -r case_name out ref_fp32 ref_pc ref_pt inputs; do
        label="$name/$variant/$case_name/$out"
        in_args=()
        for i in $inputs; do in_args+=(--input "$i"); done
        fname=$(file_name "$out").npy
        mkdir -p "$tmp/ort" "$tmp/exact" "$tmp/fast"
        if ! "$run" "$q" "${in_args[@]}" --exact --threads 2 --output-dir "$tmp/exact" >"$tmp/log" 2>&1 ||
           ! "$run" "$q" "${in_args[@]}" --threads 2 --output-dir "$tmp/fast" >>"$tmp/log" 2>&1; then
          fail "$label: qclip-run: $(tail -3 "$tmp/log")"
          continue
        fi
        # The floor for the mean cosine to ort_fp32 (see the top of this file).
        floor=0.999
        row_floor=0.998
        if [[ $variant == pc && $ref_pc != - ]]; then
          own=$("${compare[@]}" "$ref_pc" "$ref_fp32")
          floor=$("$py" -c "print(round(max(0.999, float('$(field mean_cos "$own")') - 2e-4), 7))")
        elif [[ $variant == pt ]]; then
          floor=0.998
          row_floor=0.997
          if [[ $ref_pt != - ]]; then
            own=$("${compare[@]}" "$ref_pt" "$ref_fp32")
            floor=$("$py" -c "print(round(float('$(field mean_cos "$own")') - 2e-4, 7))")
            row_floor=$("$py" -c "print(round(float('$(field min_cos "$own")') - 2e-4, 7))")
          fi
        fi
        # check WHAT COMPARISON: the mean cosine >= floor, every row >= row_floor.
        check() {
          if ge "$(field mean_cos "$2")" "$floor" && ge "$(field min_cos "$2")" "$row_floor"; then
            pass "$label: $1 >= $floor, rows >= $row_floor ($2)"
          else
            fail "$label: $1 below $floor or a row below $row_floor ($2)"
          fi
        }
        check "qclip-run vs ort_fp32" "$("${compare[@]}" "$tmp/fast/$fname" "$ref_fp32")"
        if [[ $variant == pc ]]; then  # quantize on load = the default file
          mkdir -p "$tmp/onload"
          if "$run" "$model/fp32.onnx" --quantize "${in_args[@]}" --threads 2 --output-dir "$tmp/onload" >"$tmp/log" 2>&1; then
            same=$("${compare[@]}" "$tmp/onload/$fname" "$tmp/fast/$fname")
            [[ $(field identical "$same") == 1 ]] && pass "$label: qclip-run --quantize = the default file" ||
              fail "$label: qclip-run --quantize differs from the default file ($same)"
          else
            fail "$label: qclip-run --quantize: $(tail -3 "$tmp/log")"
          fi
        fi
        [[ $have_ort -eq 1 ]] || continue
        if ! node "$ort_dir/run_ort.js" "$q" "${in_args[@]}" --threads 2 --output-dir "$tmp/ort" >"$tmp/log" 2>&1; then
          fail "$label: ONNX Runtime could not run the file: $(tail -3 "$tmp/log")"
          continue
        fi
        check "ORT vs ort_fp32" "$("${compare[@]}" "$tmp/ort/$fname" "$ref_fp32")"
        if [[ $variant == pt && $ref_pt != - ]]; then
          same=$("${compare[@]}" "$tmp/ort/$fname" "$ref_pt")
          ge 1e-6 "$(field max_abs "$same")" && pass "$label: ORT output = its own int8_qint8's ($same)" ||
            fail "$label: ORT output differs from its own int8_qint8's ($same)"
        fi
        agree=$("${compare[@]}" "$tmp/exact/$fname" "$tmp/ort/$fname")
        ge "$(field min_cos "$agree")" 0.9999 && pass "$label: qclip-run --exact vs ORT ($agree)" ||
          fail "$label: qclip-run --exact vs ORT ($agree)"
      done < <(cases "$model")
    done
  done
fi

echo "$passes passed, $failures failed"
if [[ $failures -eq 0 && $ran_models -eq 0 ]]; then
  echo "skipped: no model could be checked"
  exit 77
fi
[[ $failures -eq 0 ]]

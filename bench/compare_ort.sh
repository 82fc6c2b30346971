#!/usr/bin/env bash
# Side-by-side: qclip and ONNX Runtime (onnxruntime-node, tools/ort) on the same files, the same
# inputs and the same thread count, interleaved, several repetitions. Prints a Markdown table of
# medians and qclip / ORT ratios (lower is better), load times and peak RSS.
#
#   bench/compare_ort.sh [--models DIR] [--build DIR] [--threads N] [--reps R] [--runs N]
#                        [--warmup-ms MS]
#
# Each repetition starts each engine afresh (load time, peak RSS), runs it once, then untimed for
# MS milliseconds (default 1000), then N timed runs (default 10): both engines are timed in their
# steady state, as an app that embeds many queries per process sees them (qclip's threads take
# 15-20 runs to settle on the weights they stream: docs/BENCHMARKS.md, fourteenth session).
#
# DIR holds the full-size towers (models/export_biomedclip.py) and their INT8 versions
# (qclip-quantize): biomedclip_{text,vision}_fp32.onnx, *_int8_qint8_pt.onnx (ORT's default
# layout: QInt8 per tensor) and biomedclip_vision_int8_quint8_pt.onnx. Missing files are made.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models=/work/models-cache
build=$root/build
threads=2
reps=5
runs=10
warmup_ms=1000
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) models=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup-ms) warmup_ms=$2; shift 2 ;;
    *) echo "compare_ort: unknown option $1" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
ort=(node "$root/tools/ort/run_ort.js")
[[ -d $root/tools/ort/node_modules/onnxruntime-node ]] ||
  (cd "$root/tools/ort" && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
bin=$build/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Models: export and quantize what is missing.
[[ -f $models/biomedclip_text_fp32.onnx && -f $models/biomedclip_vision_fp32.onnx ]] ||
  $py "$root/models/export_biomedclip.py" --out-dir "$models" --random-init --seed 0
for tower in text vision; do
  f=$models/biomedclip_${tower}_int8_qint8_pt.onnx
  [[ -f $f ]] || "$bin/qclip-quantize" "$models/biomedclip_${tower}_fp32.onnx" "$f" \
    --weight-type qint8 --per-tensor >/dev/null
done
f=$models/biomedclip_vision_int8_quint8_pt.onnx
[[ -f $f ]] || "$bin/qclip-quantize" "$models/biomedclip_vision_fp32.onnx" "$f" \
  --weight-type quint8 --per-tensor >/dev/null

# Inputs: random pixels (batch 1 and 8), one short query unpadded and padded to 256 as Med-MIR
# feeds ORT ([CLS]=2 ... [SEP]=3, [PAD]=0).
$py - "$work" <<'PY'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(0)
for b in (1, 8):
    np.save(f"{w}/pixels_b{b}.npy", rng.standard_normal((b, 3, 224, 224), dtype=np.float32))
ids = np.array([[2, 1423, 4398, 2106, 6151, 1964, 1929, 3]], dtype=np.int64)
np.save(f"{w}/ids_unpadded.npy", ids)
padded = np.zeros((1, 256), dtype=np.int64)
padded[0, :ids.shape[1]] = ids[0]
np.save(f"{w}/ids_padded256.npy", padded)
PY
query="pleural effusion in the right lower lobe"

# name | model | input for both | how qclip runs it (run = qclip-run on the same input, in its
# default INT8 mode; exact = qclip-run --exact: ORT's own per-tensor arithmetic, bit for bit) |
# issue 6's target for the time ratio (the --exact rows: the same work's target)
configs=(
  "vision INT8 b1|vision_int8_qint8_pt|pixel_values=$work/pixels_b1.npy|run|0.6"
  "vision INT8 b8|vision_int8_qint8_pt|pixel_values=$work/pixels_b8.npy|run|0.6"
  "vision QUInt8 b1|vision_int8_quint8_pt|pixel_values=$work/pixels_b1.npy|run|0.5"
  "vision FP32 b1|vision_fp32|pixel_values=$work/pixels_b1.npy|run|1.0"
  "text INT8 unpadded|text_int8_qint8_pt|input_ids=$work/ids_unpadded.npy|run|0.7"
  "text INT8 app query (ORT padded 256)|text_int8_qint8_pt|input_ids=$work/ids_padded256.npy|encoder|0.1"
  "vision INT8 b1, qclip --exact|vision_int8_qint8_pt|pixel_values=$work/pixels_b1.npy|exact|0.6"
  "vision INT8 b8, qclip --exact|vision_int8_qint8_pt|pixel_values=$work/pixels_b8.npy|exact|0.6"
  "text INT8 unpadded, qclip --exact|text_int8_qint8_pt|input_ids=$work/ids_unpadded.npy|exact|0.7"
)

# Runs one engine once; appends "median_ms load_ms rss_kb" to FILE.
measure() {  # ENGINE MODEL INPUT MODE FILE
  local engine=$1 model=$2 input=$3 mode=$4 file=$5 out
  if [[ $engine == ort ]]; then
    out=$(/usr/bin/time -f "rss_kb=%M" "${ort[@]}" "$model" --input "$input" --threads "$threads" \
      --bench "$runs" --warmup-ms "$warmup_ms" --output-dir "$work/out" 2>&1)
  elif [[ $mode == encoder ]]; then
    local start end
    start=$(date +%s%N)
    out=$(/usr/bin/time -f "rss_kb=%M" "$bin/qclip-embed-text" --model "$model" \
      --vocab "$root/tests/data/tokenizer/pubmedbert-vocab.txt" --threads "$threads" \
      --bench "$runs" --warmup-ms "$warmup_ms" --out "$work/out.npy" "$query" 2>&1)
    out="load_ms=NA $out"
  else
    local exact=()
    [[ $mode == exact ]] && exact=(--exact)
    out=$(/usr/bin/time -f "rss_kb=%M" "$bin/qclip-run" "$model" --input "$input" "${exact[@]}" \
      --threads "$threads" --bench "$runs" --warmup-ms "$warmup_ms" --output-dir "$work/out" 2>&1)
  fi
  local median load rss
  median=$(grep -o 'median_ms=[0-9.]*' <<<"$out" | tail -1 | cut -d= -f2)
  load=$(grep -o 'load_ms=[0-9.A-Z]*' <<<"$out" | tail -1 | cut -d= -f2)
  rss=$(grep -o 'rss_kb=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2)
  [[ -n $median ]] || { echo "compare_ort: no timing from $engine on $model: $out" >&2; exit 1; }
  echo "$median $load $rss" >>"$file"
}

mkdir -p "$work/out"
for ((rep = 0; rep < reps; ++rep)); do
  for i in "${!configs[@]}"; do
    IFS='|' read -r name model input mode _ <<<"${configs[$i]}"
    m=$models/biomedclip_$model.onnx
    # Alternate which engine goes first, so neither always runs on a warmer machine.
    if ((rep % 2 == 0)); then order=(qclip ort); else order=(ort qclip); fi
    for engine in "${order[@]}"; do measure "$engine" "$m" "$input" "$mode" "$work/$i.$engine"; done
  done
  echo "compare_ort: repetition $((rep + 1))/$reps done" >&2
done

# Targets (issue 6): the time ratio per case, load time <= 0.5, peak RSS <= 0.8; "met" names
# those that hold in this run.
echo "| case | qclip ms | ORT ms | ratio | qclip load ms | ORT load ms | load ratio | qclip RSS MB | ORT RSS MB | RSS ratio | targets: time, load 0.5, RSS 0.8 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for i in "${!configs[@]}"; do
  IFS='|' read -r name model input mode target <<<"${configs[$i]}"
  $py - "$name" "$work/$i.qclip" "$work/$i.ort" "$target" <<'PY'
import sys, statistics as st
name, q, o = sys.argv[1], [l.split() for l in open(sys.argv[2])], [l.split() for l in open(sys.argv[3])]
target = float(sys.argv[4])
def med(rows, k):
    v = [float(r[k]) for r in rows if r[k] != "NA"]
    return st.median(v) if v else float("nan")
qm, om = med(q, 0), med(o, 0)
ql, ol = med(q, 1), med(o, 1)
qr, orr = med(q, 2) / 1024, med(o, 2) / 1024
def verdict(ratio, limit):  # as printed, to 2 places; nan (the app query's load) is not judged
    return "-" if ratio != ratio else ("met" if round(ratio, 2) <= limit else "NOT met")
checks = f"{target}: {verdict(qm / om, target)}, {verdict(ql / ol, 0.5)}, {verdict(qr / orr, 0.8)}"
print(f"| {name} | {qm:.1f} | {om:.1f} | {qm/om:.2f} | {ql:.0f} | {ol:.0f} | {ql/ol:.2f} | {qr:.0f} | {orr:.0f} | {qr/orr:.2f} | {checks} |")
PY
done
echo
echo "threads=$threads reps=$reps runs/rep=$runs warmup_ms=$warmup_ms; $(lscpu | grep 'Model name' | sed 's/  */ /g')"

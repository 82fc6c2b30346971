#!/usr/bin/env bash
# Scaling: qclip and ONNX Runtime (tools/ort) latency against text sequence length, batch size
# and thread count, on the full-size INT8 towers (ORT's default layout, QInt8 per tensor) that
# bench/compare_ort.sh makes. Each point runs both engines on the same .npy input, alternating
# which goes first, and takes the median of --runs timed runs; prints Markdown tables with the
# qclip / ORT ratio (lower is better).
#
#   bench/scaling.sh [--models DIR] [--build DIR] [--runs N] [--threads "1 2"]
#                    [--seq "8 16 32 64 128 256"] [--batch "1 2 4 8 16 32"]
#                    [--python PY] [--ort-python PY] [--exact]
#
# --exact: qclip runs ORT's own per-tensor arithmetic (qclip-run --exact) instead of its default
# block-wise mode, so that both engines do the same work.
# --python: the interpreter with numpy that writes the inputs (default /usr/bin/python3).
# --ort-python: run ONNX Runtime through its Python package with this interpreter
# (tools/ort/run_ort.py) instead of onnxruntime-node, on machines that have that one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models=/work/models-cache
build=$root/build
runs=5
thread_list="1 2"
seq_list="8 16 32 64 128 256"
batch_list="1 2 4 8 16 32"
py=/usr/bin/python3
ort_py=""
qclip_mode=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) models=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) thread_list=$2; shift 2 ;;
    --seq) seq_list=$2; shift 2 ;;
    --batch) batch_list=$2; shift 2 ;;
    --python) py=$2; shift 2 ;;
    --ort-python) ort_py=$2; shift 2 ;;
    --exact) qclip_mode=(--exact); shift ;;
    *) echo "scaling: unknown option $1" >&2; exit 2 ;;
  esac
done
text=$models/biomedclip_text_int8_qint8_pt.onnx
vision=$models/biomedclip_vision_int8_qint8_pt.onnx
for f in "$text" "$vision"; do
  [[ -f $f ]] || { echo "scaling: $f is missing: run bench/compare_ort.sh first" >&2; exit 1; }
done
[[ -n $ort_py || -d $root/tools/ort/node_modules/onnxruntime-node ]] ||
  (cd "$root/tools/ort" && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out"

# Token ids: [CLS] random ids [SEP], no padding (qclip and ORT both run every token); pixels.
$py - "$work" "$seq_list" "$batch_list" <<'PY'
import sys, numpy as np
w, seqs, batches = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
rng = np.random.default_rng(0)
for s in map(int, seqs):
    for b in {1, *map(int, batches)}:
        ids = rng.integers(1000, 30000, size=(b, s), dtype=np.int64)
        ids[:, 0], ids[:, -1] = 2, 3
        np.save(f"{w}/ids_s{s}_b{b}.npy", ids)
for b in map(int, batches):
    np.save(f"{w}/px_b{b}.npy", rng.standard_normal((b, 3, 224, 224), dtype=np.float32))
PY

# Median ms of one engine: ENGINE MODEL INPUT THREADS
median() {
  local out
  if [[ $1 == ort ]]; then
    local runner=(node "$root/tools/ort/run_ort.js")
    [[ -z $ort_py ]] || runner=("$ort_py" "$root/tools/ort/run_ort.py")
    out=$("${runner[@]}" "$2" --input "$3" --threads "$4" --bench "$runs" \
      --output-dir "$work/out" 2>&1)
  else
    out=$("$build/examples/qclip-run" "$2" --input "$3" "${qclip_mode[@]}" --threads "$4" \
      --bench "$runs" --output-dir "$work/out" 2>&1)
  fi
  grep -o 'median_ms=[0-9.]*' <<<"$out" | cut -d= -f2 ||
    { echo "scaling: no timing from $1 on $2: $out" >&2; exit 1; }
}

# One table row: LABEL MODEL INPUT THREADS
row() {
  local q o
  if (( RANDOM % 2 )); then q=$(median qclip "$2" "$3" "$4"); o=$(median ort "$2" "$3" "$4")
  else o=$(median ort "$2" "$3" "$4"); q=$(median qclip "$2" "$3" "$4"); fi
  awk -v l="$1" -v q="$q" -v o="$o" 'BEGIN { printf "| %s | %.2f | %.2f | %.2f |\n", l, q, o, q / o }'
}

for t in $thread_list; do
  echo "Text INT8, batch 1, $t thread(s): latency against sequence length"
  echo
  echo "| tokens | qclip ms | ORT ms | qclip / ORT |"
  echo "|---|---|---|---|"
  for s in $seq_list; do row "$s" "$text" "input_ids=$work/ids_s${s}_b1.npy" "$t"; done
  echo
  echo "Vision INT8, $t thread(s): latency against batch size"
  echo
  echo "| images | qclip ms | ORT ms | qclip / ORT |"
  echo "|---|---|---|---|"
  for b in $batch_list; do row "$b" "$vision" "pixel_values=$work/px_b${b}.npy" "$t"; done
  echo
  echo "Text INT8, 64 tokens, $t thread(s): latency against batch size"
  echo
  echo "| queries | qclip ms | ORT ms | qclip / ORT |"
  echo "|---|---|---|---|"
  for b in $batch_list; do
    [[ -f $work/ids_s64_b$b.npy ]] || continue
    row "$b" "$text" "input_ids=$work/ids_s64_b${b}.npy" "$t"
  done
  echo
done
echo "runs=$runs; qclip mode: ${qclip_mode[*]:-default}; $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) CPUs"

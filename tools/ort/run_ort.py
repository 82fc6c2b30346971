#!/usr/bin/env python3
"""run_ort.py: run_ort.js for machines that have ONNX Runtime's Python package instead of Node.js.

Runs an ONNX model with ONNX Runtime's CPU provider on .npy inputs, with the same interface,
session settings (intra-op threads as given, one inter-op thread, sequential execution) and
output as run_ort.js and qclip-run, so bench/scaling.sh can use either (--ort-python PYTHON). A
dev tool: qclip itself never links or loads ONNX Runtime.

  python3 run_ort.py MODEL.onnx --input NAME=FILE.npy ... [--output-dir DIR] [--threads N]
                     [--bench N]

--bench N: after the first run (the one whose outputs are written), N more timed runs, then one
line "load_ms=... median_ms=... min_ms=..." as qclip-run prints it. Errors: "run_ort: error: ..."
on stderr, exit code 1.
"""

import argparse
import os
import re
import statistics
import sys
import time

import numpy as np


def fail(message):
    sys.stderr.write(f"run_ort: error: {message}\n")
    sys.exit(1)


def file_name(name):
    """Output names like "/encoder/Add_output_0" become file names without '/', as in qclip-run."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "output"


def parse_input(text):
    name, sep, path = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expects NAME=FILE.npy, got '{text}'")
    return name, path


def main():
    p = argparse.ArgumentParser(prog="run_ort")
    p.add_argument("model")
    p.add_argument("-i", "--input", action="append", type=parse_input, default=[])
    p.add_argument("-o", "--output-dir")
    p.add_argument("-t", "--threads", type=int, default=0)  # 0: ORT's default, all cores
    p.add_argument("--bench", type=int, default=0)
    args = p.parse_args()
    if not args.input:
        fail("no --input given")
    try:
        import onnxruntime as ort
    except ImportError as e:
        fail(f"onnxruntime (Python) is not installed: {e}")
    if not os.path.exists(args.model):
        fail(f"cannot open {args.model}")

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    try:
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types
        fail(f"{args.model}: {e}")
    load_ms = (time.perf_counter() - t0) * 1e3

    names = [i.name for i in session.get_inputs()]
    feeds = {}
    for name, path in args.input:
        if name not in names:
            fail(f"{args.model}: the model has no input '{name}' (its inputs: {', '.join(names)})")
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            fail(f"cannot read {path}: {e}")

    def run():
        try:
            return session.run(None, feeds)
        except Exception as e:
            fail(f"{args.model}: {e}")

    outputs = run()
    for meta, value in zip(session.get_outputs(), outputs):
        if args.output_dir is not None:
            np.save(os.path.join(args.output_dir, file_name(meta.name) + ".npy"), value)
        else:
            print(f"{meta.name} [{', '.join(map(str, value.shape))}] {value.dtype}")
    if args.bench > 0:
        ms = []
        for _ in range(args.bench):
            start = time.perf_counter()
            run()
            ms.append((time.perf_counter() - start) * 1e3)
        print(f"load_ms={load_ms:.3f} median_ms={statistics.median(ms):.3f} min_ms={min(ms):.3f}")


if __name__ == "__main__":
    main()

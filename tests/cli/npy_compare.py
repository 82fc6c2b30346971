#!/usr/bin/env python3
"""Compares two .npy outputs as the CLI tests need it.

    npy_compare.py A.npy B.npy

prints one line "mean_cos=… min_cos=… max_abs=… identical=0|1": the mean and the smallest
cosine over rows (the last axis is the row), the largest absolute difference, and whether the
bytes are equal. Exit code 1
(with a message) when the files can not be read or their shapes differ.
"""
import sys

import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: npy_compare.py A.npy B.npy")
    a = np.load(sys.argv[1]).astype(np.float64)
    b = np.load(sys.argv[2]).astype(np.float64)
    if a.shape != b.shape:
        sys.exit(f"shapes differ: {a.shape} vs {b.shape}")
    raw_a, raw_b = np.load(sys.argv[1]), np.load(sys.argv[2])
    identical = raw_a.dtype == raw_b.dtype and raw_a.tobytes() == raw_b.tobytes()
    rows_a = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    rows_b = b.reshape(-1, b.shape[-1]) if b.ndim else b.reshape(1, 1)
    dot = (rows_a * rows_b).sum(axis=1)
    norms = np.linalg.norm(rows_a, axis=1) * np.linalg.norm(rows_b, axis=1)
    cos = np.where(norms > 0, dot / np.where(norms > 0, norms, 1), 1.0)
    max_abs = float(np.abs(a - b).max()) if a.size else 0.0
    print(f"mean_cos={cos.mean():.7f} min_cos={cos.min():.7f} max_abs={max_abs:.3g} "
          f"identical={int(identical)}")


if __name__ == "__main__":
    main()

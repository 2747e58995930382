"""Peak memory of a fit on wide sparse inputs (the layer-1 Gram never formed).

Builds a random CSR matrix (default 200,000 x 100,000, 20 stored entries per
row, float32 values), fits ``ADMMClassifier(hidden_layer_sizes=(100,))``
for a few sweeps in a fresh process, and compares the process's peak
resident memory with the inputs' own size plus the per-sample state (as
``python -m admm_sklearn plan`` counts it: the engine's state, the output
refit's features, the labels and encoded targets) plus the interpreter with its
imports (measured in the same process before the data are made)::

    python benchmarks/sparse_memory.py --json benchmarks/results/sparse_memory.json

A (100,) network on these inputs would need a 100,001^2 input Gram (80 GB in
float64) on the direct path.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

GIB = 2.0 ** 30


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # Linux: KiB


def child(args):
    import numpy as np
    import scipy.sparse as sp

    from admm_sklearn import ADMMClassifier
    from admm_sklearn._plan import layer_sizes, state_bytes_per_sample

    baseline = peak_rss()
    rng = np.random.default_rng(0)
    n, d, per_row = args.rows, args.features, args.per_row
    cols = rng.integers(0, d, size=n * per_row).astype(np.int32)
    X = sp.csr_matrix((rng.uniform(0.5, 1.5, n * per_row).astype(np.float32), cols,
                       np.arange(0, n * per_row + 1, per_row, dtype=np.int64)), shape=(n, d))
    coef = np.zeros(d, dtype=np.float32)
    coef[rng.choice(d, 1000, replace=False)] = rng.normal(size=1000)
    y = (X @ coef > 0).astype(int)
    del cols, coef
    x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    sizes = layer_sizes(d, (100,), 2)
    # per sample: the engine's state, the output refit's features (float32)
    # and the labels with their float64 encoded targets, as `plan` counts them
    # (not the dense copy of x that plan counts for dense inputs)
    state_bytes = n * (state_bytes_per_sample(sizes, "float32") - 4 * d + 4 * 100 + 8 + 8)
    before_fit = peak_rss()
    model = ADMMClassifier(hidden_layer_sizes=(100,), max_iter=args.sweeps, tol=None,
                           n_warmup_iter=1, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    peak = peak_rss()
    budget = baseline + x_bytes + state_bytes + 0.5 * GIB
    row = {"rows": n, "features": d, "stored_per_row": per_row, "sweeps": model.n_iter_,
           "seconds": seconds, "interpreter_bytes": baseline, "x_bytes": x_bytes,
           "state_bytes": state_bytes, "peak_before_fit_bytes": before_fit,
           "peak_bytes": peak, "budget_bytes": budget,
           "excess_over_x_state_interpreter_bytes": peak - baseline - x_bytes - state_bytes,
           "within_budget": bool(peak <= budget),
           "train_accuracy": model.score(X, y)}
    print(json.dumps(row))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--per-row", type=int, default=20)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--json", default="benchmarks/results/sparse_memory.json")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        return child(args)
    out = subprocess.run([sys.executable, __file__, "--child", "--rows", str(args.rows),
                          "--features", str(args.features), "--per-row", str(args.per_row),
                          "--sweeps", str(args.sweeps)],
                         capture_output=True, text=True, check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{row['rows']:,} x {row['features']:,} CSR, {row['stored_per_row']} stored per row, "
          f"(100,), {row['sweeps']} sweeps in {row['seconds']:.1f} s")
    for key in ("interpreter_bytes", "x_bytes", "state_bytes", "peak_bytes", "budget_bytes",
                "excess_over_x_state_interpreter_bytes"):
        print(f"  {key:<40} {row[key] / GIB:7.3f} GiB")
    print(f"  within X + state + 0.5 GiB (+ interpreter): {row['within_budget']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()

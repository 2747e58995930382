"""Per-sweep cost against the arithmetic it needs (issue: per-iteration cost).

For each n and architecture: seconds per ADMM sweep (median of repeats),
the FLOPs the sweep's matrix products need (counted below, layer by layer),
achieved GFLOP/s, the GEMM rate of this machine measured in the same run,
their ratio, peak RSS and state bytes per sample, and one MLPClassifier
(adam) epoch on the same data. Prints a table, writes JSON.

    python benchmarks/speed.py --quick          # the target row only
    python benchmarks/speed.py                  # n in {50k, 200k, 1M} x archs
"""

import argparse
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import make_data, time_sweeps  # noqa: E402

from admm_sklearn._backends import JoblibBackend, SerialBackend  # noqa: E402
from admm_sklearn._plan import state_bytes_per_sample  # noqa: E402


def sweep_flops(n, sizes):
    """FLOPs of the matrix products of one sweep (see docs/method.rst).

    Per hidden layer l: the a_l update (residual form when the next layer is
    narrower: 4 n d_l d_{l+1}; direct form otherwise: 2 n d_l (d_l + d_{l+1})),
    the Gram sums for W_{l+1} (syrk n d_l^2, cross 2 n d_l d_{l+1}) and
    m = W_l a_{l-1} (2 n d_{l-1} d_l); layer 1 adds its cross Gram
    (2 n d_0 d_1). The output layer adds m (2 n d_{L-1} d_L). Entrywise
    updates and the d x d solves are not counted.
    """
    L = len(sizes) - 1
    flops = 0
    for l in range(1, L):
        d_prev, d, d_next = sizes[l - 1], sizes[l], sizes[l + 1]
        flops += 4 * n * d * d_next if d_next < d else 2 * n * d * (d + d_next)
        flops += n * d * d + 2 * n * d * d_next
        flops += 2 * n * d_prev * d
    flops += 2 * n * sizes[0] * sizes[1]
    flops += 2 * n * sizes[L - 1] * sizes[L]
    return flops


def gemm_rate(n, d, dtype, repeats=7):
    """GFLOP/s of A^T B for A, B of shape (n, d): the Gram-shaped GEMM, on
    every core (BLAS's own threads). The best of ``repeats``: this shared
    machine's GEMM timings vary by up to 2x between calls, and the peak is
    the conservative denominator for the ratio."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d)).astype(dtype)
    B = rng.standard_normal((n, d)).astype(dtype)
    A.T @ B
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        A.T @ B
        times.append(time.perf_counter() - t)
    return 2 * n * d * d / np.min(times) / 1e9


def mlp_epoch_seconds(X, y, hidden):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        MLPClassifier(hidden, solver="adam", max_iter=1, random_state=0).fit(X, y)
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200k, (300,), float32 only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default="benchmarks/results/speed.json")
    parser.add_argument("--multipliers", default="all", choices=["all", "output", "bregman"])
    args = parser.parse_args()
    if args.quick:
        grid = [(200_000, (300,), "float32")]
    else:
        # every n for every architecture but (1000,) at 1M rows, whose state
        # alone (16 KB per sample in float32) would fill this 24 GiB machine
        grid = [(n, arch, "float32") for arch in ((300,), (100, 50))
                for n in (50_000, 200_000, 1_000_000)]
        grid += [(n, (1000,), "float32") for n in (50_000, 200_000)]
        grid += [(200_000, (300,), "float64")]
    rows = []
    print(f"{os.cpu_count()} cores; backend joblib n_jobs=2 and serial, one BLAS thread "
          f"per worker; multipliers={args.multipliers!r}")
    head = (f"{'n':>8} {'arch':>10} {'dtype':>7} {'backend':>7} {'s/sweep':>8} {'GFLOP':>7} "
            f"{'GFLOP/s':>8} {'GEMM':>6} {'ratio':>6} {'MLP ep':>7} {'sweep/ep':>8} "
            f"{'B/sample':>8} {'min':>5}")
    print(head)
    for n, hidden, dtype in grid:
        X, Y = make_data(n)
        gemm = gemm_rate(n, hidden[0], dtype)
        mlp = mlp_epoch_seconds(X, Y[:, 0].astype(int), hidden)
        for name, backend in (("joblib", JoblibBackend(2)), ("serial", SerialBackend())):
            seconds, sizes = time_sweeps(backend, X, Y, hidden, dtype, args.repeats, warmup=1,
                                         multipliers=args.multipliers)
            flops = sweep_flops(n, sizes)
            row = {"n": n, "hidden": list(hidden), "dtype": dtype, "backend": name,
                   "multipliers": args.multipliers,
                   "seconds_per_sweep": seconds, "gflop": flops / 1e9,
                   "gflops_achieved": flops / seconds / 1e9, "gemm_gflops": gemm,
                   "ratio_to_gemm": flops / seconds / 1e9 / gemm,
                   "mlp_epoch_seconds": mlp, "sweep_over_mlp_epoch": seconds / mlp,
                   "state_bytes_per_sample": state_bytes_per_sample(sizes, np.dtype(dtype).name,
                                                         args.multipliers),
                   "min_bytes_per_sample": state_bytes_per_sample(sizes, np.dtype(dtype).name,
                                                       args.multipliers),
                   "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
            rows.append(row)
            print(f"{n:>8} {str(hidden):>10} {dtype:>7} {name:>7} {seconds:>8.3f} "
                  f"{row['gflop']:>7.1f} {row['gflops_achieved']:>8.1f} {gemm:>6.0f} "
                  f"{row['ratio_to_gemm']:>6.2f} {mlp:>7.2f} {row['sweep_over_mlp_epoch']:>8.2f} "
                  f"{row['state_bytes_per_sample']:>8} {row['min_bytes_per_sample']:>5}",
                  flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""
Strong scaling (measured)
=========================

Plots the seconds per ADMM sweep against the number of workers, as measured
by ``python benchmarks/scaling.py --runs 3`` on this project's 2-core machine
(200,000 x 28 samples, one hidden layer of 300). The numbers are read from
``benchmarks/results`` (medians over runs where a file holds several);
re-run the benchmark to measure your machine.
"""

import json
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
results = sorted((here.parent / "benchmarks" / "results").glob("scaling_float*_all.json"))
runs = [json.loads(p.read_text()) for p in results]
for run in runs:
    # newer files hold several runs of the whole table: keep the median
    keys = dict.fromkeys((r["backend"], r["workers"]) for r in run["rows"])
    run["rows"] = [
        {"backend": b, "workers": k, **{
            field: float(np.median([r[field] for r in run["rows"]
                                    if (r["backend"], r["workers"]) == (b, k)]))
            for field in ("seconds_per_sweep", "speedup")}}
        for b, k in keys]
    for row in run["rows"]:
        print(f"{run['dtype']:<8} {row['backend']:<7} workers={row['workers']} "
              f"{row['seconds_per_sweep']:.3f} s/sweep, speed-up {row['speedup']:.2f}")

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None and runs:
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        for backend in ("joblib", "mpi"):
            rows = [r for r in run["rows"] if r["backend"] == backend]
            ax.plot([r["workers"] for r in rows], [r["seconds_per_sweep"] for r in rows],
                    "o-", label=f"{backend}, {run['dtype']}")
    ax.set(xlabel="workers", ylabel="seconds per sweep", xticks=[1, 2])
    ax.legend()
    plt.show()

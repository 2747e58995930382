"""Validate ``python -m admm_sklearn plan`` against measurements (issue 15).

    python benchmarks/plan_check.py --interconnect   # the 'node' allreduce constants
    python benchmarks/plan_check.py                  # memory and seconds per sweep
    python benchmarks/plan_check.py --higgs          # the paper's HIGGS run, modelled

Memory: the peak RSS of a fresh process that fits ``ADMMClassifier`` (two
sweeps and the output refit) on ``make_data(n)`` (28 features, float64),
hidden (300,), against the plan's total for one rank; at 200,000 and
1,000,000 rows, float32 and float64. Time: seconds per sweep (median of 5)
for serial, joblib with 2 threads and MPI with 2 ranks at 200,000 rows,
against the plan for 1 and 2 ranks from one calibration. Prints a table and
writes JSON.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
from argparse import Namespace
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import make_data, time_sweeps  # noqa: E402
from scaling import run_mpi  # noqa: E402

from admm_sklearn._backends import JoblibBackend, SerialBackend  # noqa: E402
from admm_sklearn._plan import calibrate, layer_sizes, plan  # noqa: E402

FIT = """
import resource, sys, warnings
sys.path.insert(0, {bench!r})
from _timing import make_data
from admm_sklearn import ADMMClassifier
X, y = make_data({n})
warnings.simplefilter("ignore")
ADMMClassifier((300,), max_iter=2, n_warmup_iter=1, n_polish_iter=2, dtype={dtype!r},
               random_state=0).fit(X, y[:, 0])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

ALLREDUCE = """
import time, numpy as np
from mpi4py import MPI
comm = MPI.COMM_WORLD
out = {}
for size in (1, 1 << 20):
    a = np.ones(size); b = np.empty_like(a)
    for _ in range(20): comm.Allreduce(a, b)
    times = []
    for _ in range(200 if size == 1 else 30):
        comm.Barrier(); t = time.perf_counter(); comm.Allreduce(a, b)
        times.append(time.perf_counter() - t)
    out[size * 8] = float(np.median(times))
if comm.Get_rank() == 0:
    print(out)
"""


def measure_interconnect():
    mpiexec = Path(sys.executable).with_name("mpiexec")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out = subprocess.run([str(mpiexec if mpiexec.exists() else "mpiexec"), "-n", "2",
                          sys.executable, "-c", ALLREDUCE], capture_output=True, text=True,
                         check=True, timeout=600, env=env).stdout
    times = eval(out.strip().splitlines()[-1])
    small, large = times[8], times[8 << 20]
    alpha = small / 2  # 2 ceil(log2 2) alpha for an 8-byte message
    beta = (large - 2 * alpha) / (8 << 20)  # 2 (P - 1) / P = 1 for P = 2
    print(f"8 B allreduce {small * 1e6:.2f} us, 8 MiB {large * 1e3:.2f} ms: "
          f"alpha {alpha:.3g} s, beta {beta:.3g} s/B ({1 / beta / 1e9:.2f} GB/s)")
    return {"alpha": alpha, "beta": beta, "small_seconds": small, "large_seconds": large}


def higgs():
    """10.5M x 28, (300,), float32, 1 to 10,000 ranks: modelled from one
    calibration on this machine (compute) and the allreduce model."""
    calibration = calibrate(layer_sizes(28, (300,), 2), "float32")
    print(f"calibration (this machine, one rank): {calibration}")
    print(f"{'ranks':>6} {'interconnect':>15} {'rows/rank':>10} {'compute s':>10} "
          f"{'allreduce s':>12} {'s/sweep':>9} {'comm share':>10} {'GiB/rank':>9}")
    for interconnect in ("infiniband-hdr", "ethernet-10g"):
        for ranks in (1, 10, 100, 1000, 7200, 10000):
            r = plan(10_500_000, 28, (300,), 2, ranks, "float32",
                     interconnect=interconnect, calibration=calibration)
            print(f"{ranks:>6} {interconnect:>15} {r['samples_per_rank']:>10,} "
                  f"{r['compute_seconds']:>10.4f} {r['allreduce_seconds']:>12.6f} "
                  f"{r['seconds_per_sweep']:>9.4f} "
                  f"{r['allreduce_seconds'] / r['seconds_per_sweep']:>10.3f} "
                  f"{r['memory_total_bytes'] / 2**30:>9.2f}")


def measure_memory(n, dtype):
    code = FIT.format(bench=str(Path(__file__).resolve().parent), n=n, dtype=dtype)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=1800, env=env).stdout
    return int(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--interconnect", action="store_true",
                        help="only: measure the allreduce constants of this node")
    parser.add_argument("--higgs", action="store_true",
                        help="only: predicted strong scaling of the paper's HIGGS run")
    parser.add_argument("--json", default="benchmarks/results/plan_check.json")
    args = parser.parse_args()
    if args.interconnect:
        return measure_interconnect()
    if args.higgs:
        return higgs()
    sizes = layer_sizes(28, (300,), 2)
    print(f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    rows = []
    print(f"{'n':>9} {'dtype':>8} {'predicted GiB':>14} {'measured GiB':>13} {'ratio':>6}")
    for n in (200_000, 1_000_000):
        for dtype in ("float32", "float64"):
            predicted = plan(n, 28, (300,), 2, 1, dtype, calibration={"c0": 0, "c1": 0})
            measured = measure_memory(n, dtype)
            ratio = predicted["memory_total_bytes"] / measured
            rows.append({"kind": "memory", "n": n, "dtype": dtype, "ratio": ratio,
                         "predicted": predicted["memory_total_bytes"],
                         "measured": measured, "parts": predicted["memory_bytes"]})
            print(f"{n:>9} {dtype:>8} {predicted['memory_total_bytes'] / 2**30:>14.2f} "
                  f"{measured / 2**30:>13.2f} {ratio:>6.2f}", flush=True)
    n, dtype = 200_000, "float32"
    calibration = calibrate(sizes, dtype)
    X, Y = make_data(n)
    measured = {
        "serial": time_sweeps(SerialBackend(), X, Y, 300, dtype, 5)[0],
        "joblib 2": time_sweeps(JoblibBackend(2), X, Y, 300, dtype, 5)[0],
        "mpi 2": run_mpi(Namespace(n=n, hidden=300, repeats=5, dtype=dtype,
                                   multipliers="all"), 2),
    }
    ranks = {"serial": 1, "joblib 2": 2, "mpi 2": 2}
    print(f"\nseconds per sweep, n={n}, (300,), {dtype}; calibration on "
          f"{calibration['rows']} rows: {calibration['seconds']}")
    print(f"{'backend':>9} {'predicted':>10} {'measured':>9} {'ratio':>6}")
    for name, seconds in measured.items():
        predicted = plan(n, 28, (300,), 2, ranks[name], dtype, calibration=calibration)
        # threads share one process: no allreduce between them
        p = predicted["compute_seconds"] + (predicted["allreduce_seconds"]
                                            if name.startswith("mpi") else 0.0)
        rows.append({"kind": "time", "backend": name, "predicted": p, "measured": seconds,
                     "ratio": p / seconds})
        print(f"{name:>9} {p:>10.3f} {seconds:>9.3f} {p / seconds:>6.2f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": rows, "calibration": calibration},
                                          indent=1, default=float))


if __name__ == "__main__":
    main()

"""Strong scaling and memory of the backends (issue: backends).

Seconds per ADMM sweep with 1 and 2 workers on the same data:
``serial`` pinned to one BLAS thread (1 worker), ``joblib`` with 1 and 2
threads (one BLAS thread each), and ``mpi`` with 1 and 2 ranks (one BLAS
thread each), and with ``--dask`` a ``distributed.LocalCluster`` of 1 and 2
worker processes (one thread each). Median over repeats; prints a table and
writes JSON.

    python benchmarks/scaling.py [--n 200000] [--hidden 300] [--repeats 5] [--runs 3]
    python benchmarks/scaling.py --dask --dtype float32

The MPI rows launch ``mpiexec -n P python benchmarks/scaling.py --mpi-worker``.
With ``--dask`` the bytes a sweep moves between the client and the workers
(pickled pass arguments and results) are counted too, at ``n`` and ``n / 10``
rows, to show that they do not depend on ``n``.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import bytes_per_sweep, make_data, time_sweeps  # noqa: E402

from admm_sklearn._backends import (  # noqa: E402
    DaskBackend,
    JoblibBackend,
    MPIBackend,
    SerialBackend,
)
from admm_sklearn._plan import state_bytes_per_sample  # noqa: E402


def mpi_worker(args):
    comm = MPIBackend()._comm
    rank, size = comm.Get_rank(), comm.Get_size()
    X, Y = make_data(args.n)
    bounds = np.linspace(0, args.n, size + 1).astype(int)
    local = slice(bounds[rank], bounds[rank + 1])
    with threadpool_limits(1):
        t, _ = time_sweeps(MPIBackend(), X[local], Y[local], args.hidden, args.dtype,
                           args.repeats, multipliers=args.multipliers)
    if rank == 0:
        print(json.dumps({"seconds": t}))


def run_mpi(args, ranks):
    mpiexec = Path(sys.executable).with_name("mpiexec")
    cmd = [str(mpiexec if mpiexec.exists() else "mpiexec"), "-n", str(ranks), sys.executable,
           __file__, "--mpi-worker", "--n", str(args.n), "--hidden", str(args.hidden),
           "--repeats", str(args.repeats), "--dtype", args.dtype,
           "--multipliers", args.multipliers]
    # distributed's LocalCluster leaves MALLOC_TRIM_THRESHOLD_=65536 in this
    # process's environment; inherited, it slowed the MPI ranks 1.6x
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["seconds"]


def _local_cluster(workers):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    return cluster, Client(cluster)


def run_dask(args, X, Y, workers):
    cluster, client = _local_cluster(workers)
    with cluster, client:
        return time_sweeps(DaskBackend(client), X, Y, args.hidden, args.dtype, args.repeats,
                           multipliers=args.multipliers)[0]


def dask_bytes(args):
    """Bytes per sweep with 2 workers, at n and n / 10 rows."""
    cluster, client = _local_cluster(2)
    out = []
    with cluster, client:
        for n in (args.n, args.n // 10):
            X, Y = make_data(n)
            sent, received = bytes_per_sweep(DaskBackend(client, count_bytes=True), X, Y,
                                             args.hidden, args.dtype,
                                             multipliers=args.multipliers)
            out.append({"n": n, "bytes_sent": sent, "bytes_received": received})
            print(f"dask, 2 workers, n={n}: {sent:,.0f} bytes sent and {received:,.0f} "
                  f"received per sweep (all workers)")
    return out


def memory(args):
    """Peak RSS of one serial fit-sized run, per 1M samples, against the state size."""
    X, Y = make_data(args.n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    time_sweeps(SerialBackend(), X, Y, args.hidden, args.dtype, repeats=1, warmup=0,
                multipliers=args.multipliers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    theory = state_bytes_per_sample((X.shape[1], args.hidden, 1), args.dtype,
                         args.multipliers)
    per_m = 1e6 / args.n
    print(json.dumps({"n": args.n, "dtype": args.dtype, "hidden": args.hidden,
                      "multipliers": args.multipliers,
                      "peak_rss_mib_per_1M": peak * per_m / 2**20,
                      "peak_rss_after_data_mib_per_1M": (peak - base) * per_m / 2**20,
                      "state_mib_per_1M": theory * 1e6 / 2**20}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3,
                        help="whole tables measured one after another")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--multipliers", default="all", choices=["all", "output", "bregman"])
    parser.add_argument("--mpi-worker", action="store_true")
    parser.add_argument("--dask", action="store_true",
                        help="also a dask LocalCluster with 1 and 2 worker processes")
    parser.add_argument("--memory", action="store_true",
                        help="only: peak RSS of scatter + init + one sweep, serial")
    parser.add_argument("--json", default="benchmarks/results/scaling.json")
    args = parser.parse_args()
    if args.mpi_worker:
        return mpi_worker(args)
    if args.memory:
        return memory(args)
    X, Y = make_data(args.n)
    print(f"n={args.n} d=28 hidden=({args.hidden},) dtype={args.dtype} "
          f"multipliers={args.multipliers}; "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    result = []
    for run in range(args.runs):
        rows = []
        with threadpool_limits(1):
            rows.append(("serial", 1, time_sweeps(SerialBackend(), X, Y, args.hidden,
                                                  args.dtype, args.repeats,
                                                  multipliers=args.multipliers)[0]))
        for k in (1, 2):
            rows.append(("joblib", k, time_sweeps(JoblibBackend(k), X, Y, args.hidden,
                                                  args.dtype, args.repeats,
                                                  multipliers=args.multipliers)[0]))
        for k in (1, 2):
            rows.append(("mpi", k, run_mpi(args, k)))
        if args.dask:
            for k in (1, 2):
                rows.append(("dask", k, run_dask(args, X, Y, k)))
        print(f"run {run + 1} of {args.runs}")
        print(f"{'backend':<8} {'workers':>7} {'s/sweep':>9} {'speed-up':>9}")
        base = {}
        for name, k, t in rows:
            base.setdefault(name, t)
            speedup = base[name] / t
            print(f"{name:<8} {k:>7} {t:>9.3f} {speedup:>9.2f}")
            result.append({"run": run, "backend": name, "workers": k,
                           "seconds_per_sweep": t, "speedup": speedup})
    # Speed-ups are ratios within one run; the noise of this shared machine
    # moves whole runs, so their median over runs is what we quote.
    print("speed-up with 2 workers over runs: " + "; ".join(
        f"{name} median {np.median(ups):.2f} (" + ", ".join(f"{u:.2f}" for u in ups) + ")"
        for name in ("joblib", "mpi") + (("dask",) if args.dask else ())
        for ups in [[r["speedup"] for r in result if r["backend"] == name
                     and r["workers"] == 2]]))
    if args.dask:
        ratios = [next(r["seconds_per_sweep"] for r in result if r["run"] == run
                       and r["backend"] == "dask" and r["workers"] == 2)
                  / next(r["seconds_per_sweep"] for r in result if r["run"] == run
                         and r["backend"] == "mpi" and r["workers"] == 2)
                  for run in range(args.runs)]
        print("dask / mpi seconds per sweep, 2 workers: median "
              f"{np.median(ratios):.2f} (" + ", ".join(f"{q:.2f}" for q in ratios) + ")")
    traffic = dask_bytes(args) if args.dask else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    theory = state_bytes_per_sample((28, args.hidden, 1), args.dtype,
                                    args.multipliers)
    print(f"peak RSS of this process {peak / 2**20:.0f} MiB; state a,z,lambda,x,y(,u,v): "
          f"{theory} bytes/sample = {theory * args.n / 2**20:.0f} MiB")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"n": args.n, "hidden": args.hidden,
                                           "dtype": args.dtype, "rows": result,
                                           "multipliers": args.multipliers,
                                           "peak_rss_bytes": peak,
                                           "dask_bytes_per_sweep": traffic,
                                           "state_bytes_per_sample": theory}, indent=1))


if __name__ == "__main__":
    main()

"""Plan a cluster run: memory and seconds per sweep for P ranks.

``python -m admm_sklearn plan --samples N --features D --hidden 300
--classes K --ranks P`` (or :func:`plan`). Everything that depends on the
machine is measured: a short calibration fits a few sweeps on a sample, on
this machine, and the interpreter's own memory is read from the running
process. Everything that depends on the cluster is modelled:

* memory per rank: the caller's input rows, the per-sample ADMM state
  (counted array by array from the layer sizes), the output refit's
  feature array, and the fixed ``d x d`` parts;
* bytes per sweep: exactly what the engine's reductions move (the shapes
  of the Gram sums of :mod:`admm_sklearn._shard`'s passes, float64);
* seconds per sweep: the calibrated compute time of ``n / P`` rows, plus
  each reduction's allreduce time in the latency-bandwidth (Hockney) model
  of Rabenseifner's algorithm, ``2 ceil(log2 P) alpha + 2 (P - 1) / P m
  beta`` for ``m`` bytes (Thakur, Rabenseifner and Gropp, "Optimization of
  collective communication operations in MPICH", IJHPCA 2005), and one
  latency-only integer allreduce per pass (the ranks' failure check).
"""

import math
import os
import time
from contextlib import contextmanager

import numpy as np

from ._input_schedule import resolve_interval
from ._input_solve import CG_MAX_PRODUCTS, is_mostly_zeros, prefers_direct
from ._shard import OUTPUT_STATS

#: ``(alpha seconds, beta seconds per byte)`` of the allreduce model.
#: ``node``: two MPI ranks on this project's 2-core machine, shared memory,
#: measured by ``benchmarks/plan_check.py --interconnect`` (8 B and 8 MiB
#: Allreduce, medians: 3.1 us and 1.6 ms, two runs). The others are typical
#: published figures:
#: InfiniBand HDR, 200 Gb/s and about 1 us MPI latency (NVIDIA ConnectX-6
#: product brief); 100 Gb Ethernet with RoCE, about 3 us (same source);
#: 10 Gb Ethernet with TCP, about 25 us (a typical MPI ping-pong over a
#: kernel TCP stack).
INTERCONNECTS = {
    "node": (1.6e-6, 1.0 / 5.2e9),
    "infiniband-hdr": (1.0e-6, 1.0 / 25e9),
    "ethernet-100g": (3.0e-6, 1.0 / 12.5e9),
    "ethernet-10g": (25e-6, 1.0 / 1.25e9),
}

_ITEMSIZE = {"float32": 4, "float64": 8}


def layer_sizes(n_features, hidden, n_classes, loss="log_loss"):
    """``(d_0, hidden..., d_L)``: one output unit for two classes (or regression)."""
    outputs = 1 if n_classes <= 2 else n_classes
    return (int(n_features),) + tuple(int(h) for h in hidden) + (outputs,)


def reduction_sizes(sizes, iterative=False, input_interval=1):
    """Float64 entries of each reduction (one allreduce per pass) in a sweep.

    One pass per hidden layer ``l`` (eqs. 6 and 7) returns the cross Gram of
    layer ``l + 1`` (``d_{l+1} x (d_l + 1)``), the Gram of ``a_l`` (``(d_l +
    1)^2``), its penalty (1) and, for ``l = 1`` only, the first layer's cross
    Gram (``d_1 x (d_0 + 1)``); the output pass returns its statistics and,
    without hidden layers, the cross Gram of ``[a_0, 1]``. With the
    ``iterative`` layer-1 solve, each of its Gram products (at most
    ``CG_MAX_PRODUCTS + 1`` a sweep) reduces ``(d_0 + 1) x d_1`` more.
    With ``W_1`` solved every ``input_interval``-th sweep
    (:mod:`~admm_sklearn._input_schedule`), its cross Gram and solve come
    once in that many sweeps: the entries are then the mean per sweep.
    """
    L = len(sizes) - 1
    passes = []
    if iterative:
        passes += [(sizes[0] + 1) * sizes[1] / input_interval] * (CG_MAX_PRODUCTS + 1)
    for layer in range(1, L):
        entries = sizes[layer + 1] * (sizes[layer] + 1) + (sizes[layer] + 1) ** 2 + 1
        if layer == 1:
            entries += sizes[1] * (sizes[0] + 1) / input_interval
        passes.append(entries)
    passes.append(len(OUTPUT_STATS) + (sizes[1] * (sizes[0] + 1) if L == 1 else 0))
    return passes


def bytes_per_sweep(sizes, iterative=False, input_interval=1):
    """Bytes each rank contributes to the sweep's data reductions (the mean
    per sweep with ``input_interval``, see :func:`reduction_sizes`)."""
    return 8 * sum(reduction_sizes(sizes, iterative, input_interval))


def state_bytes_per_sample(sizes, dtype, multipliers="all", weighted=False,
                           stored_per_row=None, input_interval=1):
    """Per-sample ADMM state of one shard: ``x``, targets, every ``z_l``, the
    hidden ``a_l``, ``lambda``, with ``multipliers='all'`` ``u_l, v_l``, and
    with ``input_interval`` above 1 the kept ``W_1 a_0 + b_1``.
    ``stored_per_row``: for sparse inputs, ``x`` is CSR (its values, 4-byte
    column indices, 8-byte row pointers) instead of ``d_0`` values."""
    hidden = sum(sizes[1:-1])
    entries = (sizes[-1] + sum(sizes[1:]) + hidden + sizes[-1]
               + (2 * hidden if multipliers == "all" else 0) + (1 if weighted else 0)
               + (sizes[1] if input_interval > 1 and len(sizes) > 2 else 0))
    itemsize = _ITEMSIZE[dtype]
    if stored_per_row is None:
        return (entries + sizes[0]) * itemsize
    return entries * itemsize + stored_per_row * (itemsize + 4) + 8


def allreduce_seconds(n_bytes, ranks, alpha, beta):
    """Rabenseifner allreduce in the latency-bandwidth model (0 for one rank)."""
    if ranks <= 1:
        return 0.0
    return 2 * math.ceil(math.log2(ranks)) * alpha + 2 * (ranks - 1) / ranks * n_bytes * beta


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def prepared_solver(backend, X, Y, sizes, dtype, warmup=1, warmup_multipliers=True,
                    **solver_params):
    """An :class:`~admm_sklearn._engine.ADMMSolver` on ``backend``'s shards of
    ``(X, Y)``, forward-started and ``warmup`` sweeps in (which compile the
    kernels and warm the caches), inside ``backend.running()``; the shards
    are released on exit. For timing and counting sweeps."""
    from ._engine import ADMMSolver

    backend.scatter(X, Y, dtype)
    solver = ADMMSolver(sizes, dtype=dtype, **solver_params)
    try:
        with backend.running():
            solver.initialize(backend, "forward", seed=0)
            for _ in range(warmup):
                solver.step(backend, warmup_multipliers)
            yield solver
    finally:
        backend.release()


def sweep_seconds(solver, backend, sweeps, group=1):
    """Median seconds per sweep (with multiplier steps) of ``sweeps`` runs
    of ``group`` sweeps each (the solver's ``W_1`` interval: a group then
    holds one solve of every layer)."""
    measured = []
    for _ in range(sweeps):
        start = time.perf_counter()
        for _ in range(group):
            solver.step(backend, True)
        measured.append((time.perf_counter() - start) / group)
    return float(np.median(measured))


def calibrate(sizes, dtype, multipliers="all", rows=(4_000, 24_000), sweeps=3, seed=0,
              stored_per_row=None, input_interval=1):
    """Seconds per sweep ``c0 + c1 n`` of one serial rank, fitted to two sample
    sizes on this machine (random inputs and labels: the cost does not
    depend on the values; CSR with ``stored_per_row`` entries per row if
    given). Takes a few seconds."""
    import scipy.sparse as sp

    from ._backends import SerialBackend

    rng = np.random.default_rng(seed)
    k = sizes[-1]
    times = []
    for n in rows:
        if stored_per_row is None:
            X = rng.standard_normal((n, sizes[0]))
        else:
            X = sp.csr_matrix((rng.uniform(0.5, 1.5, n * stored_per_row),
                               rng.integers(0, sizes[0], n * stored_per_row),
                               np.arange(0, n * stored_per_row + 1, stored_per_row)),
                              shape=(n, sizes[0]))
        Y = np.eye(max(k, 2))[rng.integers(0, max(k, 2), n)][:, :k] if k > 1 else \
            rng.integers(0, 2, (n, 1)).astype(float)
        backend = SerialBackend()  # its running() holds BLAS to one thread
        with prepared_solver(backend, X, Y, sizes, dtype, alpha=1e-3,
                             multipliers=multipliers, loss="log_loss", beta=0.1,
                             beta_hidden=0.1, gamma=0.3,
                             input_interval=input_interval) as solver:
            times.append(sweep_seconds(solver, backend, sweeps, input_interval))
    c1 = (times[1] - times[0]) / (rows[1] - rows[0])
    return {"c0": max(times[0] - c1 * rows[0], 0.0), "c1": max(c1, 0.0), "rows": list(rows),
            "seconds": times}


def plan(n_samples, n_features, hidden=(300,), n_classes=2, ranks=1, dtype="float32",
         multipliers="all", interconnect="node", alpha=None, beta=None,
         input_itemsize=8, calibration=None, max_ranks=100_000, stored_per_row=None):
    """Predicted memory and seconds per sweep of a fit on ``ranks`` MPI ranks.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        The training data (``n_classes=1`` or 2: one output unit).
    hidden : sequence of int
        ``hidden_layer_sizes``.
    ranks : int
        MPI ranks (one shard each; the rows split evenly).
    dtype : {'float32', 'float64'}
        The estimators' ``dtype`` (the per-sample state).
    multipliers : {'all', 'output', 'bregman'}
        As in the estimators (``'all'`` keeps two more hidden-sized arrays).
    interconnect : str
        ``'node'`` (measured on this project's machine), ``'infiniband-hdr'``,
        ``'ethernet-100g'`` or ``'ethernet-10g'`` (typical published figures).
    alpha, beta : float or None
        Allreduce latency (seconds) and inverse bandwidth (seconds per
        byte); ``None``: the interconnect's.
    input_itemsize : int
        Bytes per input value as the caller holds ``X`` (8 for float64).
    calibration : dict or None
        A previous result's ``calibration`` to reuse; ``None`` measures it
        (a few seconds).
    max_ranks : int
        Largest rank count searched for ``communication_bound_ranks``.
    stored_per_row : int or None
        For sparse (CSR) inputs, the mean stored entries per row; ``None``:
        dense inputs. The first layer's solve is then the one the fit would
        choose (``input_solve`` in the report), and the calibration fits
        random CSR rows of that density.

    Returns
    -------
    report : dict
        Memory per rank split into ``data``, ``state``, ``refit``, ``fixed``
        and ``runtime`` bytes (``runtime``: this process's resident memory
        when called; from the command line, a fresh interpreter with the
        package's libraries, what each rank starts with; in a notebook it
        also counts whatever the notebook holds), ``bytes_per_sweep``, ``compute_seconds``,
        ``allreduce_seconds``, ``seconds_per_sweep``, and
        ``communication_bound_ranks``: the smallest power of two of ranks at which
        the allreduce is more than half of a sweep (``None`` below
        ``max_ranks``).
    """
    _check(n_samples, n_features, hidden, n_classes, ranks, dtype, multipliers, interconnect)
    if stored_per_row is not None and not 1 <= stored_per_row <= n_features:
        raise ValueError(f"stored entries per row must be between 1 and the features "
                         f"({n_features}), got {stored_per_row!r}.")
    sizes = layer_sizes(n_features, hidden, n_classes)
    stored = n_samples * (n_features if stored_per_row is None else stored_per_row)
    iterative = not prefers_direct(n_samples, n_features, stored, sizes[1])
    mostly_zeros = stored_per_row is not None and is_mostly_zeros(stored, n_samples,
                                                                   n_features)
    interval = resolve_interval("auto", sizes, mostly_zeros)
    a, b = INTERCONNECTS[interconnect]
    alpha = a if alpha is None else float(alpha)
    beta = b if beta is None else float(beta)
    n_local = math.ceil(n_samples / ranks)
    itemsize = _ITEMSIZE[dtype]
    runtime = _rss_bytes()  # before the calibration's arrays
    if calibration is None:
        calibration = calibrate(sizes, dtype, multipliers, stored_per_row=stored_per_row,
                                input_interval=interval)
    row_bytes = (n_features * input_itemsize if stored_per_row is None
                 else stored_per_row * (input_itemsize + 4) + 8)
    # the d x d parts: four of each Gram's size (the sums, their reduction,
    # a factor); layer 1 solved iteratively holds no input Gram but about
    # five (d_0 + 1) x d_1 arrays instead (W_1, its cross Gram, the solve's
    # result, the reductions' sums; measured, benchmarks/sparse_memory.py)
    fixed = 8 * 4 * sum((d + 1) ** 2 for d in sizes[int(iterative):-1])
    if iterative:
        fixed += 8 * 5 * (sizes[0] + 1) * sizes[1]
    memory = {
        # the rows as the caller holds them, their labels, and the float64
        # encoded targets the estimator keeps during the fit
        "data": n_local * (row_bytes + 8 + 8 * sizes[-1]),
        "state": n_local * state_bytes_per_sample(sizes, dtype, multipliers,
                                                  stored_per_row=stored_per_row,
                                                  input_interval=interval),
        # the output refit's features F (the last hidden layer, forward pass)
        "refit": n_local * max(sizes[1:-1], default=0) * itemsize,
        "fixed": fixed,
        "runtime": runtime,
    }
    per_sweep = bytes_per_sweep(sizes, iterative, interval)

    def seconds(p):
        n = math.ceil(n_samples / p)
        compute = calibration["c0"] + calibration["c1"] * n
        comm = sum(allreduce_seconds(8 * m, p, alpha, beta) + allreduce_seconds(8, p, alpha, 0.0)
                   for m in reduction_sizes(sizes, iterative, interval))
        return compute, comm

    compute, comm = seconds(ranks)
    bound = next((p for p in _doubling(max_ranks) if _comm_dominates(seconds(p))), None)
    return {
        "layer_sizes": sizes, "ranks": ranks, "samples_per_rank": n_local, "dtype": dtype,
        "input_solve": "iterative" if iterative else "direct",
        "memory_bytes": memory, "memory_total_bytes": sum(memory.values()),
        "bytes_per_sweep": per_sweep,
        "reductions_per_sweep": len(reduction_sizes(sizes, iterative)),
        "input_solve_interval": interval,
        "compute_seconds": compute, "allreduce_seconds": comm,
        "seconds_per_sweep": compute + comm, "communication_bound_ranks": bound,
        "alpha": alpha, "beta": beta, "calibration": calibration,
    }


def _doubling(limit):
    p = 1
    while p <= limit:
        yield p
        p *= 2


def _comm_dominates(parts):
    compute, comm = parts
    return comm > compute


def _check(n_samples, n_features, hidden, n_classes, ranks, dtype, multipliers, interconnect):
    def positive(name, value):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")

    for name, value in (("samples", n_samples), ("features", n_features),
                        ("classes", n_classes), ("ranks", ranks)):
        positive(name, value)
    for h in hidden:
        positive("each hidden layer size", h)
    if ranks > n_samples:
        raise ValueError(f"ranks ({ranks}) cannot exceed samples ({n_samples}): every rank "
                         "needs at least one row.")
    if dtype not in _ITEMSIZE:
        raise ValueError(f"dtype must be one of {sorted(_ITEMSIZE)}, got {dtype!r}.")
    if multipliers not in ("all", "output", "bregman"):
        raise ValueError(f"multipliers must be 'all', 'output' or 'bregman', got "
                         f"{multipliers!r}.")
    if interconnect not in INTERCONNECTS:
        raise ValueError(f"interconnect must be one of {sorted(INTERCONNECTS)}, got "
                         f"{interconnect!r}.")


def format_plan(report):
    """The report as the ``plan`` command prints it."""
    gib = 2.0 ** 30
    mem = report["memory_bytes"]
    lines = [
        f"layers {report['layer_sizes']}, {report['ranks']} rank(s), "
        f"{report['samples_per_rank']:,} samples per rank, dtype {report['dtype']}, "
        f"layer 1 solved {report['input_solve']}ly"
        + ("" if report["input_solve_interval"] == 1
           else f", every {report['input_solve_interval']} sweeps"),
        "memory per rank:",
        f"  data (input rows as held)   {mem['data'] / gib:9.3f} GiB",
        f"  per-sample ADMM state       {mem['state'] / gib:9.3f} GiB",
        f"  output refit features       {mem['refit'] / gib:9.3f} GiB",
        f"  fixed d x d parts           {mem['fixed'] / gib:9.3f} GiB",
        f"  interpreter and libraries   {mem['runtime'] / gib:9.3f} GiB (measured here)",
        f"  total                       {report['memory_total_bytes'] / gib:9.3f} GiB",
        f"reductions per sweep: {report['reductions_per_sweep']}, "
        f"{report['bytes_per_sweep']:,.0f} bytes per rank (mean)",
        f"seconds per sweep: {report['seconds_per_sweep']:.4f} = compute "
        f"{report['compute_seconds']:.4f} (calibrated here) + allreduce "
        f"{report['allreduce_seconds']:.6f} (alpha {report['alpha']:.2g} s, "
        f"beta {report['beta']:.2g} s/B)",
    ]
    bound = report["communication_bound_ranks"]
    lines.append("communication exceeds half of a sweep from "
                 + (f"{bound:,} ranks on" if bound else "no power-of-two rank count "
                    "up to 100,000"))
    return "\n".join(lines)


def add_arguments(parser):
    """The ``plan`` command's options."""
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--features", type=int, required=True)
    parser.add_argument("--hidden", default="300", help="comma separated (default: 300)")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--multipliers", default="all")
    parser.add_argument("--interconnect", default="node",
                        help="one of " + ", ".join(sorted(INTERCONNECTS)))
    parser.add_argument("--alpha", type=float, default=None, help="latency, seconds")
    parser.add_argument("--beta", type=float, default=None, help="seconds per byte")
    parser.add_argument("--stored-per-row", type=int, default=None,
                        help="sparse (CSR) inputs: mean stored entries per row")


def run_command(args):
    """``python -m admm_sklearn plan ...``: print the plan; 2 on bad input."""
    try:
        hidden = tuple(int(h) for h in args.hidden.split(",") if h)
        report = plan(args.samples, args.features, hidden, args.classes, args.ranks,
                      args.dtype, args.multipliers, args.interconnect, args.alpha, args.beta,
                      stored_per_row=args.stored_per_row)
    except ValueError as exc:
        print(f"plan: {exc}")
        return 2
    print(format_plan(report))
    return 0

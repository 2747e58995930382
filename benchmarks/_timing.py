"""Shared by the speed and scaling benchmarks: data and sweep timing."""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from admm_sklearn._engine import ADMMSolver  # noqa: E402


def make_data(n, d=28, seed=0):
    """Seeded inputs and a non-linear binary target (column of 0/1 floats)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] > 0).astype(float)[:, None]
    return X, y


def state_bytes(sizes, itemsize, multipliers="all"):
    """Per-sample state: a_0, every z_l, hidden a_l, lambda and targets, plus
    u_l and v_l on the hidden layers with ``multipliers='all'``."""
    hidden = sum(sizes[1:-1])
    extra = 2 * hidden if multipliers == "all" else 0
    return itemsize * (sizes[0] + sum(sizes[1:]) + hidden + 2 * sizes[-1] + extra)


def time_sweeps(backend, X, Y, hidden, dtype, repeats, warmup=2, multipliers="all"):
    """Median seconds of ``repeats`` ADMM sweeps after ``warmup`` unmeasured ones.

    Returns the median and the layer sizes.
    """
    sizes = (X.shape[1],) + tuple(int(h) for h in np.atleast_1d(hidden)) + (Y.shape[1],)
    backend.scatter(X, Y, dtype)
    solver = ADMMSolver(sizes, alpha=1e-3, dtype=dtype, multipliers=multipliers)
    with backend.running():
        solver.initialize(backend, "forward", seed=0)
        for _ in range(warmup):
            solver.step(backend, False)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            solver.step(backend, True)
            times.append(time.perf_counter() - start)
    backend.release()
    return float(np.median(times)), sizes


def bytes_per_sweep(backend, X, Y, hidden, dtype, sweeps=3, multipliers="all"):
    """Pickled bytes a counting backend (``count_bytes=True``) sends and
    receives per sweep, after the set-up and one warm sweep."""
    sizes = (X.shape[1],) + tuple(int(h) for h in np.atleast_1d(hidden)) + (Y.shape[1],)
    backend.scatter(X, Y, dtype)
    solver = ADMMSolver(sizes, alpha=1e-3, dtype=dtype, multipliers=multipliers)
    with backend.running():
        solver.initialize(backend, "forward", seed=0)
        solver.step(backend, True)
        backend.bytes_sent = backend.bytes_received = 0
        for _ in range(sweeps):
            solver.step(backend, True)
    backend.release()
    return backend.bytes_sent / sweeps, backend.bytes_received / sweeps

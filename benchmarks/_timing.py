"""Shared by the speed and scaling benchmarks: data and sweep timing."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from admm_sklearn._plan import prepared_solver, sweep_seconds  # noqa: E402


def make_data(n, d=28, seed=0):
    """Seeded inputs and a non-linear binary target (column of 0/1 floats)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] > 0).astype(float)[:, None]
    return X, y


def _sizes(X, Y, hidden):
    return (X.shape[1],) + tuple(int(h) for h in np.atleast_1d(hidden)) + (Y.shape[1],)


def time_sweeps(backend, X, Y, hidden, dtype, repeats, warmup=2, multipliers="all"):
    """Median seconds of ``repeats`` ADMM sweeps after ``warmup`` unmeasured ones
    (those without multiplier steps).

    Returns the median and the layer sizes.
    """
    sizes = _sizes(X, Y, hidden)
    with prepared_solver(backend, X, Y, sizes, dtype, warmup, warmup_multipliers=False,
                         alpha=1e-3, multipliers=multipliers) as solver:
        return sweep_seconds(solver, backend, repeats), sizes


def bytes_per_sweep(backend, X, Y, hidden, dtype, sweeps=3, multipliers="all"):
    """Pickled bytes a counting backend (``count_bytes=True``) sends and
    receives per sweep, after the set-up and one warm sweep."""
    with prepared_solver(backend, X, Y, _sizes(X, Y, hidden), dtype, alpha=1e-3,
                         multipliers=multipliers) as solver:
        backend.bytes_sent = backend.bytes_received = 0
        for _ in range(sweeps):
            solver.step(backend, True)
    return backend.bytes_sent / sweeps, backend.bytes_received / sweeps

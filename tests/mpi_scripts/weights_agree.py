"""Run under ``mpiexec -n P``: sample weights, the regressor and the unit
passes (both losses) under MPI.

Each rank holds its own rows and their integer weights; the MPI fit must
equal the serial fit of all rows with their weights, and the serial fit of
the rows repeated as often as their weights say (zero: dropped).
"""

import sys

import numpy as np
from mpi4py import MPI

from admm_sklearn import ADMMClassifier, ADMMRegressor

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
task = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(600, 5))
weights = rng.integers(0, 4, size=len(X))
if task == "regression":
    y = np.c_[np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2], 10.0 * X[:, 3] + 50.0]
    estimator = ADMMRegressor
else:
    y = np.where(X[:, 0] * X[:, 1] > 0, "yes", "no")
    estimator = ADMMClassifier
bounds = np.linspace(0, len(X), size + 1).astype(int)
local = slice(bounds[rank], bounds[rank + 1])
params = dict(hidden_layer_sizes=(9,), max_iter=30, n_warmup_iter=5, random_state=3, tol=0.0,
              dtype="float64", unit_refit_passes=5)
mpi = estimator(backend="mpi", **params).fit(X[local], y[local], sample_weight=weights[local])
if rank == 0:
    weighted = estimator(**params).fit(X, y, sample_weight=weights)
    repeated = estimator(**params).fit(np.repeat(X, weights, axis=0),
                                       np.repeat(y, weights, axis=0))
    for ref in (weighted, repeated):
        assert mpi.n_unit_refit_passes_ == ref.n_unit_refit_passes_ == 5
        for c, c_ref in zip(mpi.coefs_ + mpi.intercepts_, ref.coefs_ + ref.intercepts_):
            rel = np.abs(c - c_ref).max() / np.abs(c_ref).max()
            assert rel < 1e-8, rel
print(f"rank {rank}: OK", flush=True)

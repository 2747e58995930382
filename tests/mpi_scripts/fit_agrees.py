"""Run under ``mpiexec -n P``: an MPI fit equals the serial fit of all rows."""

import sys

import numpy as np
import scipy.sparse as sp
from mpi4py import MPI

from admm_sklearn import ADMMClassifier, ADMMRegressor

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
init = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.normal(size=(900, 6))
y = np.where(X[:, 0] * X[:, 1] > 0, "yes", "no").astype("<U5")
y[X[:, 2] > 1.2] = "maybe"
if init == "constant_columns":  # constant everywhere, and on rank 0's rows only
    X[:, 0] = 2.5
    X[: len(X) // 2, 3] = 0.0
bounds = np.linspace(0, len(X), size + 1).astype(int)
local = slice(bounds[rank], bounds[rank + 1])
# "subset": the first sweeps on a random half of the rows, drawn by global
# row index, so the same rows whether they sit on one process or two.
# "early_stopping": each rank holds out a tenth of its rows to choose the
# number of sweeps; the network returned is that many sweeps on all rows
# (jointly: layer by layer, each stage would choose its own count).
# "stopping": the stopping rule ends each stage before max_iter, on the
# training loss summed over ranks. "sparse": CSR rows on each rank, against
# the serial fit of the same rows dense. "iterative": the same with 7% of the
# entries non-zero (layer 1's ridge for sparse data) and layer 1 solved by
# conjugate gradients, whose products reduce over the ranks.
# "held_input": each stage's first layer solved every third sweep only.
# "constant_columns": a column constant on every rank is left out, one
# constant on one rank only is kept, as the serial fit of all rows does.
# Two hidden layers, layer by layer (the default) unless "joint"; three in
# "depth3". "deep_refit" and "depth3": then passes over every layer's units;
# "deep_regression": those of a regressor, whose upper layers' ridge is on
# their features standardised by moments summed over the ranks.
params = dict(hidden_layer_sizes=(12, 7), max_iter=25, n_warmup_iter=5,
              random_state=3, tol=None, dtype="float64",
              init="gaussian" if init == "gaussian" else "forward")
if init in ("joint", "early_stopping"):
    params["deep_training"] = "joint"
if init == "depth3":
    params["hidden_layer_sizes"] = (12, 7, 5)
if init in ("deep_refit", "depth3", "deep_regression"):
    params["deep_refit_passes"] = 4
Estimator = ADMMClassifier
if init == "deep_regression":
    Estimator, y = ADMMRegressor, X[:, 0] * X[:, 1] + np.abs(X[:, 2])
if init == "subset":
    params["start_fraction"] = 0.5
if init == "held_input":  # W_1 solved every third sweep, held between
    params["input_solve_interval"] = 3
if init == "early_stopping":
    params.update(early_stopping=True, n_iter_no_change=10, max_iter=60)
if init == "stopping":
    params.update(tol=1e-2, n_iter_no_change=20, max_iter=400)
if init == "iterative":
    from admm_sklearn import _input_solve

    _input_solve.DIRECT_GRAM_MAX_BYTES = 0
if init in ("sparse", "iterative"):  # each rank passes its own rows as CSR
    X[np.abs(X) < (0.7 if init == "sparse" else 1.8)] = 0.0
    # the sweeps' CSR products only: the unit passes densify the rows (their
    # MPI agreement is the dense cases'), and their active-set steps carry the
    # CSR sums' other order of summation to 1e-7
    params["unit_refit_passes"] = 0
    mpi = ADMMClassifier(backend="mpi", **params).fit(sp.csr_matrix(X[local]), y[local])
else:
    mpi = Estimator(backend="mpi", **params).fit(X[local], y[local])
coefs = comm.allgather([c.copy() for c in mpi.coefs_])
for other in coefs[1:]:
    for c, c0 in zip(other, coefs[0]):
        assert np.array_equal(c, c0), "ranks ended with different models"
if rank == 0:
    if init == "early_stopping":
        params.update(early_stopping=False, max_iter=mpi.n_iter_)
    serial = Estimator(**params).fit(X, y)
    for c, c_ref in zip(mpi.coefs_ + mpi.intercepts_, serial.coefs_ + serial.intercepts_):
        rel = np.abs(c - c_ref).max() / np.abs(c_ref).max()
        assert rel < 1e-8, rel
    if Estimator is ADMMClassifier:
        assert list(mpi.classes_) == ["maybe", "no", "yes"]
    if init == "stopping":  # the rule ended a stage early (budgets: 400 + 200 sweeps)
        assert mpi.n_iter_ == serial.n_iter_ < 600, mpi.n_iter_
    if Estimator is ADMMClassifier:
        assert np.array_equal(mpi.predict(X), serial.predict(X))
    else:  # real outputs: equal to round-off
        np.testing.assert_allclose(mpi.predict(X), serial.predict(X), rtol=1e-8, atol=1e-8)
    if init == "constant_columns":
        assert np.all(mpi.coefs_[0][0] == 0.0) and np.all(mpi.coefs_[0][3] != 0.0)
print(f"rank {rank}: OK", flush=True)

"""The layer-1 weight solve: standardised coordinates, direct and iterative paths."""

import numpy as np
import pytest
import scipy.sparse as sp

from admm_sklearn import ADMMClassifier
from admm_sklearn import _input_solve
from admm_sklearn._backends import JoblibBackend, SerialBackend
from admm_sklearn._engine import ADMMSolver
from admm_sklearn._input_solve import (DirectInputSolve, InputCoordinates,
                                       IterativeInputSolve, make_input_solve)
from admm_sklearn._shard import input_gram_times, input_moments


def _sparse_data(n=400, d=30, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.1, random_state=seed, format="csr") * 2.0
    return X, (np.asarray(X @ rng.normal(size=d)).ravel() > 0.1).astype(float)[:, None]


def _backend(X, Y, w=None, shift=None, shards=1):
    backend = SerialBackend() if shards == 1 else JoblibBackend(n_jobs=shards)
    backend.scatter(X, Y, np.float64, w, shift)
    return backend


def test_coordinates_equal_the_dense_affine_map():
    # Layer 1 is solved in coordinates x' = D x + c; the O(d^2) helpers must
    # equal the dense map T = [[diag(D), c], [0, 1]] applied to the Grams.
    rng = np.random.default_rng(7)
    X = rng.normal(size=(50, 6)) * [1, 10, 1e-3, 5, 1, 2] + [0, 3, -7, 100, 0, 1]
    Z = rng.normal(size=(50, 4))
    X1 = np.hstack([X, np.ones((50, 1))])
    gram, cross = X1.T @ X1, Z.T @ X1
    coordinates = InputCoordinates.from_gram(gram)
    D, c = coordinates.D, coordinates.c
    T = np.zeros((7, 7))
    T[:6, :6], T[:6, 6], T[6, 6] = np.diag(D), c, 1.0
    # (the 1e-3-scaled, offset column cancels digits in either form)
    np.testing.assert_allclose(coordinates.gram(gram), T @ gram @ T.T, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(coordinates.gram_diagonal(), np.diag(T @ gram @ T.T),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(coordinates.cross(cross), cross @ T.T, rtol=1e-12)
    W, b = rng.normal(size=(4, 6)), rng.normal(size=4)
    W_raw, b_raw = coordinates.to_raw(W, b)
    np.testing.assert_allclose(np.column_stack([W_raw, b_raw]), np.column_stack([W, b]) @ T)
    np.testing.assert_allclose(np.column_stack(coordinates.to_standard(W_raw, b_raw)),
                               np.column_stack([W, b]))
    np.testing.assert_allclose((X * D + c).std(axis=0), 1.0, rtol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_moments_and_gram_products_equal_the_formed_gram(sparse, weighted):
    X, Y = _sparse_data()
    rng = np.random.default_rng(1)
    w = rng.uniform(0, 2, X.shape[0]) if weighted else None
    shift = rng.normal(size=X.shape[1])
    backend = _backend(X if sparse else X.toarray(), Y, w, shift)
    dense = np.hstack([X.toarray() - shift, np.ones((X.shape[0], 1))])
    gram = dense.T @ (dense * (1.0 if w is None else w[:, None]))
    P = rng.normal(size=(X.shape[1] + 1, 5))
    top, bottom = backend.map_sum(input_gram_times, P[:-1], P[-1])
    np.testing.assert_allclose(np.vstack([top, bottom]), gram @ P, rtol=1e-10, atol=1e-10)
    counts, colsum, sqsum = backend.map_sum(input_moments)
    np.testing.assert_allclose(counts[0], gram[-1, -1])
    assert counts[1] == X.shape[0]
    assert counts[2] == (X.nnz if sparse else X.shape[0] * X.shape[1])
    assert counts[3] == X.count_nonzero()  # of the inputs as given, not centred
    np.testing.assert_allclose(colsum, gram[:-1, -1], atol=1e-10)
    np.testing.assert_allclose(sqsum, np.diag(gram)[:-1], rtol=1e-10)


@pytest.mark.parametrize("ridge", [0.0, 0.005])
@pytest.mark.parametrize("block_entries", [1 << 22, 64])  # all units at once, one by one
def test_iterative_solve_reaches_the_least_squares_minimiser(monkeypatch, ridge,
                                                              block_entries):
    # brute force: the minimiser of ||Z - W [x'; 1]||^2 + ridge ||W||^2 by lstsq
    monkeypatch.setattr(_input_solve, "CG_BLOCK_ENTRIES", block_entries)
    monkeypatch.setattr(_input_solve, "CG_TOL", 1e-13)
    monkeypatch.setattr(_input_solve, "CG_MAX_PRODUCTS", 200)
    X, Y = _sparse_data()
    backend = _backend(X, Y)
    Z = np.random.default_rng(2).normal(size=(X.shape[0], 3))
    A = np.hstack([X.toarray(), np.ones((X.shape[0], 1))])
    iterative = make_input_solve(backend, 3, "iterative")
    assert isinstance(iterative, IterativeInputSolve)
    Ds = np.r_[iterative.coordinates.D, 1.0]
    As = A * Ds + np.r_[iterative.coordinates.c, 0.0]  # [x'; 1]
    # sparse data: one scale for every column and a larger layer-1 ridge
    assert np.ptp(iterative.coordinates.D) == 0
    assert iterative.ridge_factor == _input_solve.SPARSE_INPUT_RIDGE
    penalty = np.sqrt(ridge * iterative.ridge_factor) * np.eye(A.shape[1])[:-1]
    expected = np.linalg.lstsq(np.vstack([As, penalty]),
                               np.vstack([Z, np.zeros((A.shape[1] - 1, 3))]), rcond=None)[0].T
    W, b = iterative.solve(Z.T @ A, ridge, previous=(np.ones((3, X.shape[1])), np.ones(3)))
    np.testing.assert_allclose(np.column_stack([W, b]), expected, rtol=1e-7, atol=1e-7)
    direct = make_input_solve(backend, 3, "direct")
    assert isinstance(direct, DirectInputSolve)
    if ridge > 0:  # (without a ridge the sparse columns leave the solution non-unique)
        np.testing.assert_allclose(np.column_stack(direct.solve(Z.T @ A, ridge)), expected,
                                   rtol=1e-7, atol=1e-7)


def test_iterative_sweeps_never_increase_the_penalty_objective():
    # each CG step lowers the W_1 subproblem from its warm start, so stopping
    # after a few keeps the multiplier-free sweep monotone
    X, Y = _sparse_data(n=500, d=40)
    solver = ADMMSolver((40, 12, 1), beta=1.0, gamma=10.0, alpha=1e-3, loss="log_loss",
                        input_solve="iterative")
    backend = _backend(X, Y)
    solver.initialize(backend, "forward", seed=3)
    objectives = [solver.step(backend, update_multipliers=False)["objective"]
                  for _ in range(25)]
    diffs = np.diff(objectives)
    assert np.all(diffs <= 1e-9 * np.abs(objectives[:-1])), diffs.max()
    assert objectives[-1] < objectives[0]
    assert max(solver._input.products) <= _input_solve.CG_MAX_PRODUCTS + 1


def test_auto_chooses_by_shape():
    X, Y = _sparse_data(n=2000, d=3000)
    assert isinstance(make_input_solve(_backend(X, Y), 100, "auto"), IterativeInputSolve)
    assert isinstance(make_input_solve(_backend(X.toarray(), Y), 100, "auto"), DirectInputSolve)
    X, Y = _sparse_data(n=200, d=20)
    assert isinstance(make_input_solve(_backend(X, Y), 100, "auto"), DirectInputSolve)
    assert not _input_solve.prefers_direct(10, 20_000, 200, 100)  # a 3.2 GB Gram


def test_mostly_zero_inputs_are_treated_alike_in_either_format():
    X, Y = _sparse_data(n=300, d=40)  # 10% non-zero
    for inputs in (X, X.toarray()):
        made = make_input_solve(_backend(inputs, Y), 10, "direct")
        assert made.ridge_factor == _input_solve.SPARSE_INPUT_RIDGE
        assert np.ptp(made.coordinates.D) == 0
    for d, factor in ((40, 40 / _input_solve.RIDGE_FAN_IN), (10, 1.0)):
        # dense inputs: standardised, the ridge growing with the fan-in past 16
        dense = np.random.default_rng(0).normal(size=(300, d))
        made = make_input_solve(_backend(dense, Y), 10, "direct",
                                fan_in=_input_solve.RIDGE_FAN_IN)
        assert made.ridge_factor == factor and np.ptp(made.coordinates.D) > 0
        assert make_input_solve(_backend(dense, Y), 10, "direct").ridge_factor == 1.0


@pytest.mark.parametrize("backend", ["serial", "joblib"])
def test_iterative_fit_matches_the_direct_fit(monkeypatch, backend):
    X, Y = _sparse_data(n=600, d=50)
    params = dict(hidden_layer_sizes=(10,), max_iter=40, dtype="float64", random_state=0,
                  tol=None, backend=backend, n_jobs=2)
    direct = ADMMClassifier(**params).fit(X, Y.ravel())
    monkeypatch.setattr(_input_solve, "DIRECT_GRAM_MAX_BYTES", 0)
    # the default tolerance: ADMM's path moves, the model does not
    iterative = ADMMClassifier(**params).fit(X, Y.ravel())
    assert np.mean(iterative.predict(X) == direct.predict(X)) >= 0.98
    # solved to round-off, the path is the direct one's
    monkeypatch.setattr(_input_solve, "CG_TOL", 1e-14)
    monkeypatch.setattr(_input_solve, "CG_MAX_PRODUCTS", 200)
    exact = ADMMClassifier(**params).fit(X, Y.ravel())
    for c, c0 in zip(exact.coefs_ + exact.intercepts_, direct.coefs_ + direct.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=0, atol=1e-7 * np.abs(c0).max())


def test_iterative_fit_agrees_across_backends(monkeypatch):
    monkeypatch.setattr(_input_solve, "DIRECT_GRAM_MAX_BYTES", 0)
    X, Y = _sparse_data(n=5000, d=50)
    params = dict(hidden_layer_sizes=(10,), max_iter=20, dtype="float64", random_state=0,
                  tol=None)
    serial = ADMMClassifier(backend="serial", **params).fit(X, Y.ravel())
    joblib = ADMMClassifier(backend="joblib", n_jobs=2, **params).fit(X, Y.ravel())
    for c, c0 in zip(joblib.coefs_ + joblib.intercepts_, serial.coefs_ + serial.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=1e-8, atol=1e-10 * np.abs(c0).max())


@pytest.mark.parametrize("hidden", [(12,), (12, 7)])
def test_weight_change_is_the_largest_relative_move_of_a_sweep(hidden):
    # measured by the engine block by block (layer 1 in place), not from a
    # kept copy: it must equal max_l ||W_l - W_l_prev|| / ||W_l||
    X, Y = _sparse_data(n=400, d=30)
    solver = ADMMSolver((30,) + hidden + (1,), beta=1.0, gamma=10.0, alpha=1e-3,
                        loss="log_loss", balance=False)
    backend = _backend(X.toarray(), Y)
    solver.initialize(backend, "forward", seed=1)
    for _ in range(3):
        before = [W.copy() for W, _ in solver.weights]
        stats = solver.step(backend)
        expected = max(np.linalg.norm(W - P) / np.linalg.norm(W)
                       for P, (W, _) in zip(before, solver.weights))
        assert stats["weight_change"] == pytest.approx(expected, rel=1e-10)


def test_wide_float32_sums_stay_float32_within_a_process():
    # the d x k products of wide sparse inputs (float32 in the shards) are
    # summed in float32; everything else in float64
    from admm_sklearn._backends._base import WIDE_FLOAT32_ENTRIES
    backend = JoblibBackend(n_jobs=2)
    X = np.random.default_rng(0).normal(size=(5000, 3))
    backend.scatter(X, np.zeros((5000, 1)), np.float32)
    assert len(backend.shards) == 2
    wide, small = backend.map_sum(
        lambda shard: (np.ones(WIDE_FLOAT32_ENTRIES, np.float32), np.ones(3, np.float32)))
    assert wide.dtype == np.float32 and small.dtype == np.float64
    assert np.all(wide == 2.0) and np.all(small == 2.0)

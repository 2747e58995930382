"""The log-loss output update and the exact log-loss output refit, each
against a brute-force minimiser (scipy.optimize)."""

import types

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp

from admm_sklearn import _shard
from admm_sklearn._backends import SerialBackend
from admm_sklearn._engine import ADMMSolver
from admm_sklearn._losses import (
    _prox_log_loss,
    log_loss_sum,
    newton_step,
    prox_log_loss,
    prox_squared_error,
    squared_error_sum,
    update_log_loss_outputs,
)


def _row_loss(y, z):
    if len(z) == 1:
        return np.logaddexp(0.0, z[0]) - y[0] * z[0]
    return logsumexp(z) - y @ z


def _rows(n, n_outputs, seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0, 3.0, (n, n_outputs))
    lam = rng.normal(0.0, 1.0, (n, n_outputs))
    if n_outputs == 1:
        y = rng.integers(0, 2, (n, 1)).astype(float)
    else:
        y = np.eye(n_outputs)[rng.integers(0, n_outputs, n)]
    return y, m, lam


@pytest.mark.parametrize("n_outputs", [1, 4])
@pytest.mark.parametrize("beta", [0.02, 1.0, 20.0])
def test_log_loss_output_update_is_the_minimiser(n_outputs, beta):
    y, m, lam = _rows(40, n_outputs, seed=n_outputs)
    z = prox_log_loss(y, m, lam, beta, np.empty_like(m))
    for i in range(len(m)):
        def f(v, i=i):
            return _row_loss(y[i], v) + lam[i] @ v + beta * np.sum((v - m[i]) ** 2)
        ref = minimize(f, m[i], method="BFGS", options={"gtol": 1e-10})
        assert f(z[i]) <= ref.fun + 1e-9 * max(1.0, abs(ref.fun))
        np.testing.assert_allclose(z[i], ref.x, atol=1e-4)


@pytest.mark.parametrize("n_outputs", [1, 5])
def test_compiled_and_numpy_log_loss_updates_agree(n_outputs):
    y, m, lam = _rows(500, n_outputs, seed=3)
    fast, fast_loss = _prox_log_loss(y, m, lam, 0.3, np.empty_like(m))
    ref, ref_loss = _prox_log_loss(y, m, lam, 0.3, np.empty_like(m), compiled=False)
    np.testing.assert_allclose(fast, ref, atol=1e-7)
    assert fast_loss == pytest.approx(ref_loss, rel=1e-10)
    assert log_loss_sum(y, m) == pytest.approx(log_loss_sum(y, m, compiled=False), rel=1e-12)
    # a warm start from any point reaches the same solution
    warm = _prox_log_loss(y, m, lam, 0.3, m.copy() + 5.0, warm=True)[0]
    np.testing.assert_allclose(warm, ref, atol=1e-7)


def _prox_objective(y, m, lam, beta, z):
    """Each row's ``log_loss(z, y) + <lam, z> + beta ||z - m||^2``."""
    z = np.asarray(z, dtype=np.float64)
    return np.array([_row_loss(y[i], z[i]) for i in range(len(z))]) + np.einsum(
        "ij,ij->i", lam, z) + beta * np.square(z - m).sum(axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_outputs", [1, 5])
def test_compiled_and_numpy_newton_steps_agree(n_outputs, dtype):
    y, m, lam = _rows(500, n_outputs, seed=4)
    start = (m + np.random.default_rng(4).normal(0.0, 0.5, m.shape)).astype(dtype)
    m, lam = m.astype(dtype), lam.astype(dtype)
    fast, ref = start.copy(), start.copy()
    fast_failed, fast_loss = newton_step(y, m, lam, 0.3, fast)
    ref_failed, ref_loss = newton_step(y, m, lam, 0.3, ref, compiled=False)
    assert not np.array_equal(fast, start)
    np.testing.assert_array_equal(fast_failed, ref_failed)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(fast, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast_loss, ref_loss, rtol=tol, atol=tol)


@pytest.mark.parametrize("n_outputs", [1, 4])
def test_newton_steps_decrease_the_row_objective_and_reach_the_prox(n_outputs):
    """The output update takes one step per sweep: each must decrease every
    row's prox objective, and repeated steps must land on the exact prox."""
    beta = 0.1
    y, m, lam = _rows(200, n_outputs, seed=5)
    exact = prox_log_loss(y, m, lam, beta, np.empty_like(m))
    z = exact + np.random.default_rng(5).normal(0.0, 0.5, m.shape)
    previous = _prox_objective(y, m, lam, beta, z)
    for _ in range(6):
        failed, row_loss = newton_step(y, m, lam, beta, z)
        assert not failed.any()
        current = _prox_objective(y, m, lam, beta, z)
        assert np.all(current <= previous + 1e-12 * (1.0 + np.abs(previous)))
        previous = current
    np.testing.assert_allclose(row_loss, [_row_loss(y[i], z[i]) for i in range(len(z))],
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(z, exact, atol=1e-8)


def test_output_update_solves_rows_whose_newton_step_fails_exactly():
    """Far from a row's solution the full Newton step can overshoot (the
    logistic curvature vanishes where p saturates); such rows must get the
    exact prox instead, and the returned loss must be the loss there."""
    beta = 0.01
    y, m, lam = _rows(50, 1, seed=6)
    y[:25], m[:25], lam[:25] = 0.0, 0.0, 0.0
    out = m.copy()
    out[:25] = 40.0  # saturated on the wrong side
    failed, _ = newton_step(y, m, lam, beta, out.copy())
    assert failed[:25].all()
    total = update_log_loss_outputs(y, m, lam, beta, out)
    exact = prox_log_loss(y, m, lam, beta, np.empty_like(m))
    np.testing.assert_allclose(out[:25], exact[:25], atol=1e-8)
    assert total == pytest.approx(log_loss_sum(y, out), rel=1e-10)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_log_loss_refit_passes_give_the_objective_gradient_and_hessian(n_classes):
    """The refit's passes against brute force: the summed (weighted) log-loss,
    its gradient by central differences, and Hessian products by central
    differences of that gradient."""
    rng = np.random.default_rng(7)
    n, hidden = 120, 5
    F = np.abs(rng.normal(size=(n, hidden)))
    labels = rng.integers(0, n_classes, n)
    Y = np.eye(n_classes)[labels] if n_classes > 2 else labels[:, None].astype(float)
    k = Y.shape[1]
    w = rng.uniform(0.2, 2.0, n)
    shard = types.SimpleNamespace(polish=(F, None, None), y=Y, w=w)
    V = rng.normal(size=(k, hidden + 1))
    S = rng.normal(size=(k, hidden + 1))

    def loss(V):
        return log_loss_sum(Y, F @ V[:, :-1].T + V[:, -1], w, compiled=False)

    def gradient(V):
        return _shard.logistic_refit_step(shard, V[:, :-1], V[:, -1])[1]

    value, grad = _shard.logistic_refit_step(shard, V[:, :-1], V[:, -1])
    assert value[0] == pytest.approx(loss(V), rel=1e-12)
    eps = 1e-6
    numeric = np.zeros_like(V)
    for idx in np.ndindex(V.shape):
        E = np.zeros_like(V)
        E[idx] = eps
        numeric[idx] = (loss(V + E) - loss(V - E)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)
    gradient(V)  # the products are taken at the point of the last evaluation
    (product,) = _shard.logistic_hessian_product(shard, S[:, :-1], S[:, -1])
    numeric = (gradient(V + eps * S) - gradient(V - eps * S)) / (2 * eps)
    np.testing.assert_allclose(product, numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_loss_output_refit_reaches_the_convex_optimum(n_classes):
    """With the hidden layer frozen, the refit solves min sum log_loss(W F + b)
    + c ||W||^2: compare with L-BFGS on the same convex objective."""
    rng = np.random.default_rng(n_classes)
    n, d, hidden = 200, 4, 6
    X = rng.normal(size=(n, d))
    labels = (X[:, 0] + np.sin(2 * X[:, 1]) > 0).astype(int)
    if n_classes == 3:
        labels = labels + (X[:, 2] > 0.8)
    Y = np.eye(n_classes)[labels] if n_classes > 2 else labels[:, None].astype(float)
    k = Y.shape[1]
    sizes = (d, hidden, k)
    weights = [(rng.normal(size=(o, i)), rng.normal(size=o) * 0.1)
               for i, o in zip(sizes[:-1], sizes[1:])]
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver = ADMMSolver(sizes, "relu", alpha=1e-3, multipliers="all", loss="log_loss")
    solver.initialize(backend, "forward", weights=weights)
    W, b = solver.polish_output(backend, weights, 5000, tol=1e-10)

    F = np.maximum(X @ weights[0][0].T + weights[0][1], 0)
    c = solver.beta * solver.alpha * n

    def objective(wb):
        wb = wb.reshape(k, hidden + 1)
        return log_loss_sum(Y, F @ wb[:, :-1].T + wb[:, -1]) + c * np.sum(wb[:, :-1] ** 2)

    ref = minimize(objective, np.zeros(k * (hidden + 1)), method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10000})
    ours = objective(np.column_stack([W, b]).ravel())
    assert ours <= ref.fun * (1 + 1e-7), (ours, ref.fun)
    assert ours < objective(np.column_stack(weights[1]).ravel())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [1e-3, 1.0, 1e3, 1e6])
@pytest.mark.parametrize("n_outputs", [1, 4])
def test_log_loss_output_update_at_saturation_and_extreme_beta(dtype, beta, n_outputs):
    """|z| up to 1e3 (saturated sigmoid / softmax), tiny and huge beta: the
    solution is stationary, and float32 state gets the float64 solution
    rounded."""
    from scipy.optimize import minimize_scalar
    from scipy.special import expit, softmax

    rng = np.random.default_rng(7)
    y, _, lam = _rows(60, n_outputs, seed=5)
    m = rng.choice([-1e3, -30.0, 0.0, 30.0, 1e3], size=y.shape) + rng.normal(0, 1, y.shape)
    m, lam = m.astype(dtype).astype(float), lam.astype(dtype).astype(float)
    z = _prox_log_loss(y, m, lam, beta, np.empty_like(m))[0]
    p = expit(z) if n_outputs == 1 else softmax(z, axis=1)
    grad = p - y + lam + 2 * beta * (z - m)
    assert np.all(np.abs(grad) <= 1e-6 * (1 + np.abs(lam) + 2 * beta * np.abs(z - m)))
    low = _prox_log_loss(y, m.astype(dtype), lam.astype(dtype), beta,
                         np.empty(m.shape, dtype=dtype))[0]
    np.testing.assert_allclose(low, z, rtol=1e-6, atol=1e-6)
    if n_outputs == 1:  # one dimension: a bounded scalar search is the brute force
        for i in range(len(m)):
            def f(v, i=i):
                return _row_loss(y[i], [v]) + lam[i, 0] * v + beta * (v - m[i, 0]) ** 2
            ref = minimize_scalar(f, bracket=(z[i, 0] - 1.0, z[i, 0] + 1.0),
                                  options={"xtol": 1e-12})
            assert f(z[i, 0]) <= ref.fun + 1e-9 * max(1.0, abs(ref.fun))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [1e-6, 1e-3, 1.0, 1e3, 1e6])
def test_squared_error_output_update_is_the_minimiser(dtype, beta):
    """Closed-form prox of ||z - y||^2 / 2 against a bounded scalar search per
    entry, at |z| up to 1e3 and for tiny and huge beta."""
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(11)
    shape = (30, 2)
    y = rng.normal(0.0, 2.0, shape)
    m = rng.choice([-1e3, -3.0, 0.0, 3.0, 1e3], size=shape) + rng.normal(0, 1, shape)
    lam = rng.normal(0.0, 1.0, shape)
    y, m, lam = (a.astype(dtype) for a in (y, m, lam))
    z = prox_squared_error(y, m, lam, beta, np.empty_like(m))
    assert z.dtype == dtype
    for i, j in np.ndindex(shape):
        yy, mm, ll = float(y[i, j]), float(m[i, j]), float(lam[i, j])

        def f(v, yy=yy, mm=mm, ll=ll):
            return 0.5 * (v - yy) ** 2 + ll * v + beta * (v - mm) ** 2
        ref = minimize_scalar(f, bracket=(min(yy, mm) - 10.0, max(yy, mm) + 10.0),
                              options={"xtol": 1e-14})
        rtol = 1e-5 if dtype == np.float32 else 1e-9
        assert f(float(z[i, j])) <= ref.fun + rtol * max(1.0, abs(ref.fun))
    # the weighted value is the row-weighted sum
    w = rng.uniform(0, 3, shape[0])
    assert squared_error_sum(y, z, w) == pytest.approx(
        float(w @ (0.5 * np.square(z.astype(float) - y).sum(axis=1))), rel=1e-6)


def test_log_loss_refit_on_many_classes_reaches_the_optimum_within_the_default_passes():
    """Newton's method: on a 10-class problem, 100 passes over the data (the
    default budget) come within 1e-6 (relative) of L-BFGS's optimum, where
    the Boehning bound's accelerated steps (the refit before) stayed 2e-4
    above it."""
    rng = np.random.default_rng(3)
    n, d, hidden, k = 600, 6, 12, 10
    X = rng.normal(size=(n, d))
    labels = np.argmax(X @ rng.normal(size=(d, k)) + 0.5 * rng.normal(size=(n, k)), axis=1)
    Y = np.eye(k)[labels]
    sizes = (d, hidden, k)
    weights = [(rng.normal(size=(hidden, d)), np.zeros(hidden)),
               (0.1 * rng.normal(size=(k, hidden)), np.zeros(k))]
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver = ADMMSolver(sizes, "relu", alpha=1e-3, multipliers="all", loss="log_loss")
    solver.initialize(backend, "forward", weights=weights)
    W, b = solver.polish_output(backend, weights, 100, tol=1e-12)

    F = np.maximum(X @ weights[0][0].T, 0)
    c = solver.beta * solver.alpha * n

    def objective(wb):
        wb = wb.reshape(k, hidden + 1)
        return log_loss_sum(Y, F @ wb[:, :-1].T + wb[:, -1]) + c * np.sum(wb[:, :-1] ** 2)

    ref = minimize(objective, np.zeros(k * (hidden + 1)), method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20000, "maxfun": 100000})
    ours = objective(np.column_stack([W, b]).ravel())
    assert ours <= ref.fun * (1 + 1e-6), (ours, ref.fun)


def test_squared_error_output_refit_is_ridge_regression_on_the_features():
    rng = np.random.default_rng(5)
    n, d, hidden = 150, 4, 7
    X = rng.normal(size=(n, d))
    Y = np.c_[np.sin(X[:, 0]) + X[:, 1], X[:, 2] ** 2]
    w = rng.uniform(0.0, 2.0, n)
    sizes = (d, hidden, 2)
    weights = [(rng.normal(size=(o, i)), rng.normal(size=o) * 0.1)
               for i, o in zip(sizes[:-1], sizes[1:])]
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64, sample_weight=w)
    solver = ADMMSolver(sizes, "relu", alpha=1e-2, multipliers="all", loss="squared_error")
    solver.initialize(backend, "forward", weights=weights)
    W, b = solver.polish_output(backend, weights, 1)
    F = np.maximum(X @ weights[0][0].T + weights[0][1], 0)
    c = solver.beta * solver.alpha * w.sum()

    def objective(wb):
        wb = wb.reshape(2, hidden + 1)
        r = F @ wb[:, :-1].T + wb[:, -1] - Y
        return 0.5 * w @ np.square(r).sum(axis=1) + c * np.sum(wb[:, :-1] ** 2)

    ref = minimize(objective, np.zeros(2 * (hidden + 1)), method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 10000})
    ours = objective(np.column_stack([W, b]).ravel())
    assert ours <= ref.fun * (1 + 1e-8), (ours, ref.fun)

"""The first layer's unit refit after the sweeps (admm_sklearn._unit_refit):
each closed-form unit step against a brute-force minimiser, the measured
changes against forward passes, the objective never rising, and where the
passes run; for the squared error and the log-loss (one logistic output,
and a softmax over three)."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.optimize import minimize

from admm_sklearn import ADMMClassifier, ADMMRegressor
from admm_sklearn import _unit_refit as unit_refit
from admm_sklearn._backends import SerialBackend
from admm_sklearn._input_solve import InputCoordinates
from admm_sklearn._kernels import HAVE_NUMBA
from admm_sklearn._losses import LOSSES
from admm_sklearn._unit_refit import (STEP_SCALES, UnitRefit, begin, end, try_unit, unit_step,
                                      unit_system)


#: (loss, output units): the squared error on two targets, the log-loss on
#: one logistic output and on a softmax over three classes
CASES = [("squared_error", 2), ("log_loss", 1), ("log_loss", 3)]


def _problem(n=400, d=3, H=6, k=2, seed=0, weighted=True, loss="squared_error"):
    """A random network on centred rows, its shards and a stand-in solver."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 3.0, 0.5][:d] + 2.0
    F = np.column_stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.abs(X[:, 1]) - 2.0,
                         np.cos(X[:, 1])])
    if loss == "squared_error":
        Y = F[:, :k]
    elif k == 1:  # one logistic output: 0/1
        Y = (F[:, :1] > np.median(F[:, 0])).astype(float)
    else:  # one-hot classes
        Y = np.eye(k)[np.argmax(F[:, :k] / F[:, :k].std(axis=0), axis=1)]
    w = rng.integers(0, 3, size=n).astype(float) if weighted else None
    shift = X.mean(axis=0)
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64, w, shift)
    Xc = X - shift
    total = n if w is None else w.sum()
    ones = np.ones(n) if w is None else w
    coords = InputCoordinates(total, ones @ Xc, ones @ Xc ** 2)
    # the passes fit every row but the held-out ones
    fitted = ones * ~unit_refit.held_out_rows(_standard(Xc, coords), unit_refit.HOLDOUT[loss])
    solver = SimpleNamespace(input_coordinates=coords, input_ridge_factor=1.5, beta=1.0,
                             ridge=lambda: 0.4, loss=loss, layer_sizes=(d, H, k))
    weights = [(rng.normal(size=(H, d)), rng.normal(size=H) * 0.3),
               (rng.normal(size=(k, H)), rng.normal(size=k))]
    return backend, solver, weights, Xc, Y, fitted


def _standard(Xc, coords):
    """The standardised inputs with a column of ones, as the passes hold them."""
    return np.column_stack([Xc * coords.D + coords.c, np.ones(len(Xc))])


def _outputs(refit, theta, W2, b2, Xc):
    return np.maximum(_standard(Xc, refit.coordinates) @ theta.T, 0.0) @ W2.T + b2


def _objective(refit, theta, W2, b2, Xc, Y, ones):
    """``J`` of a network by a forward pass (the module docstring's formula)."""
    return (LOSSES[refit.loss].value(Y, _outputs(refit, theta, W2, b2, Xc), ones)
            + refit.c_in * np.sum(theta ** 2) + refit.c_out * np.sum(W2 ** 2))


def _begin(backend, refit, theta=None):
    theta = refit.theta if theta is None else theta
    return backend.map_sum(begin, theta, refit.coordinates.D, refit.coordinates.c,
                           refit.W2, refit.b2, refit.loss, refit.holdout)


@pytest.mark.parametrize("loss, k", CASES)
def test_unit_step_minimises_the_loss_bound_with_the_active_rows_held(loss, k):
    backend, solver, weights, Xc, Y, ones = _problem(loss=loss, k=k)
    refit = UnitRefit(solver, backend, weights)
    _begin(backend, refit)
    state = backend.shards[0].unit_refit
    for j in (0, 3):
        v = refit.W2[:, j]
        gram, rhs = backend.map_sum(unit_system, j, v, None)
        step = unit_step(refit.kappa * float(v @ v) * gram, rhs, refit.theta[j], refit.c_in)
        active = state.Z[:, j] > 0
        q = state.residuals() @ v

        def held(s):  # the loss's quadratic bound in unit j's change, its active rows fixed
            moved = np.where(active, s @ state.XT, 0.0)
            return (ones @ (-q * moved + 0.5 * refit.kappa * (v @ v) * moved ** 2)
                    + refit.c_in * np.sum((refit.theta[j] + s) ** 2))

        brute = minimize(held, np.zeros_like(step), method="BFGS", options={"gtol": 1e-10}).x
        np.testing.assert_allclose(step, brute, rtol=1e-5, atol=1e-6)
        assert held(step) <= held(brute) + 1e-9
    backend.map(end)


def test_the_bound_is_the_squared_error_itself_and_lies_above_the_log_loss():
    rng = np.random.default_rng(0)
    for name, k in CASES:
        loss = LOSSES[name]
        kappa = loss.curvature(k)
        Y = np.eye(k)[rng.integers(0, k, 200)] if k > 1 else rng.integers(0, 2, (200, 1))
        F, D = rng.normal(size=(200, k)) * 3, rng.normal(size=(200, k)) * 3
        bound = (loss.value(Y, F) - np.sum(loss.residual(Y, F) * D)
                 + 0.5 * kappa * np.sum(D ** 2))
        if name == "squared_error":
            assert loss.value(Y, F + D) == pytest.approx(bound, rel=1e-12)
        else:
            for row in range(200):
                f, d, y = F[row:row + 1], D[row:row + 1], Y[row:row + 1]
                assert loss.value(y, f + d) <= (loss.value(y, f) - np.sum(loss.residual(y, f) * d)
                                                + 0.5 * kappa * np.sum(d ** 2) + 1e-12)


@pytest.mark.parametrize("loss, k", CASES)
def test_tried_changes_and_commits_match_forward_passes(loss, k):
    backend, solver, weights, Xc, Y, ones = _problem(seed=1, loss=loss, k=k)
    refit = UnitRefit(solver, backend, weights)
    (data,) = _begin(backend, refit)
    J0 = _objective(refit, refit.theta, refit.W2, refit.b2, Xc, Y, ones)
    assert refit.objective(data[0]) == pytest.approx(J0, rel=1e-12)
    j, v = 2, refit.W2[:, 2]
    gram, rhs = backend.map_sum(unit_system, j, v, None)
    step = unit_step(refit.kappa * float(v @ v) * gram, rhs, refit.theta[j], refit.c_in)
    (changes,) = backend.map_sum(try_unit, j, step, v)
    state = backend.shards[0].unit_refit
    z, q = state.Z[:, j], state.residuals() @ v
    for scale, change in zip(STEP_SCALES, changes):
        theta = refit.theta.copy()
        theta[j] += scale * step
        penalty = refit.c_in * (np.sum(theta ** 2) - np.sum(refit.theta ** 2))
        J = _objective(refit, theta, refit.W2, refit.b2, Xc, Y, ones)
        # the loss's quadratic bound by a forward pass: d = feature's change
        d = np.maximum(theta[j] @ state.XT, 0.0) - np.maximum(z, 0.0)
        bound = ones @ (d * (0.5 * refit.kappa * (v @ v) * d - q))
        assert change == pytest.approx(bound, rel=1e-9, abs=1e-9)
        if loss == "squared_error":  # its own bound
            assert change + penalty == pytest.approx(J - J0, rel=1e-9, abs=1e-9)
        else:  # above the loss: lowering the bound lowers J
            assert change + penalty >= J - J0 - 1e-9
    # a commit leaves the shard's arrays as a fresh start at the moved unit
    backend.map_sum(unit_system, 0, refit.W2[:, 0], STEP_SCALES[1])
    moved = backend.shards[0].unit_refit
    theta = refit.theta.copy()
    theta[j] += STEP_SCALES[1] * step
    _begin(backend, refit, theta)
    fresh = backend.shards[0].unit_refit
    for name in ("Z", "A", "G", "F"):
        if getattr(fresh, name) is not None:
            np.testing.assert_allclose(getattr(moved, name), getattr(fresh, name), atol=1e-10)
    np.testing.assert_allclose(moved.residuals(), fresh.residuals(), atol=1e-10)
    backend.map(end)


@pytest.mark.parametrize("loss, k", CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_passes_never_raise_the_objective_and_report_the_network_returned(weighted, loss, k):
    backend, solver, weights, Xc, Y, ones = _problem(n=600, seed=2, weighted=weighted,
                                                     loss=loss, k=k)
    refit = UnitRefit(solver, backend, weights)
    (W1, b1), (W2, b2) = refit.run(30)
    J = np.array(refit.objectives)
    assert refit.n_passes == len(J) - 1 > 3
    assert np.all(np.diff(J) <= 1e-12 * J[0])
    assert J[-1] < 0.9 * J[0]
    # the network returned is the pass with the best held-out score (the
    # log-loss), or the last (the squared error, which holds none out)
    best = refit.best_pass
    if refit.holdout:
        assert refit.held_out[best] == min(refit.held_out)
        assert all(h > refit.held_out[best] for h in refit.held_out[:best])
    else:
        assert best == refit.n_passes
    theta = np.column_stack(refit.coordinates.to_standard(W1, b1))
    assert _objective(refit, theta, W2, b2, Xc, Y, ones) == pytest.approx(J[best], rel=1e-10)
    assert backend.shards[0].unit_refit is None  # freed


def test_held_out_rows_are_a_tenth_chosen_by_the_rows_values():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 5))
    X[1::2] = X[::2]  # every row twice
    held = unit_refit.held_out_rows(X, 0.1)
    assert abs(held.mean() - 0.1) < 0.02
    np.testing.assert_array_equal(held[1::2], held[::2])  # equal rows together
    order = rng.permutation(len(X))
    np.testing.assert_array_equal(unit_refit.held_out_rows(X[order], 0.1), held[order])
    # one shard's rows are held out as in the whole: any sharding agrees
    np.testing.assert_array_equal(unit_refit.held_out_rows(X[1000:2500], 0.1), held[1000:2500])
    # the last float64 digits (a sum in another order) move no row
    np.testing.assert_array_equal(unit_refit.held_out_rows(X * (1 + 1e-15), 0.1), held)
    assert not unit_refit.held_out_rows(X, 0.0).any()


def test_regressor_fits_its_training_rows_closer_with_the_passes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=len(X))
    params = dict(hidden_layer_sizes=(20,), max_iter=60, random_state=0)
    without = ADMMRegressor(unit_refit_passes=0, **params).fit(X, y)
    with_passes = ADMMRegressor(**params).fit(X, y)
    assert without.n_unit_refit_passes_ == 0 < with_passes.n_unit_refit_passes_ <= 100
    assert with_passes.score(X, y) > without.score(X, y) + 0.05


def test_passes_are_skipped_where_they_do_not_apply():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 5)), rng.normal(size=200)
    # fewer samples than the first layer's weights (40 * 6 > 200)
    assert ADMMRegressor(hidden_layer_sizes=(40,), max_iter=5).fit(X, y) \
        .n_unit_refit_passes_ == 0
    assert ADMMRegressor(hidden_layer_sizes=(10,), max_iter=5,
                         activation="hard_sigmoid").fit(X, y).n_unit_refit_passes_ == 0
    ran = ADMMRegressor(hidden_layer_sizes=(10,), max_iter=5, unit_refit_passes=2).fit(X, y)
    assert ran.n_unit_refit_passes_ == 2
    # the classifier's run by default, 0 turns them off, and the hinge has
    # no curvature bound
    assert ADMMClassifier(hidden_layer_sizes=(10,), max_iter=5).fit(X, y > 0) \
        .n_unit_refit_passes_ > 0
    assert ADMMClassifier(hidden_layer_sizes=(10,), max_iter=5, unit_refit_passes=0) \
        .fit(X, y > 0).n_unit_refit_passes_ == 0
    assert ADMMClassifier(hidden_layer_sizes=(10,), max_iter=5, loss="hinge",
                          unit_refit_passes=2).fit(X, y > 0).n_unit_refit_passes_ == 0
    assert ADMMClassifier(hidden_layer_sizes=(10,), max_iter=5, unit_refit_passes=2) \
        .fit(X, y > 0).n_unit_refit_passes_ == 2


def test_classifier_fits_its_training_rows_closer_with_the_passes():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(3000, 4))
    y = np.floor(2 * X[:, 0]) + np.floor(2 * X[:, 1])  # a checkerboard's colours
    y = (y % 2 == 0).astype(int) + 2 * (X[:, 2] > 0.5)  # and a third and fourth class
    params = dict(hidden_layer_sizes=(20,), max_iter=60, random_state=0)
    without = ADMMClassifier(unit_refit_passes=0, **params).fit(X, y)
    with_passes = ADMMClassifier(unit_refit_passes=30, **params).fit(X, y)
    assert 0 < with_passes.n_unit_refit_passes_ <= 30
    assert with_passes.score(X, y) > without.score(X, y) + 0.03


def test_passes_end_once_the_held_out_loss_rises_from_the_start():
    backend, solver, weights, *_ = _problem(n=600, seed=2, weighted=False, loss="log_loss", k=1)
    refit = UnitRefit(solver, backend, weights)
    R = unit_refit.RISES
    rising = [1.0 + 0.1 * k for k in range(R + 1)]
    refit.objectives = [1.0]  # J's window cannot end so few passes
    refit.best_pass, refit.held_out = 0, rising
    assert refit._rising() and refit._settled()
    refit.held_out = rising[:-1]  # one rise fewer
    assert not refit._rising()
    refit.held_out = rising[:2] + [rising[1] - 0.01] + rising[3:]  # a fall among them
    assert not refit._rising()
    # once a pass has beaten the sweeps' network, only the patience ends them
    refit.best_pass, refit.held_out = 1, [1.0, 0.5] + [0.6 + 0.1 * k for k in range(R)]
    assert not refit._rising() and not refit._settled()


def test_classifier_passes_keep_the_sweeps_network_where_they_only_fit_noise():
    # labels independent of the inputs: every pass fits noise, the held-out
    # rows' loss rises, and the sweeps' network is returned (a chance dip of
    # the held-out loss would keep a pass: a fixed seed)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(3000, 4)), rng.integers(0, 2, 3000)
    params = dict(hidden_layer_sizes=(20,), max_iter=60, random_state=0)
    without = ADMMClassifier(unit_refit_passes=0, **params).fit(X, y)
    with_passes = ADMMClassifier(unit_refit_passes=30, **params).fit(X, y)
    assert with_passes.n_unit_refit_passes_ > 0
    for ours, sweeps in zip(with_passes.coefs_ + with_passes.intercepts_,
                            without.coefs_ + without.intercepts_):
        np.testing.assert_array_equal(ours, sweeps)


def test_a_deep_fits_first_stage_fits_its_features_under_a_larger_log_loss_ridge(monkeypatch):
    from admm_sklearn import _fit

    made = []  # (features_only, the passes' ridge in units of the solver's, beta)

    class Spy(UnitRefit):
        def __init__(self, solver, backend, weights, features_only=False):
            super().__init__(solver, backend, weights, features_only)
            made.append((features_only, self.c_out / solver.ridge(), solver.beta))

    monkeypatch.setattr(_fit, "UnitRefit", Spy)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(3000, 4))
    y = (np.floor(2 * X[:, 0]) + np.floor(2 * X[:, 1])) % 2
    params = dict(max_iter=20, unit_refit_passes=2, random_state=0)
    ADMMClassifier(hidden_layer_sizes=(20,), **params).fit(X, y)
    ADMMClassifier(hidden_layer_sizes=(20, 10), **params).fit(X, y)  # the upper stage: no passes
    ADMMRegressor(hidden_layer_sizes=(20, 10), **params).fit(X, X[:, 0] * X[:, 1])
    assert [m[0] for m in made] == [False, True, True]
    assert made[0][1] == pytest.approx(unit_refit.LOG_LOSS_RIDGE)
    assert made[1][1] == pytest.approx(unit_refit.FEATURE_STAGE_LOG_LOSS_RIDGE)
    assert made[2][1] == pytest.approx(made[2][2])  # the squared error: the network's


@pytest.mark.skipif(not HAVE_NUMBA, reason="the compiled passes need numba")
@pytest.mark.parametrize("loss, k", CASES)
def test_compiled_passes_equal_the_numpy_reference(monkeypatch, loss, k):
    fitted = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(unit_refit, "unit_rhs", lambda *args: None)
            monkeypatch.setattr(unit_refit, "unit_try", lambda *args: None)
            monkeypatch.setattr(unit_refit, "unit_commit", lambda *args: False)
            monkeypatch.setattr(unit_refit, "unit_commit_logistic", lambda *args: False)
        backend, solver, weights, *_ = _problem(n=500, seed=3, loss=loss, k=k)
        refit = UnitRefit(solver, backend, weights)
        fitted.append((refit.run(8), refit.objectives))
    (ours, J), (reference, J_ref) = fitted
    np.testing.assert_allclose(J, J_ref, rtol=1e-10)
    for (W, b), (W_ref, b_ref) in zip(ours, reference):
        np.testing.assert_allclose(W, W_ref, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(b, b_ref, rtol=1e-8, atol=1e-10)

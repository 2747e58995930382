"""Unit passes through every hidden layer after a layer-wise fit
(admm_sklearn._deep_refit): each unit's closed-form step against a
brute-force minimiser of the loss's bound with the layers above held, the
tried changes and the commits against forward passes, the objective never
rising, and where the passes run; one logistic output and a softmax over
three classes, two and three hidden layers, and the squared error of a
regressor (one and two outputs), whose upper layers take their ridge on
standardised features."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from admm_sklearn import ADMMClassifier, ADMMRegressor
from admm_sklearn import _deep_refit as deep_refit
from admm_sklearn._backends import SerialBackend
from admm_sklearn._deep_refit import (DeepRefit, begin, end, ridge_metric, row_sample,
                                      try_unit, unit_system)
from admm_sklearn._input_solve import InputCoordinates
from admm_sklearn._losses import LOSSES
from admm_sklearn._unit_refit import unit_step

#: (hidden layers, output units)
CASES = [((5, 4), 1), ((4, 3, 3), 3)]
#: ... and of the squared error (the regressor's passes)
REGRESSION_CASES = [((5, 4), 1), ((4, 3, 3), 2)]


def _problem(hidden, k, n=300, d=3, seed=0, weighted=True, loss="log_loss"):
    """A random network on raw rows, its shards (as refine_network scatters
    them) and the driver; the squared error's upper layers take their ridge
    on standardised features, as the regressor's."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 3.0, 0.5][:d] + 2.0
    score = np.column_stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.abs(X[:, 1]) - 2.0,
                             np.cos(X[:, 1])])
    if loss == "squared_error":
        Y = score[:, :k] / score[:, :k].std(axis=0)
    elif k == 1:
        Y = (score[:, :1] > np.median(score[:, 0])).astype(float)
    else:
        Y = np.eye(k)[np.argmax(score[:, :k] / score[:, :k].std(axis=0), axis=1)]
    w = rng.integers(0, 3, size=n).astype(float) if weighted else None
    sizes = (d,) + hidden + (k,)
    coefs = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) * 0.3 + 0.2 for b in sizes[1:]]
    shift = X.mean(axis=0)
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64, w, shift)
    refit = DeepRefit(backend, coefs, intercepts, loss, alpha=1e-2, max_samples=10 ** 6,
                      shift=shift, upper_scale=_upper_scale(loss))
    return backend, refit, X, Y, np.ones(n) if w is None else w


def _upper_scale(loss):
    """How the estimator of ``loss`` scales its upper stages' inputs."""
    return "per_feature" if loss == "squared_error" else "uniform"


def _standard_inputs(refit, X):
    Xs = (X - refit.shift) * refit.coords.D + refit.coords.c
    return np.column_stack([Xs, np.ones(len(X))])


def _forward(refit, thetas, W_out, b_out, X, masks=None):
    """Outputs and pre-activations; ``masks`` (one per hidden layer) hold
    each layer's activity instead of the ReLU's own."""
    a, zs = _standard_inputs(refit, X), []
    for i, theta in enumerate(thetas):
        z = a @ theta.T
        zs.append(z)
        h = z * masks[i] if masks is not None else np.maximum(z, 0.0)
        a = np.column_stack([h, np.ones(len(X))])
    return a[:, :-1] @ W_out.T + b_out, zs


def _bound_change(refit, F_new, F, Y, w):
    """The change of the loss's quadratic bound from ``F`` to ``F_new``."""
    R = LOSSES[refit.loss].residual(Y, F)
    dF = F_new - F
    return float(w @ (0.5 * refit.kappa * np.sum(dF * dF, axis=1) - np.sum(R * dF, axis=1)))


def _objective(refit, thetas, W_out, b_out, X, Y, w, start):
    """``J`` of the network, its upper layers' ridge on their inputs as
    scaled in the network ``start``, from forward passes."""
    F, _ = _forward(refit, thetas, W_out, b_out, X)
    return (LOSSES[refit.loss].value(Y, F, w) + refit.c * np.sum(W_out ** 2)
            + _standardised_ridge(refit, X, w, thetas, start))


def _standardised_ridge(refit, X, w, thetas, start):
    """The ridge on the weights ``thetas``, the upper layers' taken on their
    inputs standardised as they were in the network ``start`` (weighted
    mean and standard deviation of each feature, or one for all with
    ``uniform``, fixed when the passes begin), from forward passes and
    InputCoordinates.to_standard, not the refit's forms."""
    a, total = _standard_inputs(refit, X), 0.0
    for layer, (theta, fixed) in enumerate(zip(thetas, start)):
        if layer > 0:
            A = a[:, :-1]
            coords = InputCoordinates(w.sum(), w @ A, w @ A ** 2,
                                      uniform=refit.upper_scale == "uniform")
            u, b = coords.to_standard(theta[:, :-1], theta[:, -1])
            total += np.sum(u ** 2) + np.sum(b ** 2)
        else:
            total += np.sum(theta ** 2)
        a = np.column_stack([np.maximum(a @ fixed.T, 0.0), np.ones(len(X))])
    return refit.c * total


def _start(backend, refit, share=1.0):
    return backend.map_sum(begin, refit.coords.D, refit.coords.c, refit.thetas,
                           refit.W_out, refit.b_out, refit.loss, share)


@pytest.mark.parametrize("hidden, k, loss", [c + ("log_loss",) for c in CASES]
                         + [c + ("squared_error",) for c in REGRESSION_CASES])
@pytest.mark.parametrize("layer", [0, -2, -1])
def test_unit_step_minimises_the_bound_with_the_layers_above_held(hidden, k, loss, layer):
    backend, refit, X, Y, w = _problem(hidden, k, loss=loss)
    refit.run(0)  # sets up the shards and the ridge forms
    (data,) = _start(backend, refit)
    refit.objectives = [refit.objective(data[0])]
    layer = layer % len(hidden)
    assert (refit.forms[layer] is None) == (layer == 0)
    F, zs = _forward(refit, refit.thetas, refit.W_out, refit.b_out, X)
    masks = [(z > 0).astype(float) for z in zs]
    j = 1
    gram, rhs = backend.map_sum(unit_system, layer, j, None)
    step = unit_step(refit.kappa * gram, rhs, refit.thetas[layer][j], refit.c,
                     refit.forms[layer])

    def bound(s):  # every activity held: the outputs are linear in s
        thetas = [t.copy() for t in refit.thetas]
        thetas[layer][j] += s
        F_new, _ = _forward(refit, thetas, refit.W_out, refit.b_out, X, masks)
        # the ridge where the refit puts it, from forward passes
        ridge = (_standardised_ridge(refit, X, w, thetas, refit.thetas)
                 - _standardised_ridge(refit, X, w, refit.thetas, refit.thetas))
        return _bound_change(refit, F_new, F, Y, w) + ridge

    brute = minimize(bound, np.zeros_like(step), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(step, brute, rtol=1e-4, atol=1e-6)
    assert bound(step) <= bound(brute) + 1e-9
    backend.map(end)


@pytest.mark.parametrize("hidden", [(5, 4), (4, 3, 3)])
def test_compiled_system_of_a_unit_below_the_top_equals_numpy(hidden, monkeypatch):
    pytest.importorskip("numba")  # the compiled loop is for one output unit
    backend, refit, X, Y, w = _problem(hidden, 1)
    _start(backend, refit)
    layer = len(hidden) - 2
    compiled = [backend.map_sum(unit_system, layer, j, None) for j in range(hidden[layer])]
    monkeypatch.setattr(deep_refit, "deep_unit_system", lambda *args: None)
    for j, (gram, rhs) in enumerate(compiled):
        gram_ref, rhs_ref = backend.map_sum(unit_system, layer, j, None)
        np.testing.assert_allclose(gram, gram_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rhs, rhs_ref, rtol=1e-12, atol=1e-12)
    backend.map(end)


@pytest.mark.parametrize("hidden, k", CASES)
def test_tried_changes_and_commits_match_forward_passes(hidden, k):
    backend, refit, X, Y, w = _problem(hidden, k)
    (data,) = _start(backend, refit)
    refit.objectives = [refit.objective(data[0])]
    for layer in range(len(hidden)):
        F, _ = _forward(refit, refit.thetas, refit.W_out, refit.b_out, X)
        gram, rhs = backend.map_sum(unit_system, layer, 0, None)
        step = unit_step(refit.kappa * gram, rhs, refit.thetas[layer][0], refit.c)
        for t in deep_refit.STEP_SCALES:
            (change,) = backend.map_sum(try_unit, layer, 0, step, refit.kappa, t)
            thetas = [th.copy() for th in refit.thetas]
            thetas[layer][0] += t * step
            F_new, _ = _forward(refit, thetas, refit.W_out, refit.b_out, X)
            assert change[0] == pytest.approx(_bound_change(refit, F_new, F, Y, w), rel=1e-9,
                                              abs=1e-9)
        # commit the half step (tried last, as the driver commits); the
        # shard's state then equals a fresh forward pass
        backend.map_sum(try_unit, layer, 0, step, refit.kappa, 0.5)
        refit.thetas[layer][0] += 0.5 * step
        backend.map_sum(unit_system, layer, 1, (layer, 0, 0.5))
        state = backend.shards[0].deep_refit
        F_new, zs = _forward(refit, refit.thetas, refit.W_out, refit.b_out, X)
        np.testing.assert_allclose(state.F, F_new, atol=1e-10)
        np.testing.assert_allclose(state.R, LOSSES["log_loss"].residual(Y, F_new), atol=1e-10)
        for i, z in enumerate(zs):
            np.testing.assert_allclose(state.Z[i], z, atol=1e-10)
            np.testing.assert_array_equal(state.features(i), np.maximum(state.Z[i], 0.0))
    backend.map(end)


@pytest.mark.parametrize("hidden", [(5, 4), (4, 3, 3)])
def test_compiled_tries_and_commits_of_a_unit_below_the_top_equal_numpy(hidden, monkeypatch):
    pytest.importorskip("numba")  # the compiled loops are for one output unit
    layer = len(hidden) - 2

    def tries_and_commit():
        backend, refit, X, Y, w = _problem(hidden, 1)
        _start(backend, refit)
        gram, rhs = backend.map_sum(unit_system, layer, 2, None)
        step = unit_step(refit.kappa * gram, rhs, refit.thetas[layer][2], refit.c)
        changes = [backend.map_sum(try_unit, layer, 2, step, refit.kappa, t)[0][0]
                   for t in deep_refit.STEP_SCALES]
        backend.map_sum(try_unit, layer, 2, step, refit.kappa, 0.5)
        backend.map_sum(unit_system, layer, 0, (layer, 2, 0.5))
        state = backend.shards[0].deep_refit
        return changes, [state.F, state.R] + state.Z + state.inputs[1:] + [state.top]

    compiled = tries_and_commit()
    monkeypatch.setattr(deep_refit, "deep_unit_try", lambda *args: None)
    reference = tries_and_commit()
    np.testing.assert_allclose(compiled[0], reference[0], rtol=1e-12, atol=1e-12)
    for array, array_ref in zip(compiled[1], reference[1]):
        np.testing.assert_allclose(array, array_ref, rtol=1e-12, atol=1e-12)


def test_sampled_top_layer_gram_sums_the_sampled_rows_over_the_share():
    backend, refit, X, Y, w = _problem((5, 4), 1)
    Xs = _standard_inputs(refit, X)
    sample = row_sample(Xs, 0.5)
    assert 0.4 < len(sample) / len(X) < 0.6
    # the same rows whatever the sharding
    np.testing.assert_array_equal(np.concatenate([row_sample(Xs[:100], 0.5),
                                                  100 + row_sample(Xs[100:], 0.5)]), sample)
    _start(backend, refit)
    exact = [backend.map_sum(unit_system, 1, j, None) for j in range(4)]
    backend.map(end)
    _start(backend, refit, share=0.5)
    _, zs = _forward(refit, refit.thetas, refit.W_out, refit.b_out, X)
    A = np.column_stack([np.maximum(zs[0], 0.0), np.ones(len(X))])
    for j, (gram_exact, rhs_exact) in enumerate(exact):
        gram, rhs = backend.map_sum(unit_system, 1, j, None)
        rows = sample[zs[1][sample, j] > 0]
        g = refit.W_out[:, j]
        expected = float(g @ g) * (A[rows].T @ (A[rows] * (w[rows] / 0.5)[:, None]))
        np.testing.assert_allclose(gram, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rhs, rhs_exact, rtol=1e-10, atol=1e-12)
        assert not np.allclose(gram, gram_exact)
    backend.map(end)


def _raw_forward(coefs, intercepts, X):
    a = X
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        a = np.maximum(a @ W + b, 0.0)
    return a @ coefs[-1] + intercepts[-1]


def _accuracy(F, Y, w):
    right = (F[:, 0] > 0) == (Y[:, 0] > 0.5) if F.shape[1] == 1 else \
        np.argmax(F, axis=1) == np.argmax(Y, axis=1)
    return float(w @ right / w.sum())


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("hidden, k", CASES)
def test_passes_never_raise_the_objective_and_return_their_most_accurate_network(
        weighted, hidden, k):
    backend, refit, X, Y, w = _problem(hidden, k, weighted=weighted)
    start = [t.copy() for t in refit.thetas]
    coefs, intercepts = refit.run(6)
    J, acc = np.array(refit.objectives), np.array(refit.accuracies)
    assert len(J) == len(acc) == refit.n_passes + 1
    assert refit.n_passes == 6 or refit.n_passes - refit.best_pass == deep_refit.PATIENCE
    assert np.all(np.diff(J) <= 1e-9 * J[:-1]), J
    assert J[-1] < 0.95 * J[0]
    # the recorded accuracies are the networks' own, and the first best is returned
    F_last, _ = _forward(refit, refit.thetas, refit.W_out, refit.b_out, X)
    assert acc[-1] == pytest.approx(_accuracy(F_last, Y, w), abs=1e-12)
    assert refit.best_pass == int(np.argmax(acc))
    F = _raw_forward(coefs, intercepts, X)
    assert _accuracy(F, Y, w) == pytest.approx(acc.max(), abs=1e-12)
    if refit.best_pass == refit.n_passes:  # the last network, whose J was recorded
        np.testing.assert_allclose(F, F_last, atol=1e-8)
        assert _objective(refit, refit.thetas, refit.W_out, refit.b_out, X, Y, w, start) == \
            pytest.approx(J[-1], rel=1e-9)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("hidden, k", REGRESSION_CASES)
def test_squared_error_passes_never_raise_the_objective_and_return_the_last_network(
        weighted, hidden, k):
    backend, refit, X, Y, w = _problem(hidden, k, weighted=weighted, loss="squared_error")
    start = [t.copy() for t in refit.thetas]
    coefs, intercepts = refit.run(6)
    J = np.array(refit.objectives)
    assert refit.n_passes == refit.best_pass == len(J) - 1 >= 2
    assert np.all(np.diff(J) <= 1e-9 * J[:-1]), J
    assert J[-1] < 0.95 * J[0]
    F = _raw_forward(coefs, intercepts, X)
    F_last, _ = _forward(refit, refit.thetas, refit.W_out, refit.b_out, X)
    np.testing.assert_allclose(F, F_last, atol=1e-8)
    # J: the squared error plus the ridge on standardised features, as fixed
    # by the network the passes started from
    assert _objective(refit, refit.thetas, refit.W_out, refit.b_out, X, Y, w, start) == \
        pytest.approx(J[-1], rel=1e-9)


@pytest.mark.parametrize("uniform", [False, True])
def test_ridge_metric_maps_weights_to_standardised_inputs(uniform):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 4)) * [1.0, 5.0, 0.1, 2.0] + [0.0, 3.0, -1.0, 10.0]
    coords = InputCoordinates(len(A), A.sum(axis=0), (A ** 2).sum(axis=0), uniform=uniform)
    theta = rng.normal(size=(3, 5))
    u, b = coords.to_standard(theta[:, :-1], theta[:, -1])
    np.testing.assert_allclose(theta @ ridge_metric(coords).T, np.column_stack([u, b]),
                               rtol=1e-12, atol=1e-12)
    # the same unit on the inputs as they are and on the standardised ones
    A_std = A * coords.D + coords.c
    np.testing.assert_allclose(A @ theta[:, :-1].T + theta[:, -1], A_std @ u.T + b, atol=1e-10)


def test_passes_that_classify_no_more_rows_right_keep_the_stages_network(monkeypatch):
    # a network that fits its rows, then a ridge far above its data term:
    # J falls as every weight is pulled in, and the training accuracy with it
    monkeypatch.setattr(deep_refit, "MIN_TRAINING_ERROR", 0.0)
    backend, fitting, X, Y, w = _problem((5, 4), 1, weighted=False)
    coefs, intercepts = fitting.run(6)
    refit = DeepRefit(backend, coefs, intercepts, "log_loss", alpha=1.0, max_samples=10 ** 6,
                      shift=fitting.shift, upper_scale="uniform")
    kept = refit.run(10)
    assert refit.best_pass == 0 and refit.n_passes == deep_refit.PATIENCE
    assert refit.objectives[-1] < 0.5 * refit.objectives[0]
    assert max(refit.accuracies[1:]) <= refit.accuracies[0] > refit.accuracies[-1]
    np.testing.assert_allclose(_raw_forward(*kept, X), _raw_forward(coefs, intercepts, X),
                               atol=1e-8)


@pytest.mark.parametrize("hidden, k", CASES)
def test_no_pass_runs_on_a_network_that_misclassifies_too_few_training_rows(
        hidden, k, monkeypatch):
    backend, fitting, X, Y, w = _problem(hidden, k)
    coefs, intercepts = fitting.run(6)
    error = 1.0 - max(fitting.accuracies)

    def refit_with_threshold(threshold, passes):
        monkeypatch.setattr(deep_refit, "MIN_TRAINING_ERROR", threshold)
        refit = DeepRefit(backend, coefs, intercepts, "log_loss", alpha=1e-2,
                          max_samples=10 ** 6, shift=fitting.shift, upper_scale="uniform")
        return refit, refit.run(passes)

    refit, network = refit_with_threshold(error + 1e-9, 10)
    assert refit.n_passes == 0 and refit.accuracies == [pytest.approx(1.0 - error, abs=1e-12)]
    np.testing.assert_allclose(_raw_forward(*network, X), _raw_forward(coefs, intercepts, X),
                               atol=1e-10)
    refit, _ = refit_with_threshold(error - 1e-9, 1)  # at the threshold they run
    assert refit.n_passes == 1


def _checkerboard(n=1200, seed=0):
    X = np.random.default_rng(seed).uniform(0.0, 1.0, (n, 4))
    return X, (np.floor(3 * X[:, 0]) + np.floor(3 * X[:, 1])).astype(int) % 2


def test_deep_passes_refit_every_layer_and_lower_the_training_loss():
    X, y = _checkerboard()
    params = dict(hidden_layer_sizes=(16, 16), max_iter=60, random_state=0, backend="serial")
    stages = ADMMClassifier(**params).fit(X, y)
    refined = ADMMClassifier(**params, deep_refit_passes=10).fit(X, y)
    assert refined.n_unit_refit_passes_ > stages.n_unit_refit_passes_
    # the stages' first layer and the output layer both moved
    assert not np.allclose(refined.coefs_[0], stages.coefs_[0])
    assert not np.allclose(refined.coefs_[-1], stages.coefs_[-1])

    def loss(clf):
        return LOSSES["log_loss"].value(y[:, None].astype(float),
                                        clf.decision_function(X)[:, None]) / len(y)

    assert loss(refined) < loss(stages)
    assert refined.score(X, y) > stages.score(X, y)


def test_deep_passes_only_where_asked_for_deep_dense_networks():
    X, y = _checkerboard(400)
    est = ADMMClassifier(hidden_layer_sizes=(8, 8), deep_refit_passes=5)
    assert deep_refit.applies(est, X, (8, 8))
    assert not deep_refit.applies(ADMMClassifier(), X, (8, 8))  # opt-in
    assert not deep_refit.applies(est, X, (8,))
    assert not deep_refit.applies(est, sp.csr_matrix(X), (8, 8))
    assert not deep_refit.applies(est, np.zeros((10, deep_refit.MAX_INPUTS + 1)), (8, 8))
    for other in (dict(activation="tanh"), dict(loss="hinge")):
        assert not deep_refit.applies(ADMMClassifier(deep_refit_passes=5, **other), X, (8, 8))
    assert not deep_refit.applies(ADMMRegressor(), X, (8, 8))  # opt-in
    assert deep_refit.applies(ADMMRegressor(deep_refit_passes=5), X, (8, 8))
    with pytest.raises(ValueError, match="deep_refit_passes"):
        ADMMRegressor(deep_refit_passes=-1).fit(X, y)
    with pytest.raises(ValueError, match="deep_refit_passes"):
        ADMMClassifier(deep_refit_passes=-1).fit(X, y)


def test_regressor_passes_lower_the_training_error_in_the_users_units():
    X, _ = _checkerboard(800)
    y = 500.0 + 100.0 * (np.sin(6 * X[:, 0]) * np.cos(4 * X[:, 1]) + X[:, 2] ** 2)
    params = dict(hidden_layer_sizes=(16, 16), max_iter=60, random_state=0, backend="serial")
    stages = ADMMRegressor(**params).fit(X, y)
    refined = ADMMRegressor(**params, deep_refit_passes=10).fit(X, y)
    assert refined.n_unit_refit_passes_ > stages.n_unit_refit_passes_
    assert not np.allclose(refined.coefs_[0], stages.coefs_[0])
    # predictions in the user's units: the output layer went back through the
    # target scaling (an offset of 500 would show in R^2)
    np.testing.assert_allclose(refined.predict(X),
                               _raw_forward(refined.coefs_, refined.intercepts_, X)[:, 0])
    assert refined.score(X, y) > stages.score(X, y) + 0.01


def test_warm_start_after_deep_passes_continues_from_the_fitted_network():
    X, y = _checkerboard(400)
    clf = ADMMClassifier((8, 6), backend="serial", warm_start=True, max_iter=20,
                         random_state=0, deep_refit_passes=5)
    clf.fit(X, y)
    assert clf._solver is None  # the last stage's state no longer matches its inputs
    score = clf.score(X, y)
    clf.fit(X, y)
    assert clf.score(X, y) >= score - 0.02


@pytest.mark.parametrize("Estimator", [ADMMClassifier, ADMMRegressor])
def test_deep_passes_agree_across_backends_and_weights_equal_repeated_rows(Estimator):
    X, y = _checkerboard(500)
    if Estimator is ADMMRegressor:
        y = y + X[:, 2]
    params = dict(hidden_layer_sizes=(8, 6, 5), max_iter=30, dtype="float64", random_state=0,
                  deep_refit_passes=4)
    serial = Estimator(backend="serial", **params).fit(X, y)
    assert serial.n_unit_refit_passes_ > 0
    threads = Estimator(backend="joblib", n_jobs=2, **params).fit(X, y)
    for c, c_ref in zip(threads.coefs_ + threads.intercepts_, serial.coefs_ + serial.intercepts_):
        assert np.abs(c - c_ref).max() <= 1e-8 * np.abs(c_ref).max()
    weights = np.random.default_rng(1).integers(0, 3, len(X))
    weighted = Estimator(backend="serial", **params).fit(X, y, sample_weight=weights)
    rows = np.repeat(np.arange(len(X)), weights)
    repeated = Estimator(backend="serial", **params).fit(X[rows], y[rows])
    for c, c_ref in zip(weighted.coefs_ + weighted.intercepts_,
                        repeated.coefs_ + repeated.intercepts_):
        assert np.abs(c - c_ref).max() <= 1e-8 * np.abs(c_ref).max()

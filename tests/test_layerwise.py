"""Deep networks fitted one hidden layer at a time (``deep_training='layerwise'``)."""

import numpy as np
import pytest

from admm_sklearn import PAPER_SETTINGS, ADMMClassifier, ADMMRegressor
from admm_sklearn._fit import _Fit
from admm_sklearn._layerwise import hidden_features

FAST = dict(max_iter=30, n_warmup_iter=5, tol=0.0, dtype="float64", random_state=0)


def _xor(n=1500, seed=0):
    """label = [x0^2 + x1^2 > 1.4] xor [x2 > 0]: needs two non-linear features."""
    X = np.random.default_rng(seed).standard_normal((n, 5))
    return X, ((X[:, 0] ** 2 + X[:, 1] ** 2 > 1.4) ^ (X[:, 2] > 0)).astype(int)


def _assert_same_network(a, b, rtol):
    for c, c_ref in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.abs(c - c_ref).max() <= rtol * np.abs(c_ref).max()


def test_each_stage_fits_one_hidden_layer_on_the_features_below(monkeypatch):
    stages = []
    run = _Fit.run

    def spy(self, X, y, sample_weight, seed=None):
        result = run(self, X, y, sample_weight, seed)
        stages.append((self.hidden, np.array(X), result))
        return result

    monkeypatch.setattr(_Fit, "run", spy)
    X, y = _xor(400)
    clf = ADMMClassifier((8, 6, 5), backend="serial", **FAST).fit(X, y)
    assert [hidden for hidden, _, _ in stages] == [(8,), (6,), (5,)]
    features = X
    for k, (_, stage_input, result) in enumerate(stages):
        np.testing.assert_allclose(stage_input, features, rtol=0, atol=1e-12)
        # the stage's hidden layer is the network's layer k, unchanged after
        np.testing.assert_array_equal(result["coefs_"][k], clf.coefs_[k])
        features = hidden_features(features, clf.coefs_[k], clf.intercepts_[k], "relu")
    # the last stage's output layer is the network's
    np.testing.assert_array_equal(stages[-1][2]["coefs_"][-1], clf.coefs_[-1])
    # the stages above the first run half the sweeps
    assert clf.n_iter_ == 30 + 15 + 15 == len(clf.loss_curve_)
    assert clf.n_layers_ == 5


@pytest.mark.parametrize("estimator, upper_uniform",
                         [(ADMMClassifier, True), (ADMMRegressor, False)])
def test_upper_stages_input_scale_and_no_fan_in_ridge(monkeypatch, estimator, upper_uniform):
    """The classifier's upper stages read their units on one scale for all,
    the regressor's each on its own; neither gets the fan-in ridge."""
    from admm_sklearn import _engine
    from admm_sklearn._input_solve import RIDGE_FAN_IN

    made = []
    make = _engine.make_input_solve

    def spy(*args, **kwargs):
        solve = make(*args, **kwargs)
        made.append(solve)
        return solve

    monkeypatch.setattr(_engine, "make_input_solve", spy)
    X, y = _xor(400)
    X = X * np.array([1.0, 10.0, 0.1, 1.0, 3.0])  # columns of unequal sizes
    estimator(hidden_layer_sizes=(8, 6, 5), backend="serial", **FAST).fit(X, y)
    assert len(made) == 3
    # the network's own inputs: each standardised, the fan-in ridge
    first = made[0].coordinates
    assert not first.uniform and np.ptp(first.D) > 1.0
    assert made[0].ridge_factor == max(1.0, X.shape[1] / RIDGE_FAN_IN)
    for upper in made[1:]:
        assert upper.coordinates.uniform == upper_uniform
        assert (np.ptp(upper.coordinates.D) == 0.0) == upper_uniform
        assert upper.ridge_factor == 1.0


def test_two_hidden_layers_fit_better_than_one_on_a_nonlinear_set():
    X, y = _xor(2000)
    # the stages alone: the unit passes lift one layer to where two are
    params = dict(random_state=0, max_iter=300, unit_refit_passes=0)
    one = ADMMClassifier((32,), **params).fit(X, y)
    two = ADMMClassifier((32, 32), **params).fit(X, y)
    assert two.score(X, y) > one.score(X, y) + 0.02, (two.score(X, y), one.score(X, y))


@pytest.mark.parametrize("estimator", [ADMMClassifier, ADMMRegressor])
def test_layerwise_fit_agrees_across_backends(estimator):
    X, y = _xor(600)
    target = y if estimator is ADMMClassifier else X[:, 0] * X[:, 1]
    serial = estimator(hidden_layer_sizes=(8, 6, 5), backend="serial", **FAST).fit(X, target)
    threads = estimator(hidden_layer_sizes=(8, 6, 5), backend="joblib", n_jobs=2,
                        **FAST).fit(X, target)
    _assert_same_network(threads, serial, rtol=1e-8)


def test_layerwise_sample_weight_equals_repeated_rows():
    X, y = _xor(300)
    weights = np.random.default_rng(1).integers(0, 3, len(X))
    weighted = ADMMClassifier((8, 6), backend="serial", **FAST).fit(X, y, sample_weight=weights)
    rows = np.repeat(np.arange(len(X)), weights)
    repeated = ADMMClassifier((8, 6), backend="serial", **FAST).fit(X[rows], y[rows])
    _assert_same_network(weighted, repeated, rtol=1e-8)


def test_warm_start_keeps_the_lower_layers_and_continues_the_last_stage():
    X, y = _xor(400)
    clf = ADMMClassifier((8, 6), backend="serial", warm_start=True, **{**FAST, "max_iter": 10})
    first = [c.copy() for c in clf.fit(X, y).coefs_]
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], first[0])
    assert not np.allclose(clf.coefs_[1], first[1])
    assert clf.n_iter_ == 10 + 5 + 5 == len(clf.history_["objective"])
    # other hidden sizes: a fresh fit of every stage
    clf.set_params(hidden_layer_sizes=(7, 6)).fit(X, y)
    assert clf.coefs_[0].shape == (5, 7) and clf.n_iter_ == 15


def test_joint_training_sweeps_all_layers_at_once_as_the_paper():
    assert PAPER_SETTINGS["deep_training"] == "joint"
    X, y = _xor(300)
    joint = ADMMClassifier((8, 6), deep_training="joint", **FAST).fit(X, y)
    assert joint.n_iter_ == FAST["max_iter"]
    paper = ADMMClassifier((8, 6), random_state=0, **{**PAPER_SETTINGS, "max_iter": 12})
    assert paper.fit(X, y).n_iter_ == 12


def test_a_failed_deep_fit_leaves_the_fitted_network_intact():
    X, y = _xor(300)
    clf = ADMMClassifier((8, 6), **FAST).fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    with pytest.raises(ValueError):
        clf.fit(np.full_like(X, np.nan), y)
    for c, c_before in zip(clf.coefs_, before):
        np.testing.assert_array_equal(c, c_before)

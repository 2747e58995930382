"""The stopping rule: a fit ends once its network's training loss stalls."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMClassifier, ADMMRegressor
from admm_sklearn._backends import SerialBackend
from admm_sklearn._engine import ADMMSolver, forward
from admm_sklearn._fit import _Fit
from admm_sklearn._stopping import EVERY_TRAINING, PATIENCE_TRAINING, StoppingRule


def _breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _rule_stop(losses, tol, patience, n_warmup):
    """The sweep at which the rule, replayed from ``history_['network_loss']``,
    ends the fit (``None``: it never does): the lowest loss has not fallen by
    ``tol`` for ``patience`` sweeps nor for as many as it took to reach it."""
    best_loss, best_sweep = np.inf, None
    for sweep, loss in enumerate(losses, start=1):
        if not np.isnan(loss):
            assert sweep > n_warmup and sweep % EVERY_TRAINING == 0
            if best_sweep is None or loss < best_loss - tol:
                best_sweep = sweep
            best_loss = min(best_loss, loss)
        if best_sweep is not None and sweep - best_sweep >= max(patience, best_sweep):
            return sweep
    return None


def test_fit_ends_when_the_training_loss_stops_falling_by_tol():
    X, y = _breast_cancer()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it converged
        clf = ADMMClassifier((16,), random_state=0).fit(X, y)
    losses = clf.history_["network_loss"]
    assert clf.n_iter_ < clf.max_iter and len(losses) == clf.n_iter_
    # checked every EVERY_TRAINING sweeps after the warm-up, and stopped at
    # the first sweep where the lowest loss was old enough
    assert _rule_stop(losses, clf.tol, PATIENCE_TRAINING, clf.n_warmup_iter) == clf.n_iter_
    assert clf.score(X, y) > 0.98


def test_tol_none_runs_every_sweep_without_a_warning():
    X, y = _breast_cancer()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = ADMMClassifier((16,), tol=None, max_iter=300, random_state=0).fit(X, y)
    assert clf.n_iter_ == 300 and np.all(np.isnan(clf.history_["network_loss"]))


def test_checks_leave_the_fit_unchanged():
    # A check refits a copy of the output layer; the ADMM state is not touched,
    # so sweeps with checks that never stop equal sweeps without any.
    X, y = make_moons(400, noise=0.3, random_state=0)
    params = dict(hidden_layer_sizes=(12,), max_iter=120, dtype="float64", random_state=0)
    checked = ADMMClassifier(tol=1e-4, n_iter_no_change=10**6, **params).fit(X, y)
    plain = ADMMClassifier(tol=None, **params).fit(X, y)
    assert np.sum(~np.isnan(checked.history_["network_loss"])) == (120 - 20) // EVERY_TRAINING
    for c, c0 in zip(checked.coefs_ + checked.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_array_equal(c, c0)


def test_check_scores_the_training_loss_of_the_refitted_network():
    # brute force: the loss a check reports is the mean log-loss of the
    # network it refitted, computed here by a plain forward pass
    X, y = make_moons(300, noise=0.3, random_state=1)
    Y = y[:, None].astype(float)
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver = ADMMSolver((2, 10, 1), "relu", beta=0.5, gamma=0.3, alpha=1e-3, loss="log_loss",
                        multipliers="all")
    with backend.running():
        solver.initialize(backend, "forward", seed=0)
        for sweep in range(30):
            solver.step(backend, update_multipliers=sweep >= 5)
        (W, b), loss = solver.polish_output(backend, solver.weights, 5, with_loss=True)
    hidden = solver.weights[0]
    logits = forward(X, [hidden[0].T, W.T], [hidden[1], b], "relu")[:, 0]
    expected = log_loss(y, 1.0 / (1.0 + np.exp(-logits)))
    assert loss == pytest.approx(expected, rel=1e-10)


def test_rule_waits_as_long_as_the_fit_took_to_its_lowest_loss():
    rule = StoppingRule.for_fit(tol=1e-3, n_iter_no_change="auto", validation=False)
    assert (rule.every, rule.patience) == (EVERY_TRAINING, PATIENCE_TRAINING)
    rule.record(40, 0.5)
    assert not rule.done(40 + PATIENCE_TRAINING - 1) and rule.done(40 + PATIENCE_TRAINING)
    rule.record(400, 0.3)
    rule.record(420, 0.3 - 0.5e-3)  # lower, but not by tol: the wait counts from 400
    assert rule.best_loss == 0.3 - 0.5e-3
    assert not rule.done(799) and rule.done(800)


def test_training_patience_shrinks_with_the_stages_share_of_the_sweeps():
    """An upper stage of a layer-wise fit runs half the sweeps and waits
    half the automatic patience; a patience the user set is kept."""
    assert StoppingRule.for_fit(1e-3, "auto", False, share=0.5).patience == PATIENCE_TRAINING // 2
    assert StoppingRule.for_fit(1e-3, "auto", False, share=2.0).patience == PATIENCE_TRAINING
    assert StoppingRule.for_fit(1e-3, "auto", False, share=1e-3).patience == EVERY_TRAINING
    assert StoppingRule.for_fit(1e-3, 7, False, share=0.5).patience == 7
    assert StoppingRule.for_fit(1e-3, "auto", True, share=0.5).patience == 400


def test_upper_stages_stop_after_half_the_patience(monkeypatch):
    """A (20, 20) fit on separable digits: its second stage stops sooner with
    the stage's share of the patience than with the whole of it."""
    X, y = load_digits(n_class=3, return_X_y=True)
    params = dict(hidden_layer_sizes=(20, 20), random_state=0)
    shared = ADMMClassifier(**params).fit(X, y)
    original = StoppingRule.for_fit.__func__
    monkeypatch.setattr(StoppingRule, "for_fit", classmethod(
        lambda cls, tol, n, validation, share=1.0: original(cls, tol, n, validation)))
    whole = ADMMClassifier(**params).fit(X, y)
    assert shared.n_iter_ < whole.n_iter_
    assert shared.score(X, y) == 1.0


def test_validation_rule_keeps_a_fixed_patience():
    rule = StoppingRule.for_fit(tol=None, n_iter_no_change="auto", validation=True)
    assert (rule.every, rule.patience, rule.tol, rule.growing) == (10, 400, 0.0, False)
    rule.record(1000, 0.2)
    assert rule.done(1400)
    assert StoppingRule.for_fit(1e-3, 7, validation=True).patience == 7
    assert StoppingRule.for_fit(1e-3, 7, validation=False).patience == 7


def test_regressor_stops_on_its_squared_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = X[:, 0] - 2 * X[:, 1] + 0.01 * rng.normal(size=500)
    assert ADMMRegressor().tol == 1e-3
    reg = ADMMRegressor(hidden_layer_sizes=(8,), tol=1e-3, random_state=0).fit(X, y)
    assert reg.n_iter_ < reg.max_iter
    assert _rule_stop(reg.history_["network_loss"], reg.tol, PATIENCE_TRAINING,
                      reg.n_warmup_iter) == reg.n_iter_
    assert reg.score(X, y) > 0.99


def test_each_layerwise_stage_stops_on_its_own(monkeypatch):
    X, y = _breast_cancer()
    stages = []
    run = _Fit.run

    def spy(self, *args, **kwargs):
        result = run(self, *args, **kwargs)
        stages.append((self.max_iter, result["n_iter_"]))
        return result

    monkeypatch.setattr(_Fit, "run", spy)
    ADMMClassifier((16, 8), random_state=0).fit(X, y)
    # the first stage up to 800 sweeps, the second up to 400: both end early
    assert [budget for budget, _ in stages] == [800, 400]
    assert all(n_sweeps < budget for budget, n_sweeps in stages), stages

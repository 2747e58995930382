"""ADMMRegressor: the same solver for regression, in scikit-learn workflows."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMRegressor


def _friedman(n=1500, seed=0):
    X, y = make_friedman1(n_samples=n, noise=0.5, random_state=seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def test_default_learns_a_non_linear_function_beyond_ridge():
    X_tr, X_te, y_tr, y_te = _friedman()
    reg = ADMMRegressor(random_state=0).fit(X_tr, y_tr)
    ridge = Ridge().fit(X_tr, y_tr).score(X_te, y_te)
    assert reg.score(X_te, y_te) > max(0.85, ridge + 0.1)


def test_fitted_attributes_follow_mlpregressor_layout():
    X_tr, _, y_tr, _ = _friedman(300)
    reg = ADMMRegressor(hidden_layer_sizes=(7, 5), max_iter=15, random_state=0)
    mlp = MLPRegressor(hidden_layer_sizes=(7, 5), max_iter=15, random_state=0)
    reg.fit(X_tr, y_tr)
    mlp.fit(X_tr, y_tr)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(reg, name) == getattr(mlp, name), name
    assert [c.shape for c in reg.coefs_] == [c.shape for c in mlp.coefs_]
    assert [b.shape for b in reg.intercepts_] == [b.shape for b in mlp.intercepts_]
    assert reg.predict(X_tr).shape == mlp.predict(X_tr).shape == (len(X_tr),)
    # layer by layer (the default): max_iter sweeps, then half as many
    assert len(reg.loss_curve_) == reg.n_iter_ == 15 + 7


def test_multi_output_targets_in_any_units():
    """Targets are standardised inside: scaling and shifting y scales and
    shifts the predictions, column by column, and nothing else."""
    X_tr, X_te, y_tr, _ = _friedman(600)
    Y = np.c_[y_tr, np.sin(X_tr[:, 0])]
    params = dict(hidden_layer_sizes=(16,), max_iter=40, random_state=0, dtype="float64")
    reg = ADMMRegressor(**params).fit(X_tr, Y)
    assert reg.predict(X_te).shape == (len(X_te), 2) and reg.n_outputs_ == 2
    scale, shift = np.array([1e4, 1e-3]), np.array([-5e3, 7.0])
    moved = ADMMRegressor(**params).fit(X_tr, Y * scale + shift)
    expected = reg.predict(X_te) * scale + shift
    for k in range(2):
        np.testing.assert_allclose(moved.predict(X_te)[:, k], expected[:, k], rtol=1e-7,
                                   atol=1e-7 * abs(shift[k]))
    assert reg.score(X_tr, Y) == pytest.approx(moved.score(X_tr, Y * scale + shift), abs=1e-9)


def test_constant_target_is_predicted_exactly():
    X_tr, X_te, _, _ = _friedman(200)
    reg = ADMMRegressor(hidden_layer_sizes=(5,), max_iter=10, random_state=0, dtype="float64")
    reg.fit(X_tr, np.full(len(X_tr), 3.5))
    np.testing.assert_allclose(reg.predict(X_te), 3.5, atol=1e-8)


def test_early_stopping_scores_r2_on_held_out_rows():
    X_tr, _, y_tr, _ = _friedman(800)
    reg = ADMMRegressor(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=30,
                        max_iter=150, random_state=0).fit(X_tr, y_tr)
    # squared error chooses; for one target it orders networks as R^2 does
    losses = [v for v in reg.history_["validation_loss"] if not np.isnan(v)]
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.validation_scores_[int(np.argmin(losses))] == reg.best_validation_score_
    assert 0.5 < reg.best_validation_score_ <= 1.0


def test_warm_start_continues_the_same_fit():
    X_tr, _, y_tr, _ = _friedman(400)
    once = ADMMRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0, dtype="float64")
    once.fit(X_tr, y_tr)
    twice = ADMMRegressor(hidden_layer_sizes=(8,), max_iter=10, warm_start=True, random_state=0,
                          dtype="float64")
    twice.fit(X_tr, y_tr).fit(X_tr, y_tr)
    assert twice.n_iter_ == 20
    for c, c0 in zip(twice.coefs_ + twice.intercepts_, once.coefs_ + once.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=1e-10, atol=1e-12)


def test_joblib_backend_equals_serial():
    X_tr, _, y_tr, _ = _friedman(3000)
    serial = ADMMRegressor(hidden_layer_sizes=(12,), max_iter=15, random_state=0,
                           dtype="float64")
    serial.fit(X_tr, y_tr)
    threads = ADMMRegressor(hidden_layer_sizes=(12,), max_iter=15, backend="joblib", n_jobs=2,
                            random_state=0, dtype="float64").fit(X_tr, y_tr)
    for c, c0 in zip(threads.coefs_ + threads.intercepts_, serial.coefs_ + serial.intercepts_):
        assert np.abs(c - c0).max() <= 1e-8 * np.abs(c0).max()


def test_pipeline_grid_search_and_cross_validation():
    X, y = make_friedman1(n_samples=400, noise=0.5, random_state=0)
    pipe = make_pipeline(StandardScaler(),
                         ADMMRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0))
    search = GridSearchCV(pipe, {"admmregressor__alpha": [1e-3, 1e-1]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.5
    scores = cross_val_score(clone(pipe), X, y, cv=3, scoring="neg_mean_squared_error")
    assert np.all(np.isfinite(scores))


def test_classification_losses_are_refused():
    X_tr, _, y_tr, _ = _friedman(100)
    with pytest.raises(ValueError, match="loss"):
        ADMMRegressor(loss="log_loss").fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="NaN|finite"):
        ADMMRegressor().fit(X_tr, np.where(y_tr > 10, np.nan, y_tr))

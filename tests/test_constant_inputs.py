"""Constant input columns are left out of the fit, and the model is the same."""

import numpy as np
import pytest
import scipy.sparse as sp

from admm_sklearn import ADMMClassifier, ADMMRegressor
from admm_sklearn._backends import SerialBackend
from admm_sklearn._constant_inputs import varying_columns

PARAMS = dict(hidden_layer_sizes=(8,), max_iter=30, tol=None, random_state=0,
              dtype="float64", n_warmup_iter=5)


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)
    return X, y


def _with_constants(X):
    """X with constant columns between its own: zeros, 3.0 and 0.1 (whose
    float mean is not exactly 0.1), at positions 0, 3 and 7."""
    n = len(X)
    cols = [np.zeros(n), X[:, 0], X[:, 1], np.full(n, 3.0), X[:, 2], X[:, 3], X[:, 4],
            np.full(n, 0.1)]
    return np.column_stack(cols), [1, 2, 4, 5, 6]


@pytest.mark.parametrize("estimator", [ADMMClassifier, ADMMRegressor])
@pytest.mark.parametrize("extra", [{}, {"hidden_layer_sizes": (8, 6)}, {"init": "gaussian"}])
def test_constant_columns_change_nothing_but_their_zero_weights(estimator, extra):
    X, y = _data()
    target = y if estimator is ADMMClassifier else X[:, 0] * X[:, 1]
    wide, varying = _with_constants(X)
    params = {**PARAMS, **extra}
    plain = estimator(**params).fit(X, target)
    padded = estimator(**params).fit(wide, target)
    assert padded.coefs_[0].shape == (8, params["hidden_layer_sizes"][0])
    np.testing.assert_array_equal(np.delete(padded.coefs_[0], varying, axis=0), 0.0)
    np.testing.assert_allclose(padded.coefs_[0][varying], plain.coefs_[0], rtol=1e-10,
                               atol=1e-12)
    for c, c0 in zip(padded.coefs_[1:] + padded.intercepts_, plain.coefs_[1:]
                     + plain.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(padded.predict(wide), plain.predict(X))


def test_varying_columns_uses_the_solvers_bound_and_keeps_all_or_none():
    X, _ = _data()
    wide, varying = _with_constants(X)
    backend = SerialBackend()
    mean = wide.mean(axis=0)
    np.testing.assert_array_equal(varying_columns(wide, mean, len(wide), backend), varying)
    assert varying_columns(X, X.mean(axis=0), len(X), backend) is None  # all vary
    ones = np.ones((10, 3))
    assert varying_columns(ones, ones.mean(axis=0), 10, backend) is None  # none varies
    assert varying_columns(sp.csr_matrix(wide), mean, len(wide), backend) is None
    assert varying_columns(wide, mean, None, backend) is None  # dask input


def test_warm_start_and_early_stopping_with_constant_columns():
    X, y = _data()
    wide, varying = _with_constants(X)
    once = ADMMClassifier(**{**PARAMS, "max_iter": 20}).fit(wide, y)
    split = ADMMClassifier(**{**PARAMS, "max_iter": 10}, warm_start=True).fit(wide, y)
    split.fit(wide, y)  # the kept state resumes on the kept columns
    assert split.n_iter_ == 20
    for c, c0 in zip(split.coefs_ + split.intercepts_, once.coefs_ + once.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=1e-10, atol=1e-12)
    # new data whose other columns vary: restarts from the fitted weights
    split.fit(wide + np.linspace(0, 1, len(wide))[:, None], y)
    assert np.all(split.coefs_[0][0] != 0.0)
    # early stopping scores the held-out rows with the widened network
    early = ADMMClassifier(**{**PARAMS, "max_iter": 60}, early_stopping=True,
                           n_iter_no_change=10).fit(wide, y)
    np.testing.assert_array_equal(np.delete(early.coefs_[0], varying, axis=0), 0.0)
    assert early.best_validation_score_ > 0.6

"""Which sweeps solve the first layer: the schedule and what 'auto' picks."""

import numpy as np
import pytest
import scipy.sparse as sp

from admm_sklearn import ADMMClassifier
from admm_sklearn._input_schedule import (WIDE_INPUT_INTERVAL, WIDE_INPUT_RATIO, input_step,
                                          resolve_interval)


def test_every_sweep_solves_and_forms_the_cross_gram_at_interval_one():
    assert [input_step(1, s) for s in range(3)] == [(True, True)] * 3


def test_the_cross_gram_is_formed_on_the_sweep_before_each_solve():
    steps = [input_step(3, s) for s in range(7)]
    assert steps == [(True, False), (False, False), (False, True), (True, False),
                     (False, False), (False, True), (True, False)]


@pytest.mark.parametrize("sizes,mostly_zeros,expected", [
    ((4 * 100, 100, 10), False, WIDE_INPUT_INTERVAL),  # wide dense inputs
    ((4 * 100 - 1, 100, 10), False, 1),                # narrower than the ratio
    ((16, 100, 26), False, 1),
    ((20_000, 100, 2), True, 1),                       # text: stored entries cost
    ((784, 10), False, 1),                             # no hidden layer
])
def test_auto_holds_the_input_layer_only_on_wide_dense_inputs(sizes, mostly_zeros, expected):
    assert WIDE_INPUT_RATIO == 4
    assert resolve_interval("auto", sizes, mostly_zeros) == expected
    assert resolve_interval(3, sizes, mostly_zeros) == (3 if len(sizes) > 2 else 1)


def _wide(n=300, d=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)


def test_estimator_auto_is_the_interval_for_the_shape_of_its_inputs():
    X, y = _wide()  # 48 inputs, 12 units: wide
    params = dict(hidden_layer_sizes=(12,), max_iter=30, tol=None, random_state=0,
                  dtype="float64")
    auto = ADMMClassifier(**params).fit(X, y)
    held = ADMMClassifier(input_solve_interval=2, **params).fit(X, y)
    every = ADMMClassifier(input_solve_interval=1, **params).fit(X, y)
    for c, c0 in zip(auto.coefs_ + auto.intercepts_, held.coefs_ + held.intercepts_):
        np.testing.assert_array_equal(c, c0)
    assert not np.allclose(auto.coefs_[0], every.coefs_[0])
    # wider hidden layer: narrow inputs, every sweep
    params["hidden_layer_sizes"] = (13,)
    auto = ADMMClassifier(**params).fit(X, y)
    every = ADMMClassifier(input_solve_interval=1, **params).fit(X, y)
    np.testing.assert_array_equal(auto.coefs_[0], every.coefs_[0])


def test_sparse_and_dense_storage_of_wide_sparse_data_give_one_model():
    X, y = _wide(d=60)
    X[np.abs(X) < 1.8] = 0.0  # 7% stored: sparse data, every sweep either way
    params = dict(hidden_layer_sizes=(10,), max_iter=20, tol=None, random_state=0,
                  dtype="float64")
    dense = ADMMClassifier(**params).fit(X, y)
    sparse = ADMMClassifier(**params).fit(sp.csr_matrix(X), y)
    for c, c0 in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=0, atol=1e-10 * np.abs(c0).max())


def test_input_solve_interval_is_validated():
    X, y = _wide()
    with pytest.raises(ValueError, match="input_solve_interval"):
        ADMMClassifier(input_solve_interval=0).fit(X, y)
    with pytest.raises(ValueError, match="input_solve_interval"):
        ADMMClassifier(input_solve_interval="sometimes").fit(X, y)

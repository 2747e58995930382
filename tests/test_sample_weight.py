"""sample_weight: integer weights are repeated rows, zero weights dropped rows,
for both estimators and every in-process backend (MPI: tests/test_mpi.py)."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMClassifier, ADMMRegressor
from admm_sklearn._backends import SerialBackend
from admm_sklearn._engine import ADMMSolver


def _data(task, n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    if task == "regression":
        return X, np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    return X, np.where(X[:, 0] * X[:, 1] > 0, "a", np.where(X[:, 2] > 0.5, "b", "c"))


ESTIMATORS = {"classification": ADMMClassifier, "regression": ADMMRegressor}
LOSSES = [("classification", "log_loss"), ("classification", "hinge"),
          ("regression", "squared_error")]


def _assert_same_model(a, b, rtol=1e-8):
    for c, c0 in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.abs(c - c0).max() <= rtol * np.abs(c0).max()


@pytest.mark.parametrize("task,loss", LOSSES)
@pytest.mark.parametrize("backend,n_jobs", [("serial", None), ("joblib", 2)])
def test_integer_weights_equal_repeated_rows(task, loss, backend, n_jobs):
    X, y = _data(task, n=2500)
    weights = np.random.default_rng(1).integers(0, 4, size=len(X))
    params = dict(hidden_layer_sizes=(10,), loss=loss, max_iter=30, random_state=0,
                  backend=backend, n_jobs=n_jobs, dtype="float64")
    est = ESTIMATORS[task]
    weighted = est(**params).fit(X, y, sample_weight=weights)
    repeated = est(**params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    _assert_same_model(weighted, repeated)
    # and zero weights are dropped rows
    kept = weights > 0
    dropped = est(**params).fit(X[kept], y[kept], sample_weight=weights[kept])
    _assert_same_model(weighted, dropped)


@pytest.mark.parametrize("task,loss", LOSSES)
def test_unit_weights_change_nothing(task, loss):
    X, y = _data(task)
    est = ESTIMATORS[task](hidden_layer_sizes=(6,), loss=loss, max_iter=15, random_state=0,
                           dtype="float64")
    plain = est.fit(X, y).coefs_
    ones = est.fit(X, y, sample_weight=np.ones(len(X))).coefs_
    for c, c0 in zip(ones, plain):
        np.testing.assert_allclose(c, c0, rtol=1e-10, atol=1e-12)


def test_weights_shift_the_fit_towards_the_heavy_rows():
    X, y = _data("classification")
    heavy = y == "a"
    w = np.where(heavy, 20.0, 1.0)
    clf = ADMMClassifier((8,), max_iter=60, random_state=0)
    plain = np.mean(clf.fit(X, y).predict(X)[heavy] == "a")
    weighted = np.mean(clf.fit(X, y, sample_weight=w).predict(X)[heavy] == "a")
    assert weighted > plain


@pytest.mark.parametrize("weights,message", [
    (lambda n: -np.ones(n), "Negative"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
    (lambda n: np.r_[np.inf, np.ones(n - 1)], "infinity"),
    (lambda n: np.zeros(n), "sums to zero"),
    (lambda n: np.ones(n - 1), "sample_weight"),
])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_bad_weights_are_a_clear_value_error(weights, message, task):
    X, y = _data(task, n=50)
    est = ESTIMATORS[task](hidden_layer_sizes=(4,), max_iter=5).fit(X, y)
    before = [c.copy() for c in est.coefs_]
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, sample_weight=weights(len(X)))
    # a failed fit leaves the fitted model as it was
    for c, c0 in zip(est.coefs_, before):
        np.testing.assert_array_equal(c, c0)


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "squared_error"])
def test_weighted_penalty_objective_never_increases_without_multipliers(loss):
    X, y = _data("regression", n=400)
    Y = y[:, None] if loss == "squared_error" else (y > 0).astype(float)[:, None]
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64, sample_weight=np.random.default_rng(2).uniform(0, 3, 400))
    solver = ADMMSolver((5, 12, 1), "relu", beta=1.0, gamma=10.0, alpha=1e-3,
                        multipliers="all", loss=loss)
    solver.initialize(backend, "forward", seed=3)
    objectives = [solver.step(backend, update_multipliers=False)["objective"]
                  for _ in range(25)]
    diffs = np.diff(objectives)
    assert np.all(diffs <= 1e-9 * np.abs(objectives[:-1])), diffs.max()


def test_grid_search_routes_sample_weight_to_fit():
    X, y = _data("classification", n=240)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    search = GridSearchCV(ADMMClassifier((8,), max_iter=20, random_state=0),
                          {"alpha": [1e-3, 1e-2]}, cv=3)
    search.fit(X, y, sample_weight=w)
    assert search.best_score_ > 0.5
    # through a Pipeline, scikit-learn's step__param convention
    pipe = make_pipeline(StandardScaler(), ADMMRegressor(hidden_layer_sizes=(8,), max_iter=20,
                                                         random_state=0, dtype="float64"))
    Xr, yr = _data("regression", n=240)
    pipe.fit(Xr, yr, admmregressor__sample_weight=w)
    direct = ADMMRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0,
                           dtype="float64").fit(
        StandardScaler().fit_transform(Xr), yr, sample_weight=w)
    _assert_same_model(pipe[-1], direct, rtol=1e-12)


def test_metadata_routing_sends_sample_weight_where_requested():
    import sklearn
    from sklearn.model_selection import cross_validate

    X, y = _data("classification", n=200)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        est = ADMMClassifier((6,), max_iter=10, random_state=0)
        est.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        result = cross_validate(est, X, y, cv=2, params={"sample_weight": w})
    assert np.all(np.isfinite(result["test_score"]))

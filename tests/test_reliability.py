"""Bad input, divergence, interruption and reproducibility (issue 6)."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from admm_sklearn import ADMMClassifier
from admm_sklearn._engine import ADMMSolver


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, y


def small(**kw):
    return ADMMClassifier((8,), max_iter=kw.pop("max_iter", 15), random_state=0, **kw)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_value_error(data, bad):
    X, y = data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        small().fit(X, y)


@pytest.mark.parametrize("X,y,match", [
    (np.empty((0, 3)), np.empty(0), "0 sample"),
    (np.ones((1, 3)), np.array([1]), "class"),
    (np.ones((5, 3)), np.zeros(5), "class"),
    (np.ones((4, 0)), np.array([0, 1, 0, 1]), "0 feature"),
])
def test_degenerate_training_sets_raise_clearly(X, y, match):
    with pytest.raises(ValueError, match=match):
        small().fit(X, y)


def test_early_stopping_without_a_stratified_split_raises_clearly(data):
    X, y = data
    y = y.copy()
    y[0] = 9  # a class of one sample cannot be split between fit and validation
    with pytest.raises(ValueError, match="early_stopping's validation split failed: .*1 member"):
        small(early_stopping=True).fit(X, y)


@pytest.mark.parametrize("labels", [["cat", "dog"], [True, False], [3, 17], [-5, 40, 9]])
def test_any_label_type_round_trips(data, labels):
    X, y = data
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[
        np.arange(len(X)) % len(labels)]
    clf = small().fit(X, y)
    assert set(clf.predict(X)) <= set(labels)
    assert list(clf.classes_) == sorted(labels)


def test_column_vector_y_warns_like_sklearn(data):
    X, y = data
    with pytest.warns(DataConversionWarning):
        small().fit(X, y[:, None])


def test_list_of_lists_float16_and_int_inputs(data):
    X, y = data
    small().fit(X.tolist(), y.tolist())
    small().fit(X.astype(np.float16), y)
    small().fit((X * 10).astype(int), y)


def test_dataframe_feature_names_round_trip_and_mismatch_is_reported(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = small().fit(df, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(clf.predict(df), clf.predict(df.copy()))
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)  # fitted with names, predicting without
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"a": "z"}))


def test_sparse_input_with_nan_is_refused_by_name(data):
    # sparse X is accepted (tests/test_sparse.py); its stored values are
    # validated like dense ones
    X, y = data
    X = sp.csr_matrix(X)
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small().fit(X, y)


def test_object_dtype_numbers_work_and_strings_fail(data):
    X, y = data
    small().fit(X.astype(object), y)
    with pytest.raises(ValueError):
        small().fit(np.full(X.shape, "x", dtype=object), y)


def test_predict_errors(data):
    X, y = data
    with pytest.raises(NotFittedError):
        small().predict(X)
    clf = small().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


@pytest.mark.parametrize("scale", [1e12, 1e-12])
def test_huge_and_tiny_magnitudes_stay_finite(data, scale):
    X, y = data
    clf = small().fit(X * scale, y)
    assert all(np.all(np.isfinite(c)) for c in clf.coefs_ + clf.intercepts_)
    assert np.all(np.isfinite(clf.decision_function(X * scale)))
    assert set(clf.predict(X * scale)) <= {0, 1}


def test_constant_duplicated_columns_and_wide_data(data):
    X, y = data
    X_bad = np.hstack([X, X[:, :2], np.full((len(X), 1), 4.0)])
    for alpha in (0.0, 1e-3):
        clf = small(alpha=alpha).fit(X_bad, y)
        assert np.all(np.isfinite(clf.coefs_[0]))
    rng = np.random.default_rng(1)
    X_wide = rng.normal(size=(20, 100))
    wide = ADMMClassifier((32,), alpha=0.0, max_iter=15, random_state=0)
    assert wide.fit(X_wide, y[:20]).score(X_wide, y[:20]) > 0.9


def test_input_units_do_not_change_the_model(data):
    # Layer 1 is solved in standardised coordinates: rescaling or shifting a
    # feature changes W_1 by the inverse map and the predictions not at all.
    # (float64: float32 state rounds X * 1e12 and X differently, by 6e-8)
    X, y = data
    base = small(dtype="float64").fit(X, y)
    # (a large shift costs digits in the raw Gram: hence the looser tolerance)
    for shifted, tol in ((X * 1e12, 1e-8), (X * 1e-12, 1e-8),
                         (X * [1.0, 1e4, 1e-3, 1.0] + 50.0, 1e-3)):
        other = small(dtype="float64").fit(shifted, y)
        np.testing.assert_allclose(other.decision_function(shifted),
                                   base.decision_function(X), rtol=tol, atol=tol)


@pytest.mark.parametrize("sizes,error", [((0,), ValueError), ((-3,), ValueError),
                                         (0, InvalidParameterError),
                                         ((4, 0), ValueError), (("a",), ValueError)])
def test_bad_hidden_layer_sizes(data, sizes, error):
    with pytest.raises(error, match="hidden_layer_sizes"):
        ADMMClassifier(sizes).fit(*data)


@pytest.mark.parametrize("param,value", [("beta", -1.0), ("gamma", 0), ("alpha", "x"),
                                         ("max_iter", 0), ("activation", "tanh"),
                                         ("init", "zeros"), ("backend", "spark"),
                                         ("dtype", "float16")])
def test_bad_parameters_raise_invalid_parameter_error(data, param, value):
    with pytest.raises(InvalidParameterError, match=param):
        ADMMClassifier(**{param: value}).fit(*data)


def test_divergence_raises_instead_of_returning_nan_model(data):
    X, y = data
    with pytest.raises(FloatingPointError, match="diverged"):
        with np.errstate(all="ignore"):
            small(beta=1e300, gamma=1e300).fit(X * 1e200, y)


def test_failed_fit_leaves_fitted_model_intact(data):
    X, y = data
    clf = small().fit(X, y)
    before = pickle.dumps(clf)
    coefs = [c.copy() for c in clf.coefs_]
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError):
        clf.fit(X_nan, y)
    for c, c0 in zip(clf.coefs_, coefs):
        np.testing.assert_array_equal(c, c0)
    assert pickle.dumps(clf) == before


def test_interrupted_fit_leaves_fitted_model_intact(data, monkeypatch):
    X, y = data
    clf = small().fit(X, y)
    before = clf.decision_function(X)
    calls = []
    original = ADMMSolver.step

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ADMMSolver, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clf.set_params(max_iter=10).fit(X * 2, y)
    np.testing.assert_array_equal(clf.decision_function(X), before)


@pytest.mark.parametrize("backend,input_interval", [("serial", 1), ("joblib", 1),
                                                    ("joblib", 3)])
def test_warm_start_ten_plus_ten_equals_twenty(data, backend, input_interval):
    # interval 3: the second fit resumes inside a cycle, from the shards'
    # copy of W_1 a_0 + b_1
    X, y = data
    params = dict(hidden_layer_sizes=(8,), tol=0.0, random_state=0, backend=backend,
                  n_jobs=2, n_warmup_iter=5, dtype="float64",
                  input_solve_interval=input_interval)
    once = ADMMClassifier(max_iter=20, **params).fit(X, y)
    split = ADMMClassifier(max_iter=10, warm_start=True, **params).fit(X, y)
    split.fit(X, y)
    assert split.n_iter_ == 20
    for c, c0 in zip(split.coefs_ + split.intercepts_, once.coefs_ + once.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=1e-10, atol=1e-12)


def test_interrupted_warm_start_forgets_the_advanced_state(data, monkeypatch):
    X, y = data
    clf = ADMMClassifier((8,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
    before = clf.decision_function(X)
    original = ADMMSolver.step

    def interrupted(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(ADMMSolver, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    monkeypatch.setattr(ADMMSolver, "step", original)
    np.testing.assert_array_equal(clf.decision_function(X), before)
    assert clf._solver is None  # the half-advanced state is not resumed
    clf.fit(X, y)  # restarts from coefs_
    assert np.all(np.isfinite(clf.decision_function(X)))


def test_warm_start_on_new_data_restarts_from_fitted_weights(data):
    X, y = data
    clf = ADMMClassifier((8,), max_iter=15, warm_start=True, random_state=0).fit(X, y)
    score = clf.score(X, y)
    clf.fit(X[:150], y[:150])
    assert clf.score(X, y) >= score - 0.1
    with pytest.raises(ValueError, match="classes"):
        clf.fit(X, np.where(y == 1, 5, 0))


def test_random_state_makes_fits_bit_reproducible(data):
    X, y = data
    for init in ("forward", "gaussian"):
        a = small(init=init).fit(X, y)
        b = small(init=init).fit(X, y)
        for c, c0 in zip(a.coefs_, b.coefs_):
            np.testing.assert_array_equal(c, c0)


def test_float32_keeps_features_with_a_large_offset(data):
    """The shards hold X minus its column means, subtracted in float64: a
    feature 1e6 + x (whose digits float32 would lose) fits like x."""
    X, y = data
    base = small().fit(X, y)  # the default dtype, float32
    moved = small().fit(X + 1e6, y)
    assert moved.dtype == "float32"
    np.testing.assert_allclose(moved.decision_function(X + 1e6), base.decision_function(X),
                               rtol=1e-3, atol=1e-3)

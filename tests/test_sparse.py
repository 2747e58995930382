"""Sparse inputs: accepted, kept sparse, and the same model as dense ones."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from admm_sklearn import ADMMClassifier, ADMMRegressor
from admm_sklearn._sparse_inputs import CenteredSparse

PARAMS = dict(hidden_layer_sizes=(10,), max_iter=30, dtype="float64", random_state=0, tol=None)


def _data(n=3000, d=60, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.05, random_state=seed, format="csr") * 3.0
    coef = rng.normal(size=d)
    return X, (X @ coef > 0.1).astype(int), np.asarray(X @ coef).ravel()


def _assert_same_model(a, b, rtol=1e-10):
    for c, c0 in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.abs(c - c0).max() <= rtol * np.abs(c0).max()


def test_centred_products_equal_the_dense_ones():
    # brute force: every product of the first layer against X - 1 s^T formed
    rng = np.random.default_rng(1)
    X = sp.random(70, 9, density=0.3, random_state=1, format="csr")
    shift = rng.normal(size=9)
    dense = X.toarray() - shift
    A = CenteredSparse(X, shift, np.float64)
    W, Z, w = rng.normal(size=(9, 4)), rng.normal(size=(70, 3)), rng.uniform(0, 2, 70)
    np.testing.assert_allclose(A @ W, dense @ W, atol=1e-12)
    np.testing.assert_allclose(A[10:30] @ W, dense[10:30] @ W, atol=1e-12)
    np.testing.assert_allclose(A.transpose_times(Z), dense.T @ Z, atol=1e-12)
    np.testing.assert_allclose(A.column_sums(), dense.sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(A.column_sums(w), w @ dense, atol=1e-12)
    np.testing.assert_allclose(A.gram(), dense.T @ dense, atol=1e-12)
    np.testing.assert_allclose(A.gram(w), dense.T @ (w[:, None] * dense), atol=1e-12)


@pytest.mark.parametrize("case", ["csr", "csc", "weights", "two_shards", "depth2",
                                  "early_stopping", "subset"])
def test_sparse_and_dense_inputs_give_the_same_coefficients(case):
    X, y, _ = _data()
    params, fit_params = dict(PARAMS), {}
    if case == "weights":
        fit_params["sample_weight"] = np.random.default_rng(2).integers(0, 3, X.shape[0])
    if case == "two_shards":
        params.update(backend="joblib", n_jobs=2)
    if case == "depth2":
        params["hidden_layer_sizes"] = (10, 6)
    if case == "early_stopping":
        params.update(early_stopping=True, n_iter_no_change=10, max_iter=60)
    if case == "subset":
        params["start_fraction"] = 0.5
    sparse = ADMMClassifier(**params).fit(X.tocsc() if case == "csc" else X, y, **fit_params)
    dense = ADMMClassifier(**params).fit(X.toarray(), y, **fit_params)
    _assert_same_model(sparse, dense)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X.toarray()),
                               atol=1e-12)


def test_wide_sparse_inputs_sum_the_first_layer_cross_in_place_and_match_dense(monkeypatch):
    # 100 units x 1,401 inputs is past one block, so the hidden pass sums
    # layer 1's cross Gram into one array over the blocks of rows (the
    # compiled CSR kernel) rather than per block; the model is the dense
    # one when both take the same layer-1 solve
    from admm_sklearn import _input_solve
    monkeypatch.setattr(_input_solve, "prefers_direct", lambda *shape: True)
    X, y, _ = _data(n=600, d=1400)
    params = dict(PARAMS, hidden_layer_sizes=(100,), max_iter=5)
    sparse = ADMMClassifier(**params).fit(X, y)
    _assert_same_model(sparse, ADMMClassifier(**params).fit(X.toarray(), y))


@pytest.mark.parametrize("compiled", [True, False])
def test_transpose_accumulate_adds_the_sparse_transpose_product(monkeypatch, compiled):
    from admm_sklearn import _kernels
    if not compiled:
        monkeypatch.setattr(_kernels, "_transpose_accumulate_compiled", None)
    rng = np.random.default_rng(3)
    X = sp.random(50, 30, density=0.2, random_state=3, format="csr")
    T, out = rng.normal(size=(50, 4)), rng.normal(size=(30, 4))
    expected = out + X.toarray().T @ T
    _kernels.transpose_accumulate(X, T, out)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_regressor_takes_sparse_inputs():
    X, _, y = _data()
    sparse = ADMMRegressor(**PARAMS).fit(X, y)
    _assert_same_model(sparse, ADMMRegressor(**PARAMS).fit(X.toarray(), y))
    assert sparse.score(X, y) > 0.9


def test_shards_keep_the_inputs_sparse():
    X, y, _ = _data()
    clf = ADMMClassifier(warm_start=True, n_jobs=2, **PARAMS).fit(X, y)  # keeps the shards
    shards = clf._solver_shards
    assert len(shards) == 2 and all(isinstance(s.x, CenteredSparse) for s in shards)
    assert sum(s.x.X.nnz for s in shards) == X.nnz


def test_text_pipeline_with_tfidf():
    words = ["ham", "spam", "offer", "meeting", "free", "lunch", "win", "prize", "today"]
    rng = np.random.default_rng(0)
    docs, labels = [], []
    for _ in range(400):
        spam = rng.random() < 0.5
        pool = words[1:3] + words[6:8] if spam else [words[0], words[3], words[5], words[8]]
        docs.append(" ".join(list(rng.choice(pool, size=5)) + [rng.choice(words)]))
        labels.append(int(spam))
    model = make_pipeline(TfidfVectorizer(), ADMMClassifier(hidden_layer_sizes=(16,),
                                                            max_iter=100, random_state=0))
    model.fit(docs, labels)
    assert model.score(docs, labels) > 0.9


def test_one_hot_pipeline():
    rng = np.random.default_rng(0)
    cats = rng.integers(0, 12, size=(600, 3))
    y = ((cats[:, 0] % 3 == 0) ^ (cats[:, 1] > 6)).astype(int)
    encode = ColumnTransformer([("onehot", OneHotEncoder(), [0, 1, 2])])
    assert sp.issparse(encode.fit_transform(cats))
    model = make_pipeline(encode, ADMMClassifier(hidden_layer_sizes=(16,), max_iter=200,
                                                 random_state=0))
    assert model.fit(cats, y).score(cats, y) > 0.95

"""backend='dask': actors on a LocalCluster of 2 worker processes (1 thread each)."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMClassifier, ADMMRegressor

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from admm_sklearn.backends import DaskBackend, WorkerLostError  # noqa: E402


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=":0")


@pytest.fixture(scope="module", autouse=True)
def _restore_environment():
    # a LocalCluster leaves MALLOC_TRIM_THRESHOLD_ in os.environ, which
    # would slow every process the later tests start (MPI ranks, examples)
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as client:
        yield client


def _data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.where(X[:, 0] * X[:, 1] > 0, "yes", np.where(X[:, 2] > 0.8, "maybe", "no"))
    return X, y, np.sin(2 * X[:, 0]) * 5 + X[:, 1] * X[:, 2] + 40.0


def _assert_same_model(a, b, rtol=1e-8):
    for c, c0 in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.abs(c - c0).max() <= rtol * np.abs(c0).max()


# float64: equal to serial to round-off; no unit passes (they cost about 200
# actor calls a pass; their agreement is tested on their own below)
PARAMS = dict(hidden_layer_sizes=(12, 5), max_iter=25, n_warmup_iter=5, random_state=3,
              dtype="float64", unit_refit_passes=0)


@pytest.mark.parametrize("estimator,weighted,interval,passes", [
    (ADMMClassifier, False, 1, 0), (ADMMClassifier, True, 1, 5), (ADMMRegressor, False, 1, 20),
    (ADMMRegressor, True, 1, 20), (ADMMClassifier, False, 2, 0)])
def test_dask_numpy_input_equals_serial(client, estimator, weighted, interval, passes):
    # interval 2: W_1 held every other sweep, W_1 a_0 + b_1 kept on the workers;
    # passes: the first stage's unit passes on the log-loss / squared error
    X, y, y_real = _data()
    target = y if estimator is ADMMClassifier else y_real
    w = np.random.default_rng(1).integers(0, 3, len(X)) if weighted else None
    params = dict(PARAMS, input_solve_interval=interval, unit_refit_passes=passes)
    serial = estimator(**params).fit(X, target, sample_weight=w)
    dask = estimator(backend="dask", **params).fit(X, target, sample_weight=w)
    _assert_same_model(dask, serial)


@pytest.mark.parametrize("estimator", [ADMMClassifier, ADMMRegressor])
def test_dask_deep_refit_passes_equal_serial(client, estimator):
    # the passes over every layer's units after the stages, with sample weights
    X, y, y_real = _data()
    target = y if estimator is ADMMClassifier else y_real
    w = np.random.default_rng(1).integers(0, 3, len(X))
    params = dict(PARAMS, deep_refit_passes=2)
    serial = estimator(**params).fit(X, target, sample_weight=w)
    dask = estimator(backend="dask", **params).fit(X, target, sample_weight=w)
    assert dask.n_unit_refit_passes_ == serial.n_unit_refit_passes_ > 0
    _assert_same_model(dask, serial)


@pytest.mark.parametrize("solve", ["direct", "iterative"])
def test_dask_backend_takes_sparse_numpy_input(client, monkeypatch, solve):
    X, y, _ = _data()
    X[np.abs(X) < (0.7 if solve == "direct" else 1.8)] = 0.0
    if solve == "iterative":  # layer 1 by conjugate gradients, its products on the workers
        from admm_sklearn import _input_solve

        monkeypatch.setattr(_input_solve, "DIRECT_GRAM_MAX_BYTES", 0)
    serial = ADMMClassifier(**PARAMS).fit(X, y)
    dask = ADMMClassifier(backend="dask", **PARAMS).fit(sp.csr_matrix(X), y)
    _assert_same_model(dask, serial)


def test_dask_array_with_sparse_chunks_is_refused_by_name(client):
    X, y, _ = _data()
    Xd = da.from_array(sp.csr_matrix(X), chunks=(500, 6), asarray=False)
    with pytest.raises(TypeError, match="sparse chunks"):
        ADMMClassifier(backend="dask", **PARAMS).fit(Xd, y)


@pytest.mark.parametrize("estimator", [ADMMClassifier, ADMMRegressor])
def test_chunked_dask_array_input_equals_serial_and_stays_on_the_workers(client, estimator):
    X, y, y_real = _data()
    target = y if estimator is ADMMClassifier else y_real
    w = np.random.default_rng(2).uniform(0, 2, len(X))
    Xd, yd, wd = client.persist([da.from_array(X, chunks=(300, 6)),
                                 da.from_array(target, chunks=300),
                                 da.from_array(w, chunks=300)])
    distributed.wait([Xd, yd, wd])
    before = set(client.who_has())
    dask = estimator(backend="dask", **PARAMS).fit(Xd, yd, sample_weight=wd)
    serial = estimator(**PARAMS).fit(X, target, sample_weight=w)
    _assert_same_model(dask, serial)
    # nothing of the fit is left on the cluster (the actors are released)
    time.sleep(0.2)
    assert set(client.who_has()) <= before


def test_dask_dataframe_keeps_feature_names(client):
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    X, y, _ = _data(600)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    ddf = dd.from_pandas(frame, npartitions=3)
    dys = dd.from_pandas(pd.Series(y), npartitions=3)
    clf = ADMMClassifier(backend="dask", **PARAMS).fit(ddf, dys)
    assert list(clf.feature_names_in_) == list("abcdef")
    serial = ADMMClassifier(**PARAMS).fit(frame, y)
    _assert_same_model(clf, serial)


def test_pipeline_grid_search_and_warm_start_on_dask(client):
    X, y, _ = _data(900)
    pipe = make_pipeline(StandardScaler(), ADMMClassifier((8,), max_iter=15, backend="dask",
                                                          random_state=0, unit_refit_passes=0))
    search = GridSearchCV(pipe, {"admmclassifier__alpha": [1e-3, 1e-2]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.5
    # jointly, the kept state continues exactly: 10 sweeps twice = 20 once
    joint = {**PARAMS, "deep_training": "joint"}
    once = ADMMClassifier(backend="dask", **{**joint, "max_iter": 20}).fit(X, y)
    twice = ADMMClassifier(backend="dask", warm_start=True, **{**joint, "max_iter": 10})
    twice.fit(X, y).fit(X, y)
    assert twice.n_iter_ == 20
    _assert_same_model(twice, once, rtol=1e-10)
    # layer by layer, the lower layer is kept and the last stage continues
    layered = ADMMClassifier(backend="dask", warm_start=True, **{**PARAMS, "max_iter": 10})
    first = [c.copy() for c in layered.fit(X, y).coefs_]
    layered.fit(X, y)
    assert np.array_equal(layered.coefs_[0], first[0])
    assert not np.allclose(layered.coefs_[1], first[1])
    assert layered.n_iter_ == 10 + 5 + 5
    layered.set_params(warm_start=False).fit(X, y)
    twice.set_params(warm_start=False).fit(X, y)  # releases the kept actors


def test_bad_input_and_missing_client_are_clear_errors(client):
    X, y, _ = _data(300)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ADMMClassifier(backend="dask", max_iter=2).fit(da.from_array(bad, chunks=100), y)
    with pytest.raises(ValueError, match="backend='dask'"):
        ADMMClassifier(max_iter=2).fit(da.from_array(X, chunks=100), da.from_array(y, 100))
    with pytest.raises(ValueError, match="early_stopping"):
        ADMMClassifier(backend="dask", early_stopping=True).fit(
            da.from_array(X, chunks=100), da.from_array(y, 100))


def test_no_client_is_a_clear_error(monkeypatch):
    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    X, y, _ = _data(100)
    with pytest.raises(ValueError, match="needs a running distributed.Client"):
        ADMMClassifier(backend="dask", max_iter=2).fit(X, y)


def test_without_dask_installed_the_error_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    X, y, _ = _data(100)
    with pytest.raises(ImportError, match=r"admm-sklearn\[dask\]"):
        ADMMClassifier(backend="dask", max_iter=2).fit(X, y)


def test_a_worker_killed_mid_fit_raises_within_60_s_and_keeps_the_old_model():
    X, y, _ = _data(20_000)
    with _cluster() as cluster, distributed.Client(cluster) as client:
        clf = ADMMClassifier((16,), max_iter=3, backend=DaskBackend(client),
                             unit_refit_passes=0).fit(X, y)
        before = [c.copy() for c in clf.coefs_]
        pid = next(iter(client.run(os.getpid).values()))
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
        start = time.perf_counter()
        with pytest.raises(WorkerLostError):
            clf.set_params(max_iter=100_000).fit(X, y)
        assert time.perf_counter() - start < 60
        for c, c0 in zip(clf.coefs_, before):
            np.testing.assert_array_equal(c, c0)


class _LostActor:
    """An actor whose worker is gone: the call itself is refused."""

    def __getattr__(self, key):
        raise RuntimeError("Worker holding Actor was lost.  Status: error")


class _Done:
    def result(self, timeout=None):
        return (np.zeros(1),)


class _LiveActor:
    def run(self, fn, *args):
        return _Done()


def test_a_call_refused_by_a_lost_actor_is_a_worker_lost_error():
    # the engine's clean-up pass after a lost worker's first error reaches
    # the dead actor again: that must still read as the worker lost
    backend = DaskBackend(client=None)
    backend.shards = [(None, _LiveActor()), (None, _LostActor())]
    with pytest.raises(WorkerLostError, match="could not be sent"):
        backend.map(lambda shard: None)

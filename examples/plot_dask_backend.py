"""
Training on a Dask cluster
==========================

``backend="dask"`` runs the ADMM sweeps on the workers of a
``distributed`` cluster driven from this Python session: a ``LocalCluster``
here, the same code on dask-jobqueue (SLURM, PBS), Kubernetes or a cloud
cluster. Each worker keeps its shards (its rows and their per-sample state)
in an actor for the whole fit; a sweep sends only the weights and gets back
only the small Gram sums. A dask array stays where its chunks are: every
worker builds its shards from the chunks it holds. The result equals the
serial fit to round-off.

The cluster here runs its two workers as threads of this process
(``processes=False``), so that the example also runs inside the docs build;
on a real cluster each worker is a process of its own
(``benchmarks/scaling.py --dask`` measures that case).
"""

import time
import warnings

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from admm_sklearn import ADMMClassifier
from admm_sklearn.backends import DaskBackend

if __name__ == "__main__":
    warnings.simplefilter("ignore", ConvergenceWarning)  # 100 sweeps: a short demo
    X, y = make_classification(n_samples=20_000, n_features=20, n_informative=12,
                               random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    # no unit passes after the sweeps: each pass is about 200 small calls to
    # the workers, slow on a cluster (the sweeps need a few per sweep)
    params = dict(hidden_layer_sizes=(64,), max_iter=100, random_state=0, unit_refit_passes=0)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        # a chunked dask array, persisted on the workers: it is never gathered
        X_dask = client.persist(da.from_array(X, chunks=(2_500, 20)))
        y_dask = client.persist(da.from_array(y, chunks=2_500))
        start = time.perf_counter()
        clf = ADMMClassifier(backend=DaskBackend(client), **params).fit(X_dask, y_dask)
        print(f"dask, 2 workers: {time.perf_counter() - start:.1f} s, "
              f"training accuracy {clf.score(X, y):.4f}")

    start = time.perf_counter()
    serial = ADMMClassifier(**params).fit(X, y)
    print(f"serial:          {time.perf_counter() - start:.1f} s, "
          f"training accuracy {serial.score(X, y):.4f}")
    gap = max(np.abs(a - b).max() / np.abs(b).max()
              for a, b in zip(clf.coefs_ + clf.intercepts_, serial.coefs_ + serial.intercepts_))
    print(f"largest relative difference of the weights: {gap:.1e}")

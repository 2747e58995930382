"""
Threads of one node: the joblib backend
=======================================

``backend="joblib"`` splits the rows into ``n_jobs`` shards updated in place
by threads; only small Gram matrices are summed. The fitted model equals the
serial one to round-off.
"""

import time

import numpy as np
from sklearn.datasets import make_classification

from admm_sklearn import ADMMClassifier

X, y = make_classification(n_samples=20000, n_features=20, n_informative=10,
                           random_state=0)
fits = {}
for backend, n_jobs in (("serial", None), ("joblib", 2)):
    # the sweeps alone (no unit passes after them): what the shards split
    clf = ADMMClassifier((100,), max_iter=20, backend=backend, n_jobs=n_jobs,
                         random_state=0, unit_refit_passes=0)
    start = time.perf_counter()
    fits[backend] = clf.fit(X, y)
    print(f"{backend:<7} n_jobs={n_jobs}: {time.perf_counter() - start:.2f} s, "
          f"training accuracy {clf.score(X, y):.4f}")
diff = max(np.abs(a - b).max() / np.abs(b).max()
           for a, b in zip(fits["joblib"].coefs_, fits["serial"].coefs_))
print(f"largest relative difference of the weights: {diff:.1e}")

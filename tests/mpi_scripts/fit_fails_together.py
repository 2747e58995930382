"""Run under ``mpiexec -n 2``: bad data on one rank makes every rank raise.

Each rank writes ``RAISED Type: message`` or ``FIT classes`` to
``<outdir>/rank<R>.txt`` (separate files: ranks' stdout interleaves).
"""

import sys

import numpy as np
from mpi4py import MPI

from admm_sklearn import ADMMClassifier

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
case, outdir = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(rank)
X = rng.normal(size=(60, 4))
y = (X[:, 0] > 0).astype(int)
if rank == 1:
    if case == "n_features":
        X = X[:, :3]
    elif case == "nan":
        X[5, 2] = np.nan
    elif case == "zero_rows":
        X, y = X[:0], y[:0]
    elif case == "labels_on_one_rank":
        y[:10] = 7
    elif case == "dtype":
        X = X.astype(np.float32)
    elif case == "one_dimensional":
        X = X[:, 0]
    elif case == "early_stopping_split":
        y[0] = 7  # one sample of a class: no stratified split on this rank
try:
    clf = ADMMClassifier((5,), max_iter=5, backend="mpi", random_state=0,
                         early_stopping=case == "early_stopping_split").fit(X, y)
    result = f"FIT classes={list(clf.classes_)}"
except Exception as exc:
    result = f"RAISED {type(exc).__name__}: {exc}"
with open(f"{outdir}/rank{rank}.txt", "w") as fh:
    fh.write(result)

"""Fit on a cluster: every MPI rank reads only its own rows.

Run with, for example::

    mpiexec -n 4 python examples/mpi_fit.py --data /path/to/dir --out model.pkl
    srun -n 64 python examples/mpi_fit.py --data /scratch/higgs --out model.pkl

``--data`` is a folder holding ``X.npy`` (n_samples x n_features) and
``y.npy`` (n_samples,). Both are opened with memory mapping and each rank
slices out its block of rows, so no rank ever reads the whole file. Without
``--data`` a small synthetic set is written to a temporary folder first.
Every rank ends with the same model; rank 0 scores and saves it.
"""

import argparse
import os
import pickle
import tempfile

import numpy as np
from mpi4py import MPI

from admm_sklearn import ADMMClassifier

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

parser = argparse.ArgumentParser()
parser.add_argument("--data", default=None)
parser.add_argument("--out", default="admm_model.pkl")
parser.add_argument("--hidden", type=int, default=64)
args = parser.parse_args()

folder = args.data
if folder is None:
    folder = comm.bcast(tempfile.mkdtemp() if rank == 0 else None, root=0)
    if rank == 0:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((20_000, 10))
        np.save(os.path.join(folder, "X.npy"), X)
        np.save(os.path.join(folder, "y.npy"), (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int))
    comm.Barrier()

X_all = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")
y_all = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
bounds = np.linspace(0, X_all.shape[0], size + 1).astype(int)
rows = slice(bounds[rank], bounds[rank + 1])
X_local, y_local = np.asarray(X_all[rows]), np.asarray(y_all[rows])  # reads this block only

clf = ADMMClassifier((args.hidden,), backend="mpi", max_iter=50, random_state=0)
clf.fit(X_local, y_local)

# Every rank holds the same model; the training accuracy is a global sum.
correct = comm.allreduce(int(np.sum(clf.predict(X_local) == y_local)))
total = comm.allreduce(len(y_local))
if rank == 0:
    print(f"{size} ranks, {total} samples: training accuracy {correct / total:.4f}, "
          f"{clf.n_iter_} sweeps")
    with open(args.out, "wb") as fh:
        pickle.dump(clf, fh)  # a plain estimator: loads without MPI
    print(f"model saved to {args.out}")

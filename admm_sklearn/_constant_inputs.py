"""Input columns that never vary are left out of the fit.

A column that is constant over the training rows (over every process) is
zero once centred: its products with the weights and its rows of the
input Gram are zero, and the ridge solution puts zero weight on it. The
shards hold only the other columns, so the products with the inputs, which
a sweep spends most of its time on when the inputs are wide, skip it
(MNIST's test digits: 125 of 784 pixels are constant in a 7,500-row
training split), and neither the first layer's start nor its fan-in ridge
counts it. The network returned has zero weights on it, one row of
``coefs_[0]`` per input as always.

Constant means the same bound as the solver's standardisation: a root mean
square deviation of at most ``1e-12`` times the column's mean
(:class:`~admm_sklearn._input_solve.InputCoordinates` gives such a column
unit scale, and its centred values are round-off).
"""

import numpy as np

from ._shard import row_blocks
from ._sparse_inputs import is_sparse


def varying_columns(X, shift, n_rows, backend):
    """Indices of the columns of ``X`` that vary over the rows of every
    process, or ``None`` to keep them all: when every column varies, none
    does, or ``X`` is sparse on some process (whose products cost its
    stored entries, which a constant column has few of) or a dask
    collection (``n_rows`` is ``None``; its columns are not scanned).

    ``shift``: the column means over all processes. Every process calls
    the one reduction, whatever its input, so none waits on another.
    """
    if n_rows is None:
        return None
    squares = np.zeros(X.shape[1])
    sparse = is_sparse(X)
    if not sparse:
        for rows in row_blocks(*X.shape):
            squares += np.square(X[rows] - shift).sum(axis=0)
    squares, any_sparse = backend.allreduce([squares, np.array([float(sparse)])])
    if any_sparse[0] > 0:
        return None
    varies = squares > n_rows * np.square(1e-12 * np.abs(shift))
    keep = np.flatnonzero(varies)
    return None if keep.size in (0, X.shape[1]) else keep


def widen(W, keep, n_features):
    """Weights on the kept columns, ``(units, len(keep))``, as weights on all
    ``n_features`` inputs (zero on the constant ones)."""
    full = np.zeros((W.shape[0], n_features), dtype=W.dtype)
    full[:, keep] = W
    return full

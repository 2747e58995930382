"""Sparse inputs kept sparse: the first layer's products with the centring folded in.

A shard holds its inputs centred, ``x - s`` (``s`` the column means over all
processes; :class:`~admm_sklearn._shard.Shard`). For a sparse ``X`` that
would fill every zero, so :class:`CenteredSparse` keeps ``X`` as it is (CSR)
and applies the shift inside each product the first layer needs, at the cost
of one rank-one correction:

* ``(X - 1 s^T) W^T = X W^T - 1 (s^T W^T)`` (the forward pass, eq. 1),
* ``Z^T (X - 1 s^T) = Z^T X - (Z^T 1) s^T`` (the cross Gram of the ``W_1``
  update, eq. 3),
* ``(X - 1 s^T)^T D (X - 1 s^T) = X^T D X - s c^T - c s^T + (1^T D 1) s s^T``
  with ``c = X^T D 1`` (the input Gram; ``D`` the sample weights).

Each costs the sparse product (proportional to the stored entries) plus
``O(d)`` per output column: the dense ``n x d`` array is never formed. The
input Gram is ``d x d`` and dense, as it is for dense inputs.
"""

import numpy as np
import scipy.sparse as sp

from ._kernels import transpose_accumulate


def add_outer(out, u, v, rows=4096):
    """``out += u v^T`` in place, by blocks of ``rows`` rows: never a whole
    ``d x k`` temporary."""
    for first in range(0, out.shape[0], rows):
        block = slice(first, first + rows)
        out[block] += np.outer(u[block], v).astype(out.dtype, copy=False)


def is_sparse(X):
    return sp.issparse(X)


class CenteredSparse:
    """The rows ``X - 1 shift^T`` of the sparse matrix ``X``, never formed.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (n, d)
        Converted to CSR in ``dtype`` (the values as they are: sparse inputs
        such as counts, tf-idf weights and one-hot codes have small offsets,
        so float32 loses nothing that centring first would keep).
    shift : ndarray of shape (d,) or None
        The column means subtracted, in float64 (``None``: zeros).
    dtype : numpy dtype
        Floating type of the stored values and of the products.
    """

    ndim = 2

    def __init__(self, X, shift, dtype):
        self.X = sp.csr_matrix(X, dtype=dtype)
        self.dtype = np.dtype(dtype)
        self.shift = (np.zeros(X.shape[1]) if shift is None
                      else np.asarray(shift, dtype=np.float64))

    @property
    def shape(self):
        return self.X.shape

    def __getitem__(self, rows):
        """A block of rows (a slice), still centred."""
        block = CenteredSparse.__new__(CenteredSparse)
        block.X, block.dtype, block.shift = self.X[rows], self.dtype, self.shift
        return block

    def __matmul__(self, Wt):
        """``(X - 1 s^T) Wt``: dense, in the state's dtype."""
        out = np.asarray(self.X @ Wt, dtype=self.dtype)
        # the shift in Wt's dtype: a float64 shift would upcast all of Wt
        # (d x k) for a k-vector
        out -= (self.shift.astype(Wt.dtype) @ Wt).astype(self.dtype)
        return out

    def transpose_times(self, Z):
        """``(X - 1 s^T)^T Z``, shape ``(d, k)``, in ``Z``'s dtype."""
        out = np.asarray(self.X.T @ Z)
        # in place, by blocks: with 10^5 features a whole outer product
        # would be one more d x k temporary
        add_outer(out, -self.shift, Z.sum(axis=0, dtype=np.float64))
        return out

    def add_transpose_times(self, Z, out):
        """``out += [X, 1]^T Z`` (``out`` of shape ``(d + 1, k)``), the shift
        left out: summed over blocks of rows with no ``d x k`` temporary,
        then :meth:`center_sums` applies it once."""
        transpose_accumulate(self.X, Z, out[:-1])
        out[-1] += Z.sum(axis=0)

    def center_sums(self, out):
        """Turn :meth:`add_transpose_times`'s ``[X, 1]^T Z`` into ``[X - 1
        s^T, 1]^T Z`` in place: ``X^T Z - s (1^T Z)``, ``1^T Z`` its last row."""
        add_outer(out[:-1], -self.shift, out[-1].astype(np.float64))
        return out

    def column_sums(self, w=None):
        """``(X - 1 s^T)^T w`` (``w=None``: ones), in float64."""
        if w is None:
            raw, total = np.asarray(self.X.sum(axis=0, dtype=np.float64)).ravel(), self.X.shape[0]
        else:
            w = np.asarray(w, dtype=np.float64)
            raw, total = np.asarray(self.X.T @ w, dtype=np.float64).ravel(), float(w.sum())
        return raw - total * self.shift

    def column_square_sums(self, w=None):
        """``(X - 1 s^T)^T D (X - 1 s^T)``'s diagonal: ``sum_n w_n (x_n - s)^2``
        per column, in float64 (``w=None``: ones)."""
        squared = self.X.multiply(self.X).astype(np.float64)
        if w is None:
            raw, total = np.asarray(squared.sum(axis=0)).ravel(), self.X.shape[0]
        else:
            w = np.asarray(w, dtype=np.float64)
            raw, total = np.asarray(squared.T @ w).ravel(), float(w.sum())
        raw_sums = self.column_sums(w) + total * self.shift  # sum_n w_n x_n
        return raw - 2.0 * self.shift * raw_sums + total * self.shift ** 2

    def gram(self, w=None):
        """``(X - 1 s^T)^T D (X - 1 s^T)`` in float64 (``D = diag(w)``)."""
        X = self.X.astype(np.float64)
        weighted = X if w is None else sp.diags(np.asarray(w, dtype=np.float64)) @ X
        # dense on purpose: the input Gram is d x d (never n x d), and the
        # direct layer-1 solve factorises it as a dense matrix, as for dense
        # inputs; it is formed only where it takes at most 1 GiB
        # (_input_solve.DIRECT_GRAM_MAX_BYTES), else the iterative solve runs
        gram = np.asarray((X.T @ weighted).toarray())
        c = np.asarray(weighted.sum(axis=0)).ravel()
        total = X.shape[0] if w is None else float(np.sum(w, dtype=np.float64))
        s = self.shift
        gram -= np.outer(s, c) + np.outer(c, s)
        gram += total * np.outer(s, s)
        return gram

"""Fused entrywise kernels (numba), with the NumPy code as reference.

The output update (eq. 7) is a handful of arithmetic operations per entry.
In NumPy it costs about 25 full passes over a block (one per ufunc) and holds
the GIL between them; compiled as one loop it is a single pass that releases
the GIL, which is what lets the joblib backend's threads run it in parallel.
numba is optional: without it, :func:`admm_sklearn._updates.prox_hidden`
runs, and the tests check that both give the same result.
"""

import numpy as np

from ._activations import ACTIVATIONS

try:  # pragma: no cover - exercised whichever way the install went
    from numba import njit
except ImportError:  # pragma: no cover
    njit = None


def _prox_pieces_loop(a, m, u, v, gamma, beta, pieces, update, out):
    # Same rule as _updates.prox_hidden: the clipped stationary point of each
    # linear piece is a candidate, the lowest value wins, ties to the first.
    # With scaled multipliers (u, v non-empty) the prox is taken at a + u and
    # m - v, and with ``update`` the multiplier steps follow in the same pass:
    # u += a - h(z), v += z - m (h(z) from the winning piece).
    n_pieces = pieces.shape[0]
    inv = np.empty(n_pieces)
    for k in range(n_pieces):
        inv[k] = 1.0 / (gamma * pieces[k, 2] * pieces[k, 2] + beta)
    shifted = u.shape[0] > 0
    total = 0.0
    n_rows, n_cols = m.shape
    for i in range(n_rows):
        for j in range(n_cols):
            ai = a[i, j]
            mi = m[i, j]
            if shifted:
                ai += u[i, j]
                mi -= v[i, j]
            best = np.inf
            arg = 0.0
            h = 0.0
            for k in range(n_pieces):
                s, c = pieces[k, 2], pieces[k, 3]
                z = (gamma * s * (ai - c) + beta * mi) * inv[k]
                z = min(max(z, pieces[k, 0]), pieces[k, 1])
                r = ai - s * z - c
                val = gamma * r * r + beta * (z - mi) * (z - mi)
                if val < best:
                    best = val
                    arg = z
                    h = s * z + c
            out[i, j] = arg
            total += best
            if update and shifted:
                u[i, j] += a[i, j] - h
                v[i, j] += arg - m[i, j]
    return total


def _prox_relu_loop(a, m, u, v, gamma, beta, update, out):
    # ReLU pieces in closed form (see _updates.prox_hidden): positive piece
    # p = (gamma a + beta m) / (gamma + beta), value gamma beta/(gamma+beta)
    # (a - m)^2; non-positive piece min(m, 0), value gamma a^2 + beta
    # max(m, 0)^2. Written without branches (but for the multipliers, whose
    # test is the same for every entry) so the loop vectorises. Multipliers
    # as in _prox_pieces_loop.
    w_a = gamma / (gamma + beta)
    w_m = beta / (gamma + beta)
    c = gamma * beta / (gamma + beta)
    shifted = u.shape[0] > 0
    total = 0.0
    n_rows, n_cols = m.shape
    for i in range(n_rows):
        for j in range(n_cols):
            ai = a[i, j]
            mi = m[i, j]
            if shifted:
                ai += u[i, j]
                mi -= v[i, j]
            p = w_a * ai + w_m * mi
            pos_val = c * (ai - mi) * (ai - mi)
            mp = max(mi, 0.0)
            neg_val = gamma * ai * ai + beta * mp * mp
            take = (p > 0.0) and (pos_val < neg_val)
            z = p if take else min(mi, 0.0)
            out[i, j] = z
            total += pos_val if take else neg_val
            if update and shifted:
                u[i, j] += a[i, j] - max(z, 0.0)
                v[i, j] += z - m[i, j]
    return total


if njit is not None:
    # reassoc/contract only: the sum may be reordered and fused, but NaN and
    # inf still propagate, so the divergence guard keeps working.
    _jit = njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    _prox_pieces_compiled = _jit(_prox_pieces_loop)
    _prox_relu_compiled = _jit(_prox_relu_loop)
else:  # pragma: no cover
    _prox_pieces_compiled = _prox_relu_compiled = None

HAVE_NUMBA = _prox_pieces_compiled is not None

#: Each activation's pieces as the (k, 4) array the compiled loop reads,
#: converted once rather than on every row block.
_PIECE_ARRAYS = {name: np.asarray(pieces, dtype=np.float64)
                 for name, (_, pieces) in ACTIVATIONS.items()}


def prox_pieces(a, m, gamma, beta, activation, out, u=None, v=None, update=False):
    """Fused :func:`~admm_sklearn._updates.prox_hidden`; ``None`` without numba.

    With scaled multipliers ``u, v`` the prox is taken at ``a + u`` and ``m -
    v`` and, if ``update``, followed in the same pass by ``u += a - h(z)``,
    ``v += z - m``.
    """
    if _prox_pieces_compiled is None:
        return None
    if u is None:  # no multipliers: empty arrays the loops never index
        u = v = np.empty((0, 0), dtype=m.dtype)
        update = False
    if activation == "relu":
        return _prox_relu_compiled(a, m, u, v, float(gamma), float(beta), bool(update), out)
    return _prox_pieces_compiled(a, m, u, v, float(gamma), float(beta),
                                 _PIECE_ARRAYS[activation], bool(update), out)

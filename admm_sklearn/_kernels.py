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
    # max(m, 0)^2. Written without branches (``&``, not ``and``, which would
    # branch) and with gamma, beta in the state's dtype, so that the loop
    # vectorises in that dtype: 3.4x faster in float32 than with ``and`` and
    # float64 scalars. Row sums in the state's dtype, their total in float64.
    # Multipliers as in _prox_pieces_loop.
    w_a = gamma / (gamma + beta)
    w_m = beta / (gamma + beta)
    c = gamma * beta / (gamma + beta)
    zero = gamma - gamma
    shifted = u.shape[0] > 0
    total = 0.0
    n_rows, n_cols = m.shape
    for i in range(n_rows):
        row = zero
        for j in range(n_cols):
            ai = a[i, j]
            mi = m[i, j]
            if shifted:
                ai += u[i, j]
                mi -= v[i, j]
            p = w_a * ai + w_m * mi
            pos_val = c * (ai - mi) * (ai - mi)
            mp = max(mi, zero)
            neg_val = gamma * ai * ai + beta * mp * mp
            take = (p > zero) & (pos_val < neg_val)
            z = p if take else min(mi, zero)
            out[i, j] = z
            row += pos_val if take else neg_val
            if update and shifted:
                u[i, j] += a[i, j] - max(z, zero)
                v[i, j] += z - m[i, j]
        total += row
    return total


def _activation_residual_loop(z, u, target, b_next, W_next, P, lo, hi, a, colsum, cross):
    # Eq. 6 in residual form, one row at a time (see _updates.activation_operator):
    # a = h - u, r = target - b - a W^T, a += r P, with h(z) = clip(z, lo, hi);
    # then colsum += a and cross += target^T a. Loops run along rows (j inner)
    # so they vectorise; for a narrow next layer this replaces five NumPy
    # calls and two tiny GEMMs per block, the rank-d_next one of which
    # (``r @ P``) is slow in BLAS (docs/results.rst).
    n_rows, d = a.shape
    k_next = W_next.shape[0]
    shifted = u.shape[0] > 0
    r = np.empty(k_next, dtype=a.dtype)
    for i in range(n_rows):
        for j in range(d):
            a[i, j] = min(max(z[i, j], lo), hi)
        if shifted:
            for j in range(d):
                a[i, j] -= u[i, j]
        for k in range(k_next):
            acc = target[i, k] - b_next[k]
            for j in range(d):
                acc -= a[i, j] * W_next[k, j]
            r[k] = acc
        for k in range(k_next):
            rk = r[k]
            for j in range(d):
                a[i, j] += rk * P[k, j]
        for j in range(d):
            colsum[j] += a[i, j]
        for k in range(k_next):
            t = target[i, k]
            for j in range(d):
                cross[k, j] += t * a[i, j]


if njit is not None:
    # reassoc/contract only: the sum may be reordered and fused, but NaN and
    # inf still propagate, so the divergence guard keeps working.
    _jit = njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    _prox_pieces_compiled = _jit(_prox_pieces_loop)
    _prox_relu_compiled = _jit(_prox_relu_loop)
    _activation_residual_compiled = _jit(_activation_residual_loop)
else:  # pragma: no cover
    _prox_pieces_compiled = _prox_relu_compiled = _activation_residual_compiled = None

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
        scalar = m.dtype.type
        return _prox_relu_compiled(a, m, u, v, scalar(gamma), scalar(beta), bool(update), out)
    return _prox_pieces_compiled(a, m, u, v, float(gamma), float(beta),
                                 _PIECE_ARRAYS[activation], bool(update), out)


#: Widest next layer for which :func:`activation_residual` runs: measured
#: 4.8x faster than NumPy + BLAS per block at width 1, equal at 10.
FUSED_MAX_NEXT = 8

#: Every activation is ``clip(z, lo, hi)``; its bounds are its limits.
_CLIP_BOUNDS = {name: (float(h(np.array(-np.inf))), float(h(np.array(np.inf))))
                for name, (h, _) in ACTIVATIONS.items()}


def activation_residual(z, u, target, b_next, W_next, P, activation, a):
    """Fused eq. 6 in residual form on one block of rows; ``None`` when it
    does not apply (no numba, or the next layer wider than
    :data:`FUSED_MAX_NEXT`).

    ``a = (h(z) - u) + (target - b_next - (h(z) - u) W_next^T) P`` (``u``:
    ``None`` without multipliers). Returns the column sums of ``a`` and
    ``target^T a``, accumulated in the state's dtype over this block.
    """
    if _activation_residual_compiled is None or W_next.shape[0] > FUSED_MAX_NEXT:
        return None
    if u is None:
        u = np.empty((0, 0), dtype=a.dtype)
    lo, hi = (a.dtype.type(x) for x in _CLIP_BOUNDS[activation])
    colsum = np.zeros(a.shape[1], dtype=a.dtype)
    cross = np.zeros((W_next.shape[0], a.shape[1]), dtype=a.dtype)
    _activation_residual_compiled(z, u, target, b_next, W_next, P, lo, hi, a, colsum, cross)
    return colsum, cross

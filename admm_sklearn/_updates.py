"""Closed-form solutions of the ADMM sub-problems (paper, section 3.1).

Layout: samples are rows. ``A`` is ``a_{l-1}^T`` (n x d_in), ``Z`` is
``z_l^T`` (n x d_out), a weight ``W`` is d_out x d_in with bias ``b``
(d_out,), so the paper's ``W_l a_{l-1}`` is ``A @ W.T + b``. Biases are a
constant input row appended to ``a_{l-1}``: the Gram matrices below are those
of the augmented ``[A, 1]``, and the ridge never penalises the bias.

These functions are pure (arrays in, arrays out, no sharding): the engine
calls them on reduced Gram matrices or on one shard's rows. The conjugate
gradients of the exact output refit's Newton steps live here too; their
matrix products are what the engine reduces over the shards.
"""

import numpy as np
from scipy import linalg
from scipy.linalg import lapack


def diagonal(matrix):
    """A writable view of a C-ordered square ``matrix``'s diagonal (numpy's
    fancy-indexed forms cost 10-20 microseconds a call, on matrices as
    small as 1 x 1 in every sweep's activation operator)."""
    if not matrix.flags.c_contiguous:  # reshape would copy: the writes would be lost
        raise ValueError("diagonal() needs a C-ordered matrix")
    return matrix.reshape(-1)[::matrix.shape[0] + 1]


class GramFactor:
    """Factorisation of ``a a^T + ridge D`` for one or many weight solves.

    Cholesky when ``ridge > 0`` (SPD in exact arithmetic: the ridge lifts
    every direction but the bias, which ``[A, 1]`` always spans); otherwise,
    or if rounding defeats Cholesky (float32 Grams of huge activations), the
    pseudo-inverse through the eigendecomposition: the minimum-norm least
    squares solution, robust to duplicated or constant features, and the
    paper's ``z_l a_{l-1}^dagger`` when ``ridge == 0``, without forming
    ``a^dagger``. ``D`` is the identity without its bias entry.
    """

    def __init__(self, gram, ridge):
        gram = np.array(gram, dtype=np.float64, order="C")  # diagonal() needs C order
        d = gram.shape[0]
        self._cholesky = self._pinv = None
        if ridge > 0:
            diagonal(gram)[:-1] += ridge
            # LAPACK itself: scipy's cho_factor / cho_solve wrappers cost
            # about 30 microseconds a call, 15% of a small fit's time
            # (breast cancer, 3-4 calls a sweep of about 1 ms)
            factor, info = lapack.dpotrf(gram, lower=1, clean=0)
            if info == 0:
                self._cholesky = factor
                return
        self._pinv = linalg.pinvh(gram, atol=0.0, rtol=d * np.finfo(np.float64).eps)

    def solve(self, rhs):
        """``(a a^T + ridge D)^{-1} rhs``. Unchecked for NaN: a non-finite
        ``rhs`` gives non-finite weights, which the sweep's guard reports
        (:meth:`ADMMSolver.check_finite`); checking here cost 4% of a small
        fit."""
        if self._cholesky is not None:
            solution, _ = lapack.dpotrs(self._cholesky, rhs, lower=1)
            return solution
        return self._pinv @ rhs


def solve_weights(za, gram, ridge, factor=None):
    """Weight update: ``W_l = (z a^T)(a a^T + ridge D)^{-1}``.

    Minimises ``beta * ||Z - [A, 1] [W, b]^T||^2 + beta * ridge * ||W||^2``,
    the least-squares step ``W_l <- z_l a_{l-1}^dagger`` of Algorithm 1 when
    ``ridge == 0`` (see :class:`GramFactor`).

    Parameters
    ----------
    za : ndarray of shape (d_out, d_in + 1)
        ``sum_n z^n [a^n; 1]^T``, reduced over all shards.
    gram : ndarray of shape (d_in + 1, d_in + 1)
        ``sum_n [a^n; 1][a^n; 1]^T``, reduced over all shards.
    ridge : float
        Tikhonov weight; 0 gives the paper's pseudo-inverse solution.
    factor : GramFactor, optional
        A factorisation of ``gram`` with this ``ridge``, reused when the
        Gram does not change between solves (the input layer's).

    Returns
    -------
    W : ndarray of shape (d_out, d_in), b : ndarray of shape (d_out,)
        In float64.
    """
    factor = factor if factor is not None else GramFactor(gram, ridge)
    wb = factor.solve(np.asarray(za, dtype=np.float64).T).T
    return wb[:, :-1], wb[:, -1]


def conjugate_gradients(multiply, precondition, rhs, tolerance, max_products):
    """Preconditioned conjugate gradients for ``H s = rhs``, ``H`` SPD.

    ``multiply(D)`` returns ``H D`` (in the output refit, one data pass) and
    ``precondition(R)`` applies the inverse of an SPD approximation of
    ``H``. Stops once ``||rhs - H s|| <= tolerance``, after
    ``max_products`` products, or at a direction of non-positive curvature
    (rounding, where ``H`` is nearly singular). Returns ``(s, products)``.
    """
    step = np.zeros_like(rhs)
    residual = rhs.copy()
    direction = precondition(residual)
    rz = np.vdot(residual, direction)
    products = 0
    while products < max_products:
        Hd = multiply(direction)
        products += 1
        curvature = np.vdot(direction, Hd)
        if not curvature > 0:
            break
        length = rz / curvature
        step += length * direction
        residual -= length * Hd
        if np.linalg.norm(residual) <= tolerance:
            break
        preconditioned = precondition(residual)
        rz, rz_old = np.vdot(residual, preconditioned), rz
        direction = preconditioned + (rz / rz_old) * direction
    return step, products


def activation_operator(W, beta, gamma):
    """Matrix ``P`` of the activation update (eq. 6) in residual form.

    Eq. 6 reads ``a_l = (beta W^T W + gamma I)^{-1} (beta W^T (z_{l+1} - b)
    + gamma h(z_l))`` with ``W = W_{l+1}``. With ``K = gamma I + beta W W^T``
    and the push-through identity ``W (beta W^T W + gamma I)^{-1} = K^{-1} W``
    it is, in rows,

        a_l = h(z_l) + (z_{l+1} - b - h(z_l) W^T) P,   P = beta K^{-1} W,

    which costs ``4 n d_l d_{l+1}`` flops instead of ``2 n d_l (d_l +
    d_{l+1})``: cheaper whenever the next layer is narrower (Woodbury).

    Returns
    -------
    P : ndarray of shape (d_{l+1}, d_l)
    """
    W = np.asarray(W, dtype=np.float64)
    K = beta * (W @ W.T)
    diagonal(K)[...] += gamma
    return beta * _spd_solve(K, W)


def _spd_solve(matrix, rhs):
    """``matrix^{-1} rhs`` for an SPD ``matrix`` (``gamma I`` plus a Gram),
    by LAPACK's Cholesky directly: these matrices are often 1 x 1 to 10 x
    10, where scipy's wrappers cost more than the solve."""
    factor, info = lapack.dpotrf(matrix, lower=1, clean=0)
    if info != 0:  # rounding defeated Cholesky: a general solve
        return linalg.solve(matrix, rhs)
    solution, _ = lapack.dpotrs(factor, rhs, lower=1)
    return solution


def activation_direct(W, beta, gamma):
    """Matrices ``(Q, S)`` of eq. 6 in direct form.

    ``a_l = (z_{l+1} - b) Q + h(z_l) S`` with ``Q = beta W M^{-1}``,
    ``S = gamma M^{-1}`` and ``M = beta W^T W + gamma I``: cheaper than the
    residual form when the next layer is wider than this one.
    """
    W = np.asarray(W, dtype=np.float64)
    M = beta * (W.T @ W)
    diagonal(M)[...] += gamma
    inverse = _spd_solve(M, np.eye(M.shape[0]))
    return beta * (inverse @ W.T).T, gamma * inverse


def prox_hidden(a, m, gamma, beta, pieces, out):
    """Output update (eq. 7), entrywise global minimiser.

    ``out = argmin_z gamma (a - h(z))^2 + beta (z - m)^2`` for a piecewise
    linear ``h`` given by ``pieces``: on each piece ``h(z) = s z + c`` the
    minimiser is ``(gamma s (a - c) + beta m) / (gamma s^2 + beta)`` clipped
    to the piece; the best piece wins (ties go to the first piece).

    Returns the per-entry optimal value ``gamma (a - h(z))^2 + beta (z - m)^2``
    summed, so callers can report the penalty objective at no extra pass.
    """
    best = None
    z = np.empty_like(m)
    val = np.empty_like(m)
    tmp = np.empty_like(m)
    for lo, hi, s, c in pieces:
        # z = clip((gamma s (a - c) + beta m) / (gamma s^2 + beta), lo, hi)
        np.subtract(a, c, out=z)
        z *= gamma * s
        np.multiply(m, beta, out=tmp)
        z += tmp
        z *= 1.0 / (gamma * s * s + beta)
        np.clip(z, lo, hi, out=z)
        # val = gamma (a - s z - c)^2 + beta (z - m)^2
        np.multiply(z, s, out=val)
        val += c
        np.subtract(a, val, out=val)
        np.square(val, out=val)
        val *= gamma
        np.subtract(z, m, out=tmp)
        np.square(tmp, out=tmp)
        tmp *= beta
        val += tmp
        if best is None:
            out[...] = z
            best = val.copy()
        else:
            mask = np.less(val, best, out=np.empty(val.shape, dtype=bool))
            np.copyto(out, z, where=mask)
            np.minimum(best, val, out=best)
    return float(best.sum(dtype=np.float64))

"""Output losses: the final-layer update (the prox of the loss) and its value.

The output update of Algorithm 1 (eq. 5 with its multiplier) is, per sample,

    z_L = argmin_z loss(z, y) + <lambda, z> + beta ||z - m||^2,   m = W_L a_{L-1} + b_L,

i.e. the proximal operator of ``loss`` at ``z0 = m - lambda / (2 beta)`` with
step ``1 / (2 beta)``. Targets ``y`` are 0/1 indicators (one column for
binary problems, one per class otherwise).

``'hinge'``: the separable 0/1 hinge of the paper's section 6, one-vs-rest;
the decision threshold of an output unit is 0.5. Closed form.

``'log_loss'``: the logistic loss for one output unit (binary) and the
multinomial (softmax) cross-entropy for several, so the outputs are logits
and the decision threshold is 0. Its prox has no closed form; a safeguarded
Newton iteration (Armijo backtracking on the strongly convex row problem,
Sherman-Morrison for the softmax Hessian) solves it to round-off.

``'squared_error'`` (regression): ``||z - y||^2 / 2`` on real targets, as in
MLPRegressor. Its prox is an average: closed form.

Each loss's value takes optional sample weights ``w`` (one per row) and then
returns ``sum_n w_n loss(z_n, y_n)``; the updates are per row and do not
depend on them.
"""

from typing import Callable, NamedTuple

import numpy as np
from scipy.special import expit, log_expit, logsumexp

from ._kernels import log_loss_sum_rows, newton_step_log_loss, prox_log_loss_rows


def prox_hinge(y, m, lam, beta, out):
    """Final-layer output update of Algorithm 1, entrywise.

    ``out = argmin_z l(z, y) + lam z + beta (z - m)^2`` with the separable
    hinge of section 6: ``max(1 - z, 0)`` for ``y = 1`` and ``max(z, 0)`` for
    ``y = 0``. The problem is convex with one kink ``k = y``; with
    ``z0 = m - lam / (2 beta)`` (the minimiser without loss) the solution is
    ``z0 + clip(1 - z0, 0, 1/(2 beta))`` for ``y = 1`` and
    ``z0 - clip(z0, 0, 1/(2 beta))`` for ``y = 0``.
    """
    step = 0.5 / beta
    z0 = np.subtract(m, lam * step if lam is not None else 0.0, out=out)
    # For y=1 move up by clip(1 - z0, 0, step); for y=0 down by clip(z0, 0, step).
    # Both are  sign * clip(y - z0 ... ) written with the kink k = y:
    # shift = clip(k - z0, 0, step) if y == 1 else -clip(z0 - k, 0, step).
    up = np.clip(1.0 - z0, 0.0, step)
    down = np.clip(z0, 0.0, step)
    out += np.where(y > 0.5, up, -down)
    return out


def _weighted_sum(rows, w):
    """``sum_n w_n rows_n`` over the rows of an entrywise loss, in float64."""
    if w is None:
        return float(rows.sum(dtype=np.float64))
    return float(w.astype(np.float64) @ rows.sum(axis=1, dtype=np.float64))


def hinge_loss_sum(y, z, w=None):
    """Separable 0/1 hinge of section 6, summed: ``max(1-z,0)`` if y else ``max(z,0)``."""
    return _weighted_sum(np.where(y > 0.5, np.maximum(1.0 - z, 0), np.maximum(z, 0)), w)


def _log_loss_rows(y, z):
    """Per-row log-loss: logistic for one column, multinomial otherwise."""
    if z.shape[1] == 1:
        return -(y * log_expit(z) + (1.0 - y) * log_expit(-z)).sum(axis=1)
    return logsumexp(z, axis=1) - np.einsum("ij,ij->i", y, z)


def log_loss_sum(y, z, w=None, compiled=True):
    """Logistic / multinomial cross-entropy of logits ``z``, summed (weighted by ``w``)."""
    total = log_loss_sum_rows(y, z) if compiled and w is None else None
    if total is None:
        rows = _log_loss_rows(y, np.asarray(z, dtype=np.float64))
        total = rows.sum() if w is None else np.asarray(w, dtype=np.float64) @ rows
    return float(total)


def probabilities(z):
    """Class probabilities of logits: sigmoid of one column, softmax of several."""
    if z.shape[1] == 1:
        return expit(z)
    # scipy's softmax, less its argument handling: that cost more than the
    # arithmetic on the unit passes' few thousand moved rows at a time
    p = z - z.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def _newton_direction(p, g, beta):
    """``H^{-1} g`` with ``H = diag(p) - p p^T + 2 beta I`` per row (softmax) or
    ``p (1 - p) + 2 beta`` (one logistic column)."""
    if p.shape[1] == 1:
        return g / (p * (1.0 - p) + 2.0 * beta)
    dinv = 1.0 / (p + 2.0 * beta)
    u, w = dinv * g, dinv * p
    # Sherman-Morrison; p^T D^{-1} p < 1 since sum p = 1 and beta > 0
    coef = np.einsum("ij,ij->i", p, u) / (1.0 - np.einsum("ij,ij->i", p, w))
    return u + w * coef[:, None]


def prox_log_loss(y, m, lam, beta, out, tol=1e-10, max_iter=100, compiled=True, warm=False):
    """``out = argmin_z log_loss(z, y) + <lam, z> + beta ||z - m||^2`` per row.

    Damped Newton from ``z0 = m - lam / (2 beta)``: the row problem is
    ``2 beta``-strongly convex, so Newton steps with Armijo backtracking
    converge globally and quadratically near the solution; rows leave the
    iteration once their gradient is below ``tol`` (relative to
    ``1 + |z|``). ``warm``: start from ``out`` (the previous sweep's
    solution) instead. ``compiled=False`` forces the NumPy iteration (the
    reference the numba kernel is tested against).
    """
    return _prox_log_loss(y, m, lam, beta, out, tol, max_iter, compiled, warm)[0]


def _prox_log_loss(y, m, lam, beta, out, tol=1e-10, max_iter=100, compiled=True,
                   warm=False):
    """:func:`prox_log_loss` and the summed log-loss at its solution."""
    z0 = np.asarray(m, dtype=np.float64) - (0.0 if lam is None else lam * (0.5 / beta))
    y = np.asarray(y, dtype=np.float64)
    if compiled:
        total = prox_log_loss_rows(y, z0, beta, tol, max_iter, warm, out)
        if total is not None:
            return out, total
    z = np.array(out, dtype=np.float64) if warm else z0.copy()

    def objective(yy, zz, cc):
        return _log_loss_rows(yy, zz) + beta * np.square(zz - cc).sum(axis=1)

    active = np.arange(len(z))
    for _ in range(max_iter):
        if active.size == 0:
            break
        za, ya, ca = z[active], y[active], z0[active]
        p = probabilities(za)
        g = p - ya + 2.0 * beta * (za - ca)
        done = np.abs(g).max(axis=1) <= tol * (1.0 + np.abs(za).max(axis=1))
        active, za, ya, ca, p, g = (arr[~done] for arr in (active, za, ya, ca, p, g))
        if active.size == 0:
            break
        d = _newton_direction(p, g, beta)
        f0 = objective(ya, za, ca)
        slope = np.einsum("ij,ij->i", g, d)
        t = np.ones(len(za))
        # below this noise f's decrease is round-off: such rows have converged
        noise = 1e-13 * (1.0 + np.abs(za).max(axis=1) + np.abs(f0))
        for _ in range(40):
            trial = za - t[:, None] * d
            f_trial = objective(ya, trial, ca)
            bad = f_trial > f0 - 0.25 * t * slope + noise
            if not bad.any():
                break
            t[bad] *= 0.5
        stuck = f_trial > f0 + noise
        z[active[~stuck]] = trial[~stuck]
        active = active[~stuck]
    out[...] = z
    return out, log_loss_sum(y, z)


def update_hinge_outputs(y, m, lam, beta, out):
    """Output update with the hinge loss; returns the loss at the solution."""
    return hinge_loss_sum(y, prox_hinge(y, m, lam, beta, out))


def newton_step(y, m, lam, beta, z, tol=1e-10, compiled=True):
    """One safeguarded Newton step of the log-loss prox, from ``z``, in place.

    The prox centre is ``z0 = m - lam / (2 beta)`` (``lam=None``: ``m``).
    ``z`` takes the full Newton step ``z - H^{-1} g`` of the row problem
    ``log_loss(z, y) + beta ||z - z0||^2`` wherever Armijo's test accepts
    it. Returns ``(failed, row_loss)``: the rows that still need a step (the
    test failed; never those converged to ``tol``) and the log-loss of
    each row at its new ``z``. ``compiled=False`` runs the NumPy reference
    of the compiled kernel.
    """
    c = 0.0 if lam is None else 0.5 / beta
    if compiled:
        step = newton_step_log_loss(y, m, m if lam is None else lam, c, z, beta, tol)
        if step is not None:
            return step
    y = np.asarray(y, dtype=np.float64)
    z0 = np.asarray(m, dtype=np.float64) - (0.0 if lam is None else c * lam)
    zz = z.astype(np.float64)
    p = probabilities(zz)
    row_loss = _log_loss_rows(y, zz)
    f0 = row_loss + beta * np.square(zz - z0).sum(axis=1)
    g = p - y + 2.0 * beta * (zz - z0)
    d = _newton_direction(p, g, beta)
    trial = (zz - d).astype(z.dtype)
    eps = 4.0 * np.finfo(z.dtype).eps
    scale = 1.0 + np.abs(zz).max(axis=1)
    active = ((np.abs(g).max(axis=1) > tol * scale)
              & (np.abs(d).max(axis=1) > eps * scale))
    trial_loss = _log_loss_rows(y, trial.astype(np.float64))
    f1 = trial_loss + beta * np.square(trial - z0).sum(axis=1)
    slope = np.einsum("ij,ij->i", g, d)
    accept = active & (f1 <= f0 - 0.25 * slope + 1e-13 * (1.0 + np.abs(f0)))
    z[accept] = trial[accept]
    row_loss[accept] = trial_loss[accept]
    return active & ~accept, row_loss


def update_log_loss_outputs(y, m, lam, beta, out):
    """Output update with the log-loss; returns the loss at the solution.

    From a warm start (``out`` holds the previous sweep's ``z_L``) one
    Newton step of the prox (:func:`newton_step`), not the exact prox: the
    prox's centre moves little from sweep to sweep, so one quadratically
    convergent step from the last solution lands near the new one, and it
    decreases the row objective, so a sweep without multiplier steps still
    never increases eq. 4. Rows whose full step fails Armijo's test are
    solved exactly. Measured on letter, 200 sweeps: the same training
    accuracy as with the exact prox, and the whole fit 1.6x faster
    (docs/what_we_tried.rst, "Output layer and loss"). A cold start solves the prox
    exactly.
    """
    if not np.all(np.isfinite(out)):
        return _prox_log_loss(y, m, lam, beta, out)[1]
    failed, row_loss = newton_step(y, m, lam, beta, out)
    rows = np.flatnonzero(failed)
    total = float(row_loss.sum())
    if rows.size:
        z = out[rows]
        total += _prox_log_loss(y[rows], m[rows], None if lam is None else lam[rows],
                                beta, z, warm=True)[1]
        total -= float(row_loss[rows].sum())
        out[rows] = z
    return total


def prox_squared_error(y, m, lam, beta, out):
    """``out = argmin_z ||z - y||^2 / 2 + <lam, z> + beta ||z - m||^2``, entrywise.

    Setting the derivative ``z - y + lam + 2 beta (z - m)`` to zero gives the
    weighted average ``z = (y - lam + 2 beta m) / (1 + 2 beta)``.
    """
    np.multiply(m, 2.0 * beta, out=out)
    out += y
    if lam is not None:
        out -= lam
    out /= 1.0 + 2.0 * beta
    return out


def squared_error_sum(y, z, w=None):
    """``sum_n w_n ||z_n - y_n||^2 / 2`` (MLPRegressor's loss, not averaged)."""
    return 0.5 * _weighted_sum(np.square(z - y), w)


def update_squared_error_outputs(y, m, lam, beta, out):
    """Output update with the squared error; returns the loss at the solution."""
    return squared_error_sum(y, prox_squared_error(y, m, lam, beta, out))


class Loss(NamedTuple):
    """One output loss: everything the engine and the passes look up by name."""

    #: ``update(y, m, lam, beta, out)`` writes ``z_L`` (the prox) into
    #: ``out`` and returns the summed loss there
    update: Callable
    #: ``value(y, z, w=None)``: the loss summed over rows, weighted by ``w``
    value: Callable
    #: decision threshold of an output unit (``None`` for regression)
    threshold: float | None
    #: what ``y`` holds: ``'indicators'`` (0/1, one column per output unit)
    #: or ``'standardized'`` (real targets, zero mean and unit variance)
    targets: str
    #: ``residual(y, z)``: minus the loss's gradient in ``z`` (``None``: the
    #: unit passes of :mod:`~admm_sklearn._unit_refit` do not apply)
    residual: Callable | None = None
    #: ``curvature(n_outputs)``: a bound on the Hessian of one row's loss
    #: (the loss lies below its quadratic with this curvature)
    curvature: Callable | None = None


def log_loss_residual(y, z):
    """``y - p``: minus the log-loss's gradient in the logits ``z``."""
    return y - probabilities(z)


def log_loss_curvature(n_outputs):
    """Boehning's bound: the softmax cross-entropy's Hessian is at most
    ``(I - 1 1^T / K) / 2``, so at most ``1/2``; the logistic loss's ``1/4``."""
    return 0.25 if n_outputs == 1 else 0.5


def squared_error_residual(y, z):
    """``y - z``: minus the squared error's gradient."""
    return y - z


#: name -> :class:`Loss`
LOSSES = {
    "hinge": Loss(update_hinge_outputs, hinge_loss_sum, 0.5, "indicators"),
    "log_loss": Loss(update_log_loss_outputs, log_loss_sum, 0.0, "indicators",
                     log_loss_residual, log_loss_curvature),
    "squared_error": Loss(update_squared_error_outputs, squared_error_sum, None,
                          "standardized", squared_error_residual, lambda n_outputs: 1.0),
}

#: The classifiers' losses and the regressors'.
CLASSIFICATION_LOSSES = tuple(k for k, v in LOSSES.items() if v.targets == "indicators")
REGRESSION_LOSSES = tuple(k for k, v in LOSSES.items() if v.targets == "standardized")


def label_codes(outputs, threshold):
    """Class indices from output units: ``threshold`` (one unit) or the largest unit."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > threshold).astype(int)
    return np.argmax(outputs, axis=1)

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


def _prox_point(a, m, bias, u, v, scale, i, j, shifted, no_shift):
    # Where the prox of entry (i, j) is taken, shared by the prox loops:
    # ``(a', m + bias, m', v')`` with, under scaled multipliers (``shifted``),
    # a' = a + u, v' = v times the unit's scale and m' = m + bias - v';
    # otherwise a' = a, m' = m + bias and v' = ``no_shift`` (a zero in v's
    # dtype).
    ai = a[i, j]
    mb = m[i, j] + bias[j]
    mi = mb
    vij = no_shift
    if shifted:
        ai += u[i, j]
        vij = v[i, j] * scale[j]
        mi -= vij
    return ai, mb, mi, vij


def _prox_pieces_loop(a, m, bias, u, v, gamma, beta, pieces, update, scale, scaled, out, zv):
    # Same rule as _updates.prox_hidden: the clipped stationary point of each
    # linear piece is a candidate, the lowest value wins, ties to the first.
    # With scaled multipliers (u, v non-empty) the prox is taken at a + u and
    # m - v, and with ``update`` the multiplier steps follow in the same pass:
    # u += a - h(z), v += z - m (h(z) from the winning piece). ``scale``: the
    # balancing's unit scales, by which v is multiplied as it is read (and
    # stored so, if ``scaled``); ones otherwise. ``m`` is read plus ``bias``
    # (the layer's, or zeros): no pass of its own to add it. ``zv``, unless
    # empty, takes z + v as stored (the next W_l solve's target, formed
    # while the row is in cache).
    n_pieces = pieces.shape[0]
    summed = zv.shape[0] > 0
    inv = np.empty(n_pieces)
    for k in range(n_pieces):
        inv[k] = 1.0 / (gamma * pieces[k, 2] * pieces[k, 2] + beta)
    shifted = u.shape[0] > 0
    no_shift = v.dtype.type(0)  # in v's dtype, as the products it stands for
    total = 0.0
    n_rows, n_cols = m.shape
    for i in range(n_rows):
        for j in range(n_cols):
            ai, mb, mi, vij = _prox_point(a, m, bias, u, v, scale, i, j, shifted, no_shift)
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
                v[i, j] = vij + (arg - mb)
            elif scaled and shifted:
                v[i, j] = vij
            if summed:
                zv[i, j] = arg + v[i, j]
    return total


def _prox_relu_row(a, m, bias, u, v, scale, out, zv, i, gamma, beta, shifted, update, store_v,
                   summed):
    # One row of _prox_relu_loop, returning its penalty. The four flags are
    # constants at every call (the loop below calls it once per case, and it
    # is inlined), so each case compiles to a straight loop that vectorises:
    # with the flags read at run time LLVM left the loop scalar, 2.5-4x slower
    # (2.9-6 ns an entry against 0.7-1.5 on 1,310 x 100 float32 blocks).
    # ReLU pieces in closed form (see _updates.prox_hidden): positive piece
    # p = (gamma a + beta m) / (gamma + beta), value gamma beta/(gamma+beta)
    # (a - m)^2; non-positive piece min(m, 0), value gamma a^2 + beta
    # max(m, 0)^2. Written without branches (``&``, not ``and``) and with
    # gamma, beta in the state's dtype, so that the loop vectorises in that
    # dtype.
    w_a = gamma / (gamma + beta)
    w_m = beta / (gamma + beta)
    c = gamma * beta / (gamma + beta)
    zero = gamma - gamma
    row = zero
    for j in range(m.shape[1]):
        ai, mb, mi, vij = _prox_point(a, m, bias, u, v, scale, i, j, shifted, zero)
        p = w_a * ai + w_m * mi
        pos_val = c * (ai - mi) * (ai - mi)
        mp = max(mi, zero)
        neg_val = gamma * ai * ai + beta * mp * mp
        take = (p > zero) & (pos_val < neg_val)
        z = p if take else min(mi, zero)
        out[i, j] = z
        row += pos_val if take else neg_val
        if update:
            u[i, j] += a[i, j] - max(z, zero)
            v[i, j] = vij + (z - mb)
        elif store_v:
            v[i, j] = vij
        if summed:
            zv[i, j] = z + v[i, j]
    return row


def _prox_relu_loop(a, m, bias, u, v, gamma, beta, update, scale, scaled, out, zv):
    # The ReLU prox row by row (_prox_relu_row), one call per case of the
    # flags that a sweep meets: no multipliers; multiplier steps
    # (``update``), or none (then ``v`` is stored times the unit scales if
    # ``scaled``, read at run time: the engine's balancing comes with the
    # steps); ``zv`` filled or not.
    # Multipliers, unit scales, ``bias`` and ``zv`` as in _prox_pieces_loop.
    # Row sums in the state's dtype, their total in float64.
    shifted = u.shape[0] > 0
    summed = zv.shape[0] > 0
    total = 0.0
    for i in range(m.shape[0]):
        if not shifted:
            row = _prox_relu_row(a, m, bias, u, v, scale, out, zv, i, gamma, beta,
                                 False, False, False, False)
        elif update and summed:
            row = _prox_relu_row(a, m, bias, u, v, scale, out, zv, i, gamma, beta,
                                 True, True, False, True)
        elif update:
            row = _prox_relu_row(a, m, bias, u, v, scale, out, zv, i, gamma, beta,
                                 True, True, False, False)
        elif summed:  # no multiplier steps: the warm-up, never with unit scales
            row = _prox_relu_row(a, m, bias, u, v, scale, out, zv, i, gamma, beta,
                                 True, False, scaled, True)
        else:
            row = _prox_relu_row(a, m, bias, u, v, scale, out, zv, i, gamma, beta,
                                 True, False, scaled, False)
        total += row
    return total


def _shifted_activation_loop(z, u, scale, scaled, lo, hi, a):
    # a = clip(z, lo, hi) - u, z and u multiplied by the balancing's unit
    # scales ``scale`` (ones if none) as they are read, and u stored so if
    # ``scaled`` (z is not: the prox overwrites it, and _prox_relu_loop
    # scales v): one pass where NumPy makes four
    shifted = u.shape[0] > 0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = min(max(z[i, j] * scale[j], lo), hi)
        if shifted:
            if scaled:
                for j in range(a.shape[1]):
                    u[i, j] *= scale[j]
            for j in range(a.shape[1]):
                a[i, j] -= u[i, j]


def _activation_residual_loop(z, u, target, b_next, W_next, P, lo, hi, scale, scaled, a,
                              colsum, cross):
    # Eq. 6 in residual form, one row at a time (see _updates.activation_operator):
    # a = h - u (_shifted_activation_loop, over the block first), r = target
    # - b - a W^T, a += r P, with h(z) = clip(z, lo, hi); then colsum += a
    # and cross += target^T a. Loops run along rows (j inner)
    # so they vectorise; for a narrow next layer this replaces five NumPy
    # calls and two tiny GEMMs per block, the rank-d_next one of which
    # (``r @ P``) is slow in BLAS (docs/results.rst).
    _shifted_activation_loop(z, u, scale, scaled, lo, hi, a)
    n_rows, d = a.shape
    k_next = W_next.shape[0]
    r = np.empty(k_next, dtype=a.dtype)
    for i in range(n_rows):
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


# -- the log-loss of one row: the exact prox, its sum, and the Newton step ---
# A scalar exp in a compiled loop costs about 9 ns here, NumPy's vectorised
# exp about 1 ns per entry; the Newton step therefore alternates compiled row
# loops with one ``np.exp`` over the whole block (see
# :func:`newton_step_log_loss`), while the exact prox (cold starts and the
# rare rows whose Newton step fails) exponentiates row by row.
def _shift_row(z, out):
    """``out = z - max(z)`` (softmax) or ``-|z|`` (one logistic column), the
    exponents of a stable log-partition; returns the shift (0 for one column)."""
    K = z.shape[0]
    if K == 1:
        out[0] = -abs(z[0])
        return 0.0
    top = z[0]
    for k in range(1, K):
        top = max(top, z[k])
    for k in range(K):
        out[k] = z[k] - top
    return top


def _logistic(v, e):
    """``sigmoid(v)`` from ``e = exp(-|v|)``, without overflow."""
    return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


def _log_partition(z, e, top, p):
    """Log-partition of one row (``logsumexp`` or softplus) from its
    exponentials ``e = exp(shifted z)``; writes the probabilities into ``p``
    (which may be ``e`` itself: each entry is read before it is written)."""
    K = z.shape[0]
    if K == 1:
        v, e0 = z[0], e[0]
        p[0] = _logistic(v, e0)
        return max(v, 0.0) + np.log1p(e0)
    s = 0.0
    for k in range(K):
        s += e[k]
    inv = 1.0 / s
    for k in range(K):
        p[k] = e[k] * inv
    return top + np.log(s)


def _row_objective(y, z, base, beta, p):
    """``log_loss(z, y) + beta ||z - base||^2`` of one row (logistic if one
    column); writes the class probabilities of ``z`` into ``p`` from the same
    exponentials."""
    K = z.shape[0]
    top = _shift_row(z, p)
    for k in range(K):
        p[k] = np.exp(p[k])
    f = _log_partition(z, p, top, p)  # p is read and written entry by entry
    for k in range(K):
        f += beta * (z[k] - base[k]) ** 2 - y[k] * z[k]
    return f


def _prox_log_loss_loop(y, z0, beta, tol, max_iter, warm, out):
    """Row-wise damped Newton for the log-loss prox (see ``_losses``);
    returns the summed log-loss at the solution."""
    n, K = z0.shape
    loss = 0.0
    z, trial, p, p_trial = np.empty(K), np.empty(K), np.empty(K), np.empty(K)
    g, d = np.empty(K), np.empty(K)
    for i in range(n):
        for k in range(K):
            # start from out (the previous sweep's z_L) when it holds one
            z[k] = out[i, k] if warm else z0[i, k]
        f0 = _row_objective(y[i], z, z0[i], beta, p)
        for _ in range(max_iter):
            gmax, zmax = 0.0, 0.0
            for k in range(K):
                g[k] = p[k] - y[i, k] + 2.0 * beta * (z[k] - z0[i, k])
                gmax = max(gmax, abs(g[k]))
                zmax = max(zmax, abs(z[k]))
            if gmax <= tol * (1.0 + zmax):
                break
            if K == 1:
                d[0] = g[0] / (p[0] * (1.0 - p[0]) + 2.0 * beta)
            else:  # Sherman-Morrison on diag(p + 2 beta) - p p^T
                pu, pw = 0.0, 0.0
                for k in range(K):
                    dinv = 1.0 / (p[k] + 2.0 * beta)
                    pu += p[k] * dinv * g[k]
                    pw += p[k] * dinv * p[k]
                coef = pu / (1.0 - pw)
                for k in range(K):
                    d[k] = (g[k] + p[k] * coef) / (p[k] + 2.0 * beta)
            slope = 0.0
            for k in range(K):
                slope += g[k] * d[k]
            t = 1.0
            # f is computed as a difference of terms of size |z|: below this
            # its decrease is round-off, and the row has converged
            noise = 1e-13 * (1.0 + zmax + abs(f0))
            for _ in range(40):
                for k in range(K):
                    trial[k] = z[k] - t * d[k]
                f1 = _row_objective(y[i], trial, z0[i], beta, p_trial)
                if f1 <= f0 - 0.25 * t * slope + noise:
                    break
                t *= 0.5
            if f1 > f0 + noise:
                break  # no step resolves a decrease: converged to round-off
            f0 = f1
            for k in range(K):
                z[k] = trial[k]
                p[k] = p_trial[k]
        for k in range(K):
            out[i, k] = z[k]
            f0 -= beta * (z[k] - z0[i, k]) ** 2  # the loss alone
        loss += f0
    return loss


def _log_loss_sum_loop(y, z):
    """Summed log-loss of logits ``z`` (rows)."""
    n, K = z.shape
    p, zi = np.empty(K), np.empty(K)
    total = 0.0
    for i in range(n):
        for k in range(K):
            zi[k] = z[i, k]
        total += _row_objective(y[i], zi, zi, 0.0, p)
    return total


def _shift_rows_loop(z, out, top):
    for i in range(z.shape[0]):
        top[i] = _shift_row(z[i], out[i])


def _newton_direction_loop(y, m, lam, c, z, E, top, beta, tol, eps, trial, E_trial,
                           top_trial, f0, slope, row_loss):
    """Per row at ``z`` (exponentials ``E``), for the prox centre ``z0 = m -
    c lam``: objective ``f0``, loss, Newton direction ``d`` and ``trial = z -
    d`` with its shifted exponents; returns which rows step (gradient above
    ``tol`` and a step the dtype resolves)."""
    n, K = z.shape
    p, g, dinv = np.empty(K), np.empty(K), np.empty(K)
    active = np.zeros(n, np.bool_)
    two_beta = 2.0 * beta
    for i in range(n):
        loss = _log_partition(z[i], E[i], top[i], p)
        gmax, zmax, pen = 0.0, 0.0, 0.0
        for k in range(K):
            zk = np.float64(z[i, k])
            r = zk - (m[i, k] - c * lam[i, k])
            loss -= y[i, k] * zk
            pen += r * r
            g[k] = p[k] - y[i, k] + two_beta * r
            gmax = max(gmax, abs(g[k]))
            zmax = max(zmax, abs(zk))
        row_loss[i] = loss
        f0[i] = loss + beta * pen
        if gmax <= tol * (1.0 + zmax):
            continue
        dmax, s = 0.0, 0.0
        if K == 1:
            dk = g[0] / (p[0] * (1.0 - p[0]) + two_beta)
            trial[i, 0] = z[i, 0] - dk
            s, dmax = g[0] * dk, abs(dk)
        else:  # Sherman-Morrison on diag(p + 2 beta) - p p^T
            pu, pw = 0.0, 0.0
            for k in range(K):
                dinv[k] = 1.0 / (p[k] + two_beta)
                pu += p[k] * dinv[k] * g[k]
                pw += p[k] * dinv[k] * p[k]
            coef = pu / (1.0 - pw)
            for k in range(K):
                dk = (g[k] + p[k] * coef) * dinv[k]
                s += g[k] * dk
                dmax = max(dmax, abs(dk))
                trial[i, k] = z[i, k] - dk
        slope[i] = s
        if dmax > eps * (1.0 + zmax):
            active[i] = True
            top_trial[i] = _shift_row(trial[i], E_trial[i])
    return active


def _newton_accept_loop(y, m, lam, c, z, trial, E, top, beta, f0, slope, active,
                        row_loss):
    """Armijo test of the full step on every active row: accepted rows take
    ``trial`` (and its loss) and leave ``active``; returns how many failed."""
    n, K = z.shape
    p = np.empty(K)
    failed = 0
    for i in range(n):
        if not active[i]:
            continue
        loss = _log_partition(trial[i], E[i], top[i], p)
        pen = 0.0
        for k in range(K):
            tk = np.float64(trial[i, k])
            r = tk - (m[i, k] - c * lam[i, k])
            loss -= y[i, k] * tk
            pen += r * r
        if loss + beta * pen <= f0[i] - 0.25 * slope[i] + 1e-13 * (1.0 + abs(f0[i])):
            active[i] = False
            row_loss[i] = loss
            for k in range(K):
                z[i, k] = trial[i, k]
        else:
            failed += 1
    return failed


def _transpose_accumulate_loop(indptr, indices, data, T, out):
    # out[j] += X[i, j] T[i] over the stored entries of the CSR rows of X
    for i in range(T.shape[0]):
        for p in range(indptr[i], indptr[i + 1]):
            j, x = indices[p], data[p]
            for k in range(T.shape[1]):
                out[j, k] += x * T[i, k]


def _row_dot(A, i, x):
    # A[i] . x, compiled inline into the unit loops
    total = 0.0
    for c in range(A.shape[1]):
        total += A[i, c] * x[c]
    return total


def _rhs_row(R, v, z, w, q, s, i, one):
    # row i of _unit_rhs_loop: q_i = R_i v, then s_i = w_i q_i [z_i > 0]
    qi = R[i, 0] * v[0] if one else _row_dot(R, i, v)
    q[i] = qi
    s[i] = qi * w[i] * np.float64(z[i] > 0.0)


def _unit_rhs_loop(XT, z, R, v, w, q, rhs):
    # q = R v, rhs = sum over active rows (z > 0) of w q x, with XT = X^T:
    # the rows' weights first, the activity a 0/1 factor and not a branch (a
    # unit is on or off at random across rows: mispredicted, the branch
    # cost 2.5x the loop), then one dot product per input along the rows.
    # One output (``one``, a constant in its own loop: the regressor's usual
    # case) has a loop of its own, which the inner dot product of length
    # one kept scalar.
    n = XT.shape[1]
    s = np.empty(n)
    if R.shape[1] == 1:
        for i in range(n):
            _rhs_row(R, v, z, w, q, s, i, True)
    else:
        for i in range(n):
            _rhs_row(R, v, z, w, q, s, i, False)
    for c in range(XT.shape[0]):
        total = 0.0
        for i in range(n):
            total += s[i] * XT[c, i]
        rhs[c] += total


def _unit_try_loop(XT, z, a, q, w, step, vv, scales, xs, changes):
    # xs = X step (XT = X^T, one pass along the rows per input), and per
    # scale t of the four the data term's change sum w d (vv d / 2 - q), d =
    # relu(z + t xs) - a, all four in one pass over the rows (a pass per
    # scale read every array four times: 33 against 26 us for 7,500 rows);
    # every loop runs along the rows and vectorises
    n = XT.shape[1]
    for i in range(n):
        xs[i] = step[0] * XT[0, i]
    for c in range(1, XT.shape[0]):
        sc = step[c]
        for i in range(n):
            xs[i] += sc * XT[c, i]
    t0, t1, t2, t3 = scales[0], scales[1], scales[2], scales[3]
    half = 0.5 * vv
    c0 = c1 = c2 = c3 = 0.0
    for i in range(n):
        zi, xi, ai, qi, wi = z[i], xs[i], a[i], q[i], w[i]
        d = max(zi + t0 * xi, 0.0) - ai
        c0 += wi * d * (half * d - qi)
        d = max(zi + t1 * xi, 0.0) - ai
        c1 += wi * d * (half * d - qi)
        d = max(zi + t2 * xi, 0.0) - ai
        c2 += wi * d * (half * d - qi)
        d = max(zi + t3 * xi, 0.0) - ai
        c3 += wi * d * (half * d - qi)
    changes[0] += c0
    changes[1] += c1
    changes[2] += c2
    changes[3] += c3


def _flip_gram(XT, i, sign, G):
    # G += sign x_i x_i^T (x_i column i of XT): row i of a unit's commit
    # turned active (sign = its weight) or inactive (minus it). A call only
    # on the rows that flip: called on every row, a compiled function taking
    # arrays is not inlined and costs about 25 ns a row in argument passing
    # (the commit of 7,500 rows took 196 us instead of 18)
    for r in range(XT.shape[0]):
        xr = sign * XT[r, i]
        for c in range(XT.shape[0]):
            G[r, c] += xr * XT[c, i]


def _commit_row(z, a, R, v, xs, scale, f, y, i, flipped, one):
    # row i of _unit_commit_loop; marks in ``flipped`` whether it flips
    zi = z[i] + scale * xs[i]
    flipped[i] = (zi > 0.0) != (z[i] > 0.0)
    ai = max(zi, 0.0)
    d = ai - a[i]
    z[i] = zi
    a[i] = ai
    if one:
        R[i, 0] -= d * v[0]
    elif f.shape[0] > 0:
        if d != 0.0:
            fi = f[i] + d * v[0]
            f[i] = fi
            R[i, 0] = y[i] - _logistic(fi, np.exp(-abs(fi)))
    else:
        for k in range(R.shape[1]):
            R[i, k] -= d * v[k]


def _unit_commit_loop(XT, z, a, R, v, xs, scale, w, G, f, y):
    # z += scale xs, a = relu(z), G updated on the rows that flip, then the
    # outputs: R -= (a_new - a) v^T, or with one logistic output (``f`` its
    # column, not empty) f += (a_new - a) v and the residual R = y -
    # sigmoid(f) anew on the rows whose feature moved (one exp a row), where
    # NumPy marks, gathers and scatters them. The rows that flip are marked
    # and their Gram updates made after the loop, and one squared-error
    # output (``one``, a constant in its own loop) has a loop of its own:
    # with a call inside (_flip_gram, not inlined) and the outputs' cases
    # read in it, the loop stayed scalar (7,500 rows: 64 us in a fit).
    flipped = np.empty(z.shape[0], dtype=np.bool_)
    if R.shape[1] == 1 and f.shape[0] == 0:
        for i in range(z.shape[0]):
            _commit_row(z, a, R, v, xs, scale, f, y, i, flipped, True)
    else:
        for i in range(z.shape[0]):
            _commit_row(z, a, R, v, xs, scale, f, y, i, flipped, False)
    for i in range(z.shape[0]):
        if flipped[i]:
            _flip_gram(XT, i, w[i] if z[i] > 0.0 else -w[i], G)


def _deep_unit_system_loop(A, z, Z_up, m, r, w, gram, rhs):
    # a unit one layer below a single output: on its active rows (z > 0) the
    # output's direction g = m . 1[Z_up > 0] (m = the unit's outgoing
    # weights times the output weights), then sum w g^2 a a^T and
    # sum w r g a. The mask is a select, not a branch (the units above are
    # on or off at random across rows), so the loop vectorises; the full
    # square is faster than a triangle.
    for i in range(A.shape[0]):
        if z[i] <= 0.0:
            continue
        g = 0.0
        for u in range(m.shape[0]):
            g += m[u] if Z_up[i, u] > 0.0 else 0.0
        v = w[i] * g * g
        rg = w[i] * r[i] * g
        for a in range(A.shape[1]):
            x = A[i, a]
            rhs[a] += rg * x
            x *= v
            for c in range(A.shape[1]):
                gram[a, c] += x * A[i, c]


def _output_change(Z_up, i, d, col, m):
    # the single output's change when row i's unit below moves its
    # activation by d: sum_u m_u (relu(Z_up + d col_u) - relu(Z_up))
    df = 0.0
    for u in range(m.shape[0]):
        old = Z_up[i, u]
        df += m[u] * (max(old + d * col[u], 0.0) - max(old, 0.0))
    return df


def _deep_unit_try_loop(A, z, a, Z_up, col, m, r, w, step, t, kappa, fresh, xs):
    # xs = A step (unless kept from the last scale), and the bound's change
    # sum w (kappa df^2 / 2 - r df) over the rows whose activation moves
    change = 0.0
    for i in range(A.shape[0]):
        if fresh:
            xs[i] = _row_dot(A, i, step)
        d = max(z[i] + t * xs[i], 0.0) - a[i]
        if d != 0.0:
            df = _output_change(Z_up, i, d, col, m)
            change += w[i] * df * (0.5 * kappa * df - r[i])
    return change


def _deep_unit_commit_loop(z, a, Z_up, top, col, m, F, xs, t, moved):
    # the step taken: z, a = relu(z), and on the rows it moves the layer
    # above's pre-activations and activations and the output
    count = 0
    for i in range(z.shape[0]):
        zi = z[i] + t * xs[i]
        d = max(zi, 0.0) - a[i]
        z[i] = zi
        if d == 0.0:
            continue
        a[i] = max(zi, 0.0)
        F[i] += _output_change(Z_up, i, d, col, m)
        for u in range(col.shape[0]):
            v = Z_up[i, u] + d * col[u]
            Z_up[i, u] = v
            top[i, u] = max(v, 0.0)
        moved[count] = i
        count += 1
    return count


if njit is not None:
    # reassoc/contract only: the sum may be reordered and fused, but NaN and
    # inf still propagate, so the divergence guard keeps working.
    _jit = njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    # the per-row helpers, inlined into the loops that call them: a compiled
    # function taking arrays that LLVM leaves as a call costs about 20 ns a
    # row in argument passing (shifting 7,500 one-column rows: 135 us
    # against 2 inlined)
    _inline = njit(cache=True, nogil=True, fastmath={"reassoc", "contract"}, inline="always")
    _prox_point = _inline(_prox_point)
    _prox_pieces_compiled = _jit(_prox_pieces_loop)
    _prox_relu_row = _inline(_prox_relu_row)
    _prox_relu_compiled = _jit(_prox_relu_loop)
    _shifted_activation_loop = _jit(_shifted_activation_loop)
    _activation_residual_compiled = _jit(_activation_residual_loop)
    _shift_row = _inline(_shift_row)
    _logistic = _inline(_logistic)
    _log_partition = _inline(_log_partition)
    _row_objective = _inline(_row_objective)
    _prox_log_loss_compiled = _jit(_prox_log_loss_loop)
    _log_loss_sum_compiled = _jit(_log_loss_sum_loop)
    _shift_rows_compiled = _jit(_shift_rows_loop)
    _newton_direction_compiled = _jit(_newton_direction_loop)
    _newton_accept_compiled = _jit(_newton_accept_loop)
    _transpose_accumulate_compiled = _jit(_transpose_accumulate_loop)
    _row_dot = _inline(_row_dot)
    _rhs_row = _inline(_rhs_row)
    _unit_rhs_compiled = _jit(_unit_rhs_loop)
    _unit_try_compiled = _jit(_unit_try_loop)
    _flip_gram = _jit(_flip_gram)
    _commit_row = _inline(_commit_row)
    _unit_commit_compiled = _jit(_unit_commit_loop)
    _deep_unit_system_compiled = _jit(_deep_unit_system_loop)
    _output_change = _inline(_output_change)
    _deep_unit_try_compiled = _jit(_deep_unit_try_loop)
    _deep_unit_commit_compiled = _jit(_deep_unit_commit_loop)
else:  # pragma: no cover
    _prox_pieces_compiled = _prox_relu_compiled = _activation_residual_compiled = None
    _prox_log_loss_compiled = _log_loss_sum_compiled = _shift_rows_compiled = None
    _newton_direction_compiled = _newton_accept_compiled = None
    _transpose_accumulate_compiled = None
    _unit_rhs_compiled = _unit_try_compiled = _unit_commit_compiled = None
    _deep_unit_system_compiled = _deep_unit_try_compiled = _deep_unit_commit_compiled = None

HAVE_NUMBA = _prox_pieces_compiled is not None

#: Each activation's pieces as the (k, 4) array the compiled loop reads,
#: converted once rather than on every row block.
_PIECE_ARRAYS = {name: np.asarray(pieces, dtype=np.float64)
                 for name, (_, pieces) in ACTIVATIONS.items()}


def prox_pieces(a, m, gamma, beta, activation, out, u=None, v=None, update=False,
                scale=None, bias=None, zv=None):
    """Fused :func:`~admm_sklearn._updates.prox_hidden`; ``None`` without numba.

    With scaled multipliers ``u, v`` the prox is taken at ``a + u`` and ``m -
    v`` and, if ``update``, followed in the same pass by ``u += a - h(z)``,
    ``v += z - m``. ``scale``: unit scales that ``v`` is multiplied by first,
    in the same pass (``u`` already was, by :func:`activation_residual`).
    ``bias``: added to every row of ``m`` as it is read (``m`` itself is
    left as it is). ``zv`` (with multipliers): filled with ``z + v`` as
    stored, in the same pass.
    """
    if _prox_pieces_compiled is None:
        return None
    if u is None:  # no multipliers: empty arrays the loops never index
        u = v = np.empty((0, 0), dtype=m.dtype)
        update, zv = False, None
    if zv is None:
        zv = np.empty((0, 0), dtype=m.dtype)
    scale, scaled = _unit_scales(scale, m)
    bias = np.zeros(m.shape[1], dtype=m.dtype) if bias is None else np.asarray(bias, m.dtype)
    if activation == "relu":
        scalar = m.dtype.type
        return _prox_relu_compiled(a, m, bias, u, v, scalar(gamma), scalar(beta),
                                   bool(update), scale, scaled, out, zv)
    return _prox_pieces_compiled(a, m, bias, u, v, float(gamma), float(beta),
                                 _PIECE_ARRAYS[activation], bool(update), scale, scaled, out,
                                 zv)


def _unit_scales(scale, block):
    """``(scale, scaled)`` for the fused loops: the unit scales in the
    block's dtype, or ones (an exact product) and ``False``."""
    if scale is None:
        return np.ones(block.shape[1], dtype=block.dtype), False
    return np.asarray(scale, dtype=block.dtype), True


def prox_log_loss_rows(y, z0, beta, tol, max_iter, warm, out):
    """Compiled row-wise log-loss prox at ``z0`` into ``out`` (started from
    ``out`` itself if ``warm``); returns the summed log-loss at the solution,
    or ``None`` without numba (then :func:`admm_sklearn._losses.prox_log_loss`
    runs its NumPy iteration)."""
    if _prox_log_loss_compiled is None:
        return None
    return _prox_log_loss_compiled(np.ascontiguousarray(y, dtype=np.float64),
                                   np.ascontiguousarray(z0, dtype=np.float64), float(beta),
                                   float(tol), int(max_iter), bool(warm), out)


def newton_step_log_loss(y, m, lam, c, z, beta, tol):
    """One safeguarded Newton step of the log-loss prox per row, in place.

    ``z <- z - d`` for the rows whose full Newton step ``d`` on ``log_loss(z,
    y) + beta ||z - z0||^2`` (``z0 = m - c lam``) passes Armijo's test
    (nearly all, from a warm start). Returns ``(failed, row_loss)``: the
    rows whose test failed (never those already converged to ``tol``),
    which the caller solves exactly, and the log-loss of each row at its
    new ``z`` (at the old one for failed rows); ``None`` without numba.

    Two passes of exponentials (at ``z`` and at the trial point), each one
    vectorised ``np.exp`` between compiled row loops.
    """
    if _newton_direction_compiled is None:
        return None
    n, K = z.shape
    E, top = np.empty((n, K)), np.empty(n)
    _shift_rows_compiled(z, E, top)
    np.exp(E, out=E)
    trial, E_trial, top_trial = np.empty_like(z), np.zeros((n, K)), np.zeros(n)
    f0, slope, row_loss = np.empty(n), np.zeros(n), np.empty(n)
    # a step below the dtype's resolution would round to z and fail the test
    eps = 4.0 * float(np.finfo(z.dtype).eps)
    active = _newton_direction_compiled(y, m, lam, float(c), z, E, top, float(beta),
                                        float(tol), eps, trial, E_trial, top_trial, f0,
                                        slope, row_loss)
    np.exp(E_trial, out=E_trial)
    _newton_accept_compiled(y, m, lam, float(c), z, trial, E_trial, top_trial, float(beta),
                            f0, slope, active, row_loss)
    return active, row_loss


def log_loss_sum_rows(y, z):
    """Compiled summed log-loss of logits ``z``; ``None`` without numba."""
    if _log_loss_sum_compiled is None:
        return None
    return _log_loss_sum_compiled(np.ascontiguousarray(y, dtype=np.float64), z)


#: Widest next layer for which :func:`activation_residual` runs: measured
#: 4.8x faster than NumPy + BLAS per block at width 1, equal at 10.
FUSED_MAX_NEXT = 8

#: Every activation is ``clip(z, lo, hi)``; its bounds are its limits.
_CLIP_BOUNDS = {name: (float(h(np.array(-np.inf))), float(h(np.array(np.inf))))
                for name, (h, _) in ACTIVATIONS.items()}


def activation_residual(z, u, target, b_next, W_next, P, activation, a, scale=None):
    """Fused eq. 6 in residual form on one block of rows; ``None`` when it
    does not apply (no numba, or the next layer wider than
    :data:`FUSED_MAX_NEXT`).

    ``a = (h(z) - u) + (target - b_next - (h(z) - u) W_next^T) P`` (``u``:
    ``None`` without multipliers). Returns the column sums of ``a`` and
    ``target^T a``, accumulated in the state's dtype over this block.
    ``scale``: unit scales that ``z`` and ``u`` are multiplied by first, in
    the same pass (``u`` in place; ``z`` only as read, since the prox that
    follows overwrites it).
    """
    if _activation_residual_compiled is None or W_next.shape[0] > FUSED_MAX_NEXT:
        return None
    colsum = np.zeros(a.shape[1], dtype=a.dtype)
    cross = np.zeros((W_next.shape[0], a.shape[1]), dtype=a.dtype)
    u, lo, hi, scale, scaled = _shifted_activation_args(u, activation, a, scale)
    _activation_residual_compiled(z, u, target, b_next, W_next, P, lo, hi, scale, scaled, a,
                                  colsum, cross)
    return colsum, cross


def shifted_activation(z, u, activation, a, scale=None):
    """``a = h(z) - u`` on one block of rows, ``z`` and ``u`` multiplied by
    the unit scales ``scale`` first (``u`` in place), as
    :func:`activation_residual` begins; ``False`` without numba."""
    if _activation_residual_compiled is None:
        return False
    u, lo, hi, scale, scaled = _shifted_activation_args(u, activation, a, scale)
    _shifted_activation_loop(z, u, scale, scaled, lo, hi, a)
    return True


def _shifted_activation_args(u, activation, a, scale):
    """``(u, lo, hi, scale, scaled)`` as the loops of ``h(z) - u`` read
    them: an empty ``u`` without multipliers, the activation's clip bounds
    and the unit scales in the block's dtype."""
    if u is None:
        u = np.empty((0, 0), dtype=a.dtype)
    lo, hi = (a.dtype.type(x) for x in _CLIP_BOUNDS[activation])
    return (u, lo, hi) + _unit_scales(scale, a)


def transpose_accumulate(X, T, out):
    """``out += X^T T`` for a CSR ``X``, in place, with no temporary:
    scipy's ``X.T @ T`` returns a new ``d x k`` array, which a pass summing
    it over blocks of rows would allocate once per block (with 10^5 inputs,
    40 MB each time). ``out`` and ``T`` share a dtype; without numba,
    ``out += X.T @ T``."""
    T = np.ascontiguousarray(T, dtype=out.dtype)
    if _transpose_accumulate_compiled is None or not out.flags.c_contiguous:
        out += X.T @ T
        return
    _transpose_accumulate_compiled(X.indptr, X.indices, X.data.astype(out.dtype, copy=False),
                                   T, out)


# -- the unit refit's passes (admm_sklearn._unit_refit), float64 throughout:
# each is one pass over the unit's rows where NumPy makes four to eight;
# ``w`` the rows' weights in the fit (zero on rows held out of it)
def unit_rhs(XT, z, R, v, w):
    """``(q, rhs)``: ``q = R v`` and ``sum_{z > 0} w q x`` (``x`` the columns
    of ``XT``); ``None`` without numba."""
    if _unit_rhs_compiled is None:
        return None
    q, rhs = np.empty(XT.shape[1]), np.zeros(XT.shape[0])
    _unit_rhs_compiled(XT, z, R, v, w, q, rhs)
    return q, rhs


def unit_try(XT, z, a, q, w, step, vv, scales):
    """``(xs, changes)``: ``xs = XT^T step`` and, per scale ``t`` of the
    four ``scales``, ``sum w d (vv d / 2 - q)`` with ``d = relu(z + t xs) -
    a``; ``None`` without numba or with another number of scales."""
    if _unit_try_compiled is None or len(scales) != 4:
        return None
    xs, changes = np.empty(XT.shape[1]), np.zeros(len(scales))
    _unit_try_compiled(XT, z, a, q, w, step, float(vv), scales, xs, changes)
    return xs, changes


def unit_commit(XT, z, a, R, v, xs, scale, w, G):
    """In place: ``z += scale xs``, ``a = relu(z)``, ``R -= (a_new - a) v^T``,
    ``G`` updated by the rows whose activity flips (``x`` the columns of
    ``XT``). ``False`` without numba."""
    if _unit_commit_compiled is None:
        return False
    empty = np.empty(0)
    _unit_commit_compiled(XT, z, a, R, v, xs, float(scale), w, G, empty, empty)
    return True


def unit_commit_logistic(XT, z, a, F, R, Y, v, xs, scale, w, G):
    """In place, for one logistic output: ``z += scale xs``, ``a = relu(z)``,
    ``G`` updated by the rows whose activity flips, and on the rows whose
    feature moved ``F += (a_new - a) v`` and ``R = Y - sigmoid(F)``.
    ``False`` without numba or with several outputs (their softmax costs
    more in a compiled row loop than in NumPy's vectorised exp)."""
    if _unit_commit_compiled is None or F.shape[1] != 1:
        return False
    _unit_commit_compiled(XT, z, a, R, v, xs, float(scale), w, G, F[:, 0], Y[:, 0])
    return True


def deep_unit_system(A, z, Z_up, col, W_out, R, w):
    """``(gram, rhs)`` of a unit one hidden layer below the top of a network
    with one output (the deep passes, :mod:`admm_sklearn._deep_refit`):
    over its active rows ``z > 0``, with ``g = W_out (1[Z_up > 0] * col)``
    the output's direction, ``sum w g^2 a a^T`` and ``sum w r g a`` for the
    rows ``a`` of ``A``. One pass over the rows, where NumPy copies and
    masks the active rows of ``Z_up`` (1.5 ms against 4.7 for 15,000 rows
    under 100 units); with several outputs NumPy's products are as fast.
    ``None`` without numba or with several outputs."""
    if _deep_unit_system_compiled is None or W_out.shape[0] != 1:
        return None
    gram, rhs = np.zeros((A.shape[1], A.shape[1])), np.zeros(A.shape[1])
    _deep_unit_system_compiled(A, np.ascontiguousarray(z), Z_up, W_out[0] * col,
                               np.ascontiguousarray(R[:, 0]), w, gram, rhs)
    return gram, rhs


def deep_unit_try(A, z, a, Z_up, col, W_out, R, w, step, t, kappa, xs, fresh):
    """The bound's change ``sum w (kappa df^2 / 2 - r df)`` when a unit one
    hidden layer below a single output (pre-activation ``z``, activation
    ``a``, weights ``col`` into the layer above, whose pre-activations are
    ``Z_up``) takes ``t`` times ``step``: ``df`` the output's change on the
    rows its activation moves, the units above switching as they must. One
    pass over the rows without NumPy's copies of the moved rows (a try on
    15,000 rows under 100 units: 1.3 against 3.1 ms); the commit makes the
    propagation again (:func:`deep_unit_commit`) instead of keeping it.
    ``xs``: ``A step``, filled if ``fresh``, else kept from the step's last
    scale. ``None`` without numba or with several outputs."""
    if _deep_unit_try_compiled is None or W_out.shape[0] != 1:
        return None
    return _deep_unit_try_compiled(A, z, a, Z_up, col, W_out[0], R[:, 0], w, step,
                                   float(t), float(kappa), bool(fresh), xs)


def deep_unit_commit(z, a, Z_up, top, col, W_out, F, xs, t):
    """In place, the step :func:`deep_unit_try` tried at scale ``t``:
    ``z += t xs``, ``a = relu(z)``, and on the rows whose activation moved
    the layer above's pre-activations ``Z_up``, activations ``top`` and the
    single output ``F``; returns those rows. ``None`` without numba."""
    if _deep_unit_commit_compiled is None or W_out.shape[0] != 1:
        return None
    moved = np.empty(z.shape[0], dtype=np.int64)
    count = _deep_unit_commit_compiled(z, a, Z_up, top, col, W_out[0], F[:, 0], xs,
                                       float(t), moved)
    return moved[:count]

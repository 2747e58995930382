"""Algorithm 1 as a whole: a naive reference, monotone warm-up, backends."""

import numpy as np
import pytest

from admm_sklearn._activations import ACTIVATIONS
from admm_sklearn._backends import JoblibBackend, SerialBackend
from admm_sklearn._engine import ADMMSolver, forward


def _data(n=300, d=5, k=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    score = np.sin(X[:, :k] * 2) + X[:, 1:k + 1] ** 2 - 0.5
    return X, (score > 0).astype(float)


def _reference_sweeps(X, Y, sizes, activation, beta, gamma, weights, n_sweeps, n_warmup,
                      multipliers="bregman", beta_hidden=None, input_interval=1):
    """Algorithm 1 written as in the paper: samples in columns, explicit
    pseudo-inverses of [a; 1], explicit inverses, scalar loops for z.

    The multipliers are unscaled Lagrangian terms ``<mu_l, a_l - h(z_l)>``,
    ``<nu_l, z_l - W_l a_{l-1}>`` and ``<lam, z_L - W_L a_{L-1}>`` (or the
    paper's ``<z_L, lam>`` for ``'bregman'``), each block minimised from its
    own first-order condition, not from the engine's scaled form. ``beta_l``
    is ``beta_hidden`` for the hidden constraints and ``beta`` for the output.
    ``W_1`` is solved on the sweeps ``0, k, 2k, ...`` of ``input_interval=k``
    only; every product is formed anew each sweep.
    """
    h, pieces = ACTIVATIONS[activation]
    L = len(sizes) - 1
    beta_hidden = beta if beta_hidden is None else beta_hidden

    def bl(l):  # beta_l, l is 1-based
        return beta if l == L else beta_hidden

    a = [X.T]
    z = []
    for l, (W, b) in enumerate(weights, start=1):
        z.append(W @ a[-1] + b[:, None])
        if l < L:
            a.append(h(z[-1].copy()))
    lam = np.zeros_like(z[-1])
    mu = [np.zeros_like(zl) for zl in z[:-1]]
    nu = [np.zeros_like(zl) for zl in z[:-1]]
    hidden_on = multipliers == "all"
    lam_on = multipliers != "bregman"
    Wb = [np.column_stack(wb) for wb in weights]
    ones = np.ones((1, X.shape[0]))

    def lsq(zl, al):
        return zl @ np.linalg.pinv(np.vstack([al, ones]))

    def fwd(l):  # W_l a_{l-1} with bias, l is 1-based
        return Wb[l - 1] @ np.vstack([a[l - 1], ones])

    def pull(l):  # the multiplier on z_l = W_l a_{l-1}, l is 1-based
        if l == L:
            return lam if lam_on else np.zeros_like(lam)
        return nu[l - 1]

    for sweep in range(n_sweeps):
        for l in range(1, L):
            # argmin_W -<pull, W a> + beta_l ||z - W a||^2
            if l > 1 or sweep % input_interval == 0:
                Wb[l - 1] = lsq(z[l - 1] + pull(l) / (2 * bl(l)), a[l - 1])
            Wn, bn, bn1 = Wb[l][:, :-1], Wb[l][:, -1:], bl(l + 1)
            # 0 = mu + 2 gamma (a - h) - Wn^T pull - 2 beta_{l+1} Wn^T (z - Wn a - bn)
            M = np.linalg.inv(2 * bn1 * Wn.T @ Wn + 2 * gamma * np.eye(Wn.shape[1]))
            a[l] = M @ (2 * bn1 * Wn.T @ (z[l] - bn) + Wn.T @ pull(l + 1)
                        + 2 * gamma * h(z[l - 1].copy()) - mu[l - 1])
            m = fwd(l)
            for idx in np.ndindex(m.shape):
                best = None
                mu_i, nu_i = mu[l - 1][idx], nu[l - 1][idx]
                for lo, hi, s, c in pieces:
                    # stationary point of the piece's quadratic, clipped to it
                    cand = np.clip((mu_i * s + 2 * gamma * s * (a[l][idx] - c) - nu_i
                                    + 2 * bl(l) * m[idx]) / (2 * gamma * s * s + 2 * bl(l)),
                                   lo, hi)
                    hz = s * cand + c
                    val = (mu_i * (a[l][idx] - hz) + gamma * (a[l][idx] - hz) ** 2
                           + nu_i * (cand - m[idx]) + bl(l) * (cand - m[idx]) ** 2)
                    if best is None or val < best:
                        best, z[l - 1][idx] = val, cand
            if hidden_on and sweep >= n_warmup:
                mu[l - 1] += 2 * gamma * (a[l] - h(z[l - 1].copy()))
                nu[l - 1] += 2 * bl(l) * (z[l - 1] - m)
        Wb[L - 1] = lsq(z[L - 1] + pull(L) / (2 * beta), a[L - 1])
        m = fwd(L)
        for idx in np.ndindex(m.shape):
            z0 = m[idx] - lam[idx] / (2 * beta)
            step = 1 / (2 * beta)
            if Y.T[idx] > 0.5:
                z[L - 1][idx] = z0 if z0 >= 1 else min(z0 + step, 1.0)
            else:
                z[L - 1][idx] = z0 if z0 <= 0 else max(z0 - step, 0.0)
        if sweep >= n_warmup:
            lam += (2 * beta if lam_on else beta) * (z[L - 1] - m)
    return [(w[:, :-1], w[:, -1]) for w in Wb]


@pytest.mark.parametrize("input_interval", [1, 3])
@pytest.mark.parametrize("multipliers", ["bregman", "output", "all"])
@pytest.mark.parametrize("hidden,activation", [((6,), "relu"), ((5, 4), "hard_sigmoid"),
                                               ((3, 7), "relu"), ((12, 10), "relu"),
                                               ((), "relu")])
def test_engine_matches_naive_reference_algorithm(hidden, activation, multipliers,
                                                  input_interval):
    # (6,), (5, 4): compiled eq. 6; (3, 7): direct form; (12, 10): residual
    # form in NumPy (next layer wider than the compiled kernel's bound).
    # input_interval=3: W_1 solved on sweeps 0 and 3 only; the sweeps between
    # keep it and read W_1 a_0 + b_1 from the shards' copy, the sweep before
    # a solve forms its cross Gram; the reference forms every product anew
    X, Y = _data(n=120, d=4)
    sizes = (4,) + hidden + (1,)
    rng = np.random.default_rng(1)
    weights = [(rng.normal(size=(o, i)), rng.normal(size=o) * 0.1)
               for i, o in zip(sizes[:-1], sizes[1:])]
    ref = _reference_sweeps(X, Y, sizes, activation, 1.5, 10.0, weights, 6, 3, multipliers,
                            beta_hidden=0.4, input_interval=input_interval)
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver = ADMMSolver(sizes, activation, beta=1.5, gamma=10.0, alpha=0.0,
                        multipliers=multipliers, beta_hidden=0.4, input_interval=input_interval)
    solver.initialize(backend, "forward", weights=weights)
    for sweep in range(6):
        solver.step(backend, update_multipliers=sweep >= 3)
    for (W, b), (Wr, br) in zip(solver.weights, ref):
        np.testing.assert_allclose(W, Wr, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(b, br, rtol=1e-7, atol=1e-9)


class _SkippingSolver(ADMMSolver):
    """Every product formed anew each sweep, W_1 solved every other sweep."""

    def _solve_in_place(self, layer):
        if layer == 1 and self.n_iter % 2:
            return 0.0
        return super()._solve_in_place(layer)


@pytest.mark.parametrize("hidden", [(9,), (7, 5)])
def test_held_input_layer_takes_the_balancing_scales(hidden):
    # balancing rescales W_1's units every sweep, held or not: the shards'
    # copy of W_1 a_0 + b_1 must take the same scales
    X, Y = _data(n=400, d=6)
    fits = []
    for solver in (ADMMSolver((6,) + hidden + (1,), alpha=1e-3, multipliers="all",
                              balance=True, input_interval=2),
                   _SkippingSolver((6,) + hidden + (1,), alpha=1e-3, multipliers="all",
                                   balance=True)):
        backend = SerialBackend()
        backend.scatter(X, Y, np.float64)
        solver.initialize(backend, "forward", seed=2)
        for sweep in range(12):
            solver.step(backend, update_multipliers=sweep >= 3)
        fits.append(solver.weights)
    for (W, b), (W0, b0) in zip(*fits):
        np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(b, b0, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("input_interval", [1, 2])
@pytest.mark.parametrize("loss", ["hinge", "log_loss"])
@pytest.mark.parametrize("init", ["gaussian", "forward"])
@pytest.mark.parametrize("hidden,activation,alpha", [
    ((20,), "relu", 0.0), ((8, 6), "relu", 1e-3), ((10,), "hard_sigmoid", 0.0),
    ((7,), "identity", 1e-2)])
def test_penalty_objective_never_increases_without_multiplier_updates(
        init, hidden, activation, alpha, loss, input_interval):
    # with the log-loss the output update is one Newton step of its prox,
    # a descent step on its block: the sweep must still never go uphill,
    # nor when a sweep keeps W_1 (input_interval=2)
    X, Y = _data(n=400, d=6)
    solver = ADMMSolver((6,) + hidden + (1,), activation, beta=1.0, gamma=10.0, alpha=alpha,
                        beta_hidden=0.1 if len(hidden) > 1 else None, loss=loss,
                        input_interval=input_interval)
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver.initialize(backend, init, seed=3)
    objectives = [solver.step(backend, update_multipliers=False)["objective"]
                  for _ in range(25)]
    diffs = np.diff(objectives)
    assert np.all(diffs <= 1e-9 * np.abs(objectives[:-1])), diffs.max()
    assert objectives[-1] < objectives[0]


@pytest.mark.parametrize("input_interval", [1, 2])
@pytest.mark.parametrize("init", ["gaussian", "forward"])
def test_joblib_shards_agree_with_serial_to_round_off(init, input_interval):
    X, Y = _data(n=1000, d=6, k=2)
    Y = np.column_stack([Y[:, 0], 1 - Y[:, 0]])
    fits = []
    for backend in (SerialBackend(), JoblibBackend(n_jobs=2), JoblibBackend(n_jobs=3)):
        backend.scatter(X, Y, np.float64)
        solver = ADMMSolver((6, 12, 5, 2), "relu", alpha=1e-3, multipliers="all",
                            input_interval=input_interval)
        with backend.running():
            solver.initialize(backend, init, seed=11)
            for sweep in range(15):
                solver.step(backend, update_multipliers=sweep >= 5)
            polished = solver.polish_output(backend, solver.weights, 10)
        fits.append(solver.weights + [polished])
    for other in fits[1:]:
        for (W, b), (W0, b0) in zip(other, fits[0]):
            np.testing.assert_allclose(W, W0, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(b, b0, rtol=1e-8, atol=1e-10)


def test_output_polish_reaches_the_convex_optimum_on_fixed_features():
    """With the hidden layer frozen, the polish sweeps solve min_W sum hinge(W F + b),
    an LP: compare its objective with scipy's LP solver (alpha=0)."""
    from scipy.optimize import linprog

    from admm_sklearn._losses import hinge_loss_sum

    X, Y = _data(n=150, d=4)
    sizes = (4, 5, 1)
    rng = np.random.default_rng(2)
    weights = [(rng.normal(size=(o, i)), rng.normal(size=o) * 0.1)
               for i, o in zip(sizes[:-1], sizes[1:])]
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver = ADMMSolver(sizes, "relu", beta=1.0, gamma=10.0, alpha=0.0, multipliers="all")
    solver.initialize(backend, "forward", weights=weights)
    state_before = [a.copy() for a in backend.shards[0].a + backend.shards[0].z]
    W, b = solver.polish_output(backend, weights, 3000)
    for before, after in zip(state_before, backend.shards[0].a + backend.shards[0].z):
        np.testing.assert_array_equal(before, after)  # the ADMM state is untouched

    F = np.maximum(X @ weights[0][0].T + weights[0][1], 0)
    polished = hinge_loss_sum(Y, F @ W.T + b)
    # LP: variables (w, b, xi); xi >= 1 - (w f + b) if y = 1, xi >= w f + b if y = 0
    n, d = F.shape
    sign = np.where(Y[:, 0] > 0.5, -1.0, 1.0)
    A_ub = np.hstack([sign[:, None] * F, sign[:, None], -np.eye(n)])
    b_ub = np.where(Y[:, 0] > 0.5, -1.0, 0.0)
    c = np.concatenate([np.zeros(d + 1), np.ones(n)])
    bounds = [(None, None)] * (d + 1) + [(0, None)] * n
    lp = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    start = hinge_loss_sum(Y, F @ weights[1][0].T + weights[1][1])
    assert lp.status == 0 and lp.fun < start
    assert polished <= lp.fun * (1 + 1e-3) + 1e-6, (polished, lp.fun, start)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "hinge"])
def test_ridge_total_stops_growing_past_ridge_max_samples(loss):
    """Past ``ridge_max_samples`` the ridge is ``alpha * cap``, not ``alpha * n``:
    sweeps and output refit equal those of an uncapped solver whose ``alpha``
    is scaled by ``cap / n``; below the cap, the cap changes nothing."""
    X, Y = _data(n=400, d=5)

    def fit(alpha, cap):
        backend = SerialBackend()
        backend.scatter(X, Y, np.float64)
        solver = ADMMSolver((5, 8, 1), "relu", alpha=alpha, multipliers="all", loss=loss,
                            ridge_max_samples=cap)
        solver.initialize(backend, "forward", seed=1)
        for sweep in range(10):
            solver.step(backend, update_multipliers=sweep >= 3)
        return solver.weights + [solver.polish_output(backend, solver.weights, 20)]

    def assert_same(fit_a, fit_b):
        for (W, b), (W0, b0) in zip(fit_a, fit_b):
            np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(b, b0, rtol=1e-9, atol=1e-12)

    capped = fit(0.05, 100)
    assert_same(capped, fit(0.05 * 100 / 400, None))
    assert_same(fit(0.05, 400), fit(0.05, None))
    # and the cap does bind: the full per-sample ridge shrinks the weights more
    uncapped = fit(0.05, None)
    assert np.linalg.norm(uncapped[0][0]) < np.linalg.norm(capped[0][0])


def _network(X, weights, activation):
    return forward(X, [W.T for W, _ in weights], [b for _, b in weights], activation)


@pytest.mark.parametrize("hidden,activation", [((9,), "relu"), ((7, 5), "relu"),
                                               ((6,), "identity")])
def test_balancing_leaves_the_network_unchanged_and_equalises_unit_norms(hidden, activation):
    X, Y = _data(n=200, d=5)
    X = X * [1.0, 10.0, 0.1, 3.0, 1.0]  # layer 1's norms are taken on standardised inputs
    solver = ADMMSolver((5,) + hidden + (1,), activation, alpha=1e-3, multipliers="all",
                        balance=True)
    backend = SerialBackend()
    backend.scatter(X, Y, np.float64)
    solver.initialize(backend, "forward", seed=2)
    for _ in range(3):
        solver.step(backend, update_multipliers=False)  # no balancing without multipliers
    before = _network(X, solver.weights, activation)
    scales = solver._balance()
    np.testing.assert_allclose(_network(X, solver.weights, activation), before,
                               rtol=1e-10, atol=1e-12)
    assert [len(c) for c in scales] == list(hidden)
    assert all(np.all((c >= 0.1) & (c <= 10.0)) for c in scales)
    # the last hidden layer is balanced exactly where its scale was not
    # clipped (a deeper net's earlier layers are rescaled again through
    # their outgoing weights, so a second call still moves them)
    W, b = solver.weights[-2]
    incoming = np.column_stack(solver._input.coordinates.to_standard(W, b) if len(hidden) == 1 else (W, b))
    free = (scales[-1] > 0.1) & (scales[-1] < 10.0)
    assert free.sum() >= 0.8 * len(free)
    np.testing.assert_allclose(np.linalg.norm(incoming, axis=1)[free],
                               np.linalg.norm(solver.weights[-1][0], axis=0)[free], rtol=1e-10)
    if len(hidden) == 1:
        np.testing.assert_allclose(solver._balance()[0], 1.0, rtol=1e-10)


@pytest.mark.parametrize("hidden", [(8,), (6, 5)])
def test_balanced_sweep_is_a_plain_sweep_from_the_explicitly_rescaled_state(hidden):
    # the passes rescale z_l, u_l, v_l block by block as they read them (and
    # a deeper layer's target before its own pass): the same as rescaling
    # every array first and running an unbalanced sweep
    X, Y = _data(n=300, d=4)
    sizes = (4,) + hidden + (1,)
    runs = []
    for balance in (True, False):
        solver = ADMMSolver(sizes, "relu", alpha=1e-3, multipliers="all", balance=False,
                            loss="log_loss")
        backend = SerialBackend()
        backend.scatter(X, Y, np.float64)
        solver.initialize(backend, "forward", seed=5)
        for sweep in range(6):  # nonzero multipliers u, v, lambda
            solver.step(backend, update_multipliers=sweep >= 3)
        solver.balance = balance
        runs.append((solver, backend))
    (balanced, backend_a), (plain, backend_b) = runs
    shard_a, shard_b = backend_a.shards[0], backend_b.shards[0]
    for _ in range(2):
        balanced.step(backend_a)
        for layer, c in enumerate(plain._balance(), start=1):
            for arrays in (shard_b.a, shard_b.z, shard_b.u, shard_b.v):
                arrays[layer - 1] *= c
        plain.step(backend_b)
    for (W, b), (W0, b0) in zip(balanced.weights, plain.weights):
        np.testing.assert_allclose(W, W0, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b, b0, rtol=1e-10, atol=1e-12)
    for arrays, ref in ((shard_a.z, shard_b.z), (shard_a.u, shard_b.u), (shard_a.a, shard_b.a)):
        for x, x0 in zip(arrays, ref):
            np.testing.assert_allclose(x, x0, rtol=1e-10, atol=1e-12)


def test_balancing_is_off_for_activations_that_are_not_positively_homogeneous():
    assert not ADMMSolver((3, 4, 1), "hard_sigmoid", balance=True).balance
    assert ADMMSolver((3, 4, 1), "relu", balance=True).balance


def test_joblib_passes_return_in_shard_order_and_finish_before_an_error():
    """Above the threads' row threshold the calling thread runs the first
    shard and a pool the others: results come back in shard order, and a
    pass that fails on one shard propagates only once every shard's call
    has ended (the fit then releases the shards under no running pass)."""
    import threading
    import time

    X, Y = _data(n=6000, d=3, k=1)
    backend = JoblibBackend(n_jobs=3)
    backend.scatter(X, Y, np.float64)
    finished = []

    def offsets(shard):
        return (np.array([shard.offset]),)

    def fail_first(shard):
        if shard.offset == 0:
            raise ValueError("first shard")
        time.sleep(0.05)
        finished.append(threading.current_thread().name)
        return (np.zeros(1),)

    with backend.running():
        parts = backend.map(offsets)
        with pytest.raises(ValueError, match="first shard"):
            backend.map(fail_first)
        assert len(finished) == 2  # both other shards ended before the raise
    assert [int(p[0][0]) for p in parts] == [0, 2000, 4000]

"""Each closed-form sub-step against a brute-force minimiser (paper, sec. 3.1)."""

import numpy as np
import pytest

from admm_sklearn._activations import ACTIVATIONS
from admm_sklearn._losses import prox_hinge
from admm_sklearn._updates import (activation_direct, activation_operator,
                                   conjugate_gradients, diagonal, prox_hidden,
                                   solve_weights)

def _grid_min(f, *centres):
    """Minimum of a 1-D function on a fine grid covering every candidate."""
    reach = 2.0 + sum(abs(c) for c in centres)
    # the kinks of every activation and loss (0 and 1) are grid points too
    grid = np.concatenate([np.linspace(-reach, reach, 200001), [0.0, 1.0], centres])
    return f(grid).min()


def _hidden_cases():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(0, 2, 300), [0.0, 0.0, 1.0, 1.0, -1.0, 0.5, 2.0, 0.0]])
    m = np.concatenate([rng.normal(0, 2, 300), [0.0, -1.0, 1.0, 0.0, 0.0, 0.5, -0.3, 1.0]])
    return a, m


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("gamma,beta", [(10.0, 1.0), (1.0, 1.0), (0.5, 3.0)])
def test_hidden_output_update_is_global_minimiser(activation, gamma, beta):
    h, pieces = ACTIVATIONS[activation]
    a, m = _hidden_cases()
    z = np.empty_like(m)
    total = prox_hidden(a, m, gamma, beta, pieces, out=z)
    ours = gamma * (a - h(z)) ** 2 + beta * (z - m) ** 2
    assert total == pytest.approx(ours.sum())
    for i in range(len(a)):
        best = _grid_min(lambda g: gamma * (a[i] - h(g)) ** 2 + beta * (g - m[i]) ** 2,
                         a[i], m[i])
        # never worse than the grid (the grid's step bounds how much better it can be)
        assert ours[i] <= best + 1e-9
        assert ours[i] >= best - 1e-6 * max(1.0, best)


def test_hidden_output_update_picks_branch_at_relu_boundary():
    # a = 1, m = -1, gamma = beta = 1: the negative branch gives 1, the
    # positive one gives 2 (z=0): the minimiser is z = m = -1.
    z = np.empty(1)
    prox_hidden(np.array([1.0]), np.array([-1.0]), 1.0, 1.0, ACTIVATIONS["relu"][1], out=z)
    assert z[0] == -1.0
    # a = 3, m = -1: positive branch wins: z = (3 - 1) / 2 = 1.
    prox_hidden(np.array([3.0]), np.array([-1.0]), 1.0, 1.0, ACTIVATIONS["relu"][1], out=z)
    assert z[0] == pytest.approx(1.0)


@pytest.mark.parametrize("beta", [0.1, 1.0, 7.0])
def test_final_output_update_is_global_minimiser(beta):
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 2, n).astype(float)
    m = np.concatenate([rng.normal(0.5, 1.5, n - 6), [1.0, 0.0, 1.0 - 0.5 / beta, 0.5 / beta,
                                                       1.0, 0.0]])
    lam = np.concatenate([rng.normal(0, 1, n - 6), [0.0, 0.0, 0.0, 0.0, 1.0, -1.0]])
    z = np.empty(n)
    prox_hinge(y, m, lam, beta, out=z)

    def f(g, i):
        loss = np.maximum(1 - g, 0) if y[i] else np.maximum(g, 0)
        return loss + lam[i] * g + beta * (g - m[i]) ** 2

    for i in range(n):
        assert f(z[i], i) <= _grid_min(lambda g: f(g, i), m[i], lam[i] / beta) + 1e-9


def test_weight_update_matches_lstsq_on_full_rank_data():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(200, 7))
    Z = rng.normal(size=(200, 3))
    A1 = np.hstack([A, np.ones((200, 1))])
    W, b = solve_weights(Z.T @ A1, A1.T @ A1, ridge=0.0)
    ref = np.linalg.lstsq(A1, Z, rcond=None)[0].T
    np.testing.assert_allclose(np.column_stack([W, b]), ref, rtol=1e-9, atol=1e-11)


def test_weight_update_is_min_norm_on_duplicated_and_constant_features():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(100, 4))
    A = np.hstack([A, A[:, :1], np.full((100, 1), 3.0)])  # duplicate + constant
    Z = rng.normal(size=(100, 2))
    A1 = np.hstack([A, np.ones((100, 1))])
    W, b = solve_weights(Z.T @ A1, A1.T @ A1, ridge=0.0)
    ref = np.linalg.lstsq(A1, Z, rcond=None)[0].T  # minimum-norm solution
    np.testing.assert_allclose(np.column_stack([W, b]), ref, rtol=1e-7, atol=1e-8)
    assert np.all(np.isfinite(W))


def test_weight_update_with_ridge_matches_augmented_least_squares():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(60, 5))
    Z = rng.normal(size=(60, 2))
    ridge = 2.5
    A1 = np.hstack([A, np.ones((60, 1))])
    W, b = solve_weights(Z.T @ A1, A1.T @ A1, ridge=ridge)
    # min ||Z - A1 wb^T||^2 + ridge ||W||^2 as one stacked least-squares problem
    D = np.sqrt(ridge) * np.eye(6)[:5]
    stacked = np.vstack([A1, D])
    rhs = np.vstack([Z, np.zeros((5, 2))])
    ref = np.linalg.lstsq(stacked, rhs, rcond=None)[0].T
    np.testing.assert_allclose(np.column_stack([W, b]), ref, rtol=1e-9, atol=1e-11)


def test_diagonal_view_writes_through_and_refuses_other_layouts():
    M = np.arange(9.0).reshape(3, 3)
    diagonal(M)[:-1] += 10.0
    np.testing.assert_array_equal(np.diag(M), [10.0, 14.0, 8.0])
    np.testing.assert_array_equal(M - np.diag(np.diag(M)),
                                  np.arange(9.0).reshape(3, 3) * (1 - np.eye(3)))
    with pytest.raises(ValueError, match="C-ordered"):
        diagonal(np.asfortranarray(M))


def test_weight_update_is_the_same_from_a_fortran_ordered_gram():
    rng = np.random.default_rng(5)
    A1 = np.hstack([rng.normal(size=(40, 4)), np.ones((40, 1))])
    za, gram = rng.normal(size=(2, 40)) @ A1, A1.T @ A1
    W, b = solve_weights(za, gram, ridge=0.5)
    W_f, b_f = solve_weights(za, np.asfortranarray(gram), ridge=0.5)
    np.testing.assert_allclose(W_f, W, rtol=1e-12)
    np.testing.assert_allclose(b_f, b, rtol=1e-12)


@pytest.mark.parametrize("d,d_next", [(6, 2), (3, 5), (4, 4)])
def test_activation_update_solves_eq6(d, d_next):
    rng = np.random.default_rng(5)
    beta, gamma = 1.3, 4.0
    W = rng.normal(size=(d_next, d))
    b = rng.normal(size=d_next)
    hz = rng.normal(size=(9, d))
    z_next = rng.normal(size=(9, d_next))
    # brute force: min beta ||z_next - b - a W^T||^2 + gamma ||a - hz||^2, stacked lstsq
    ref = np.empty_like(hz)
    for i in range(9):
        stacked = np.vstack([np.sqrt(beta) * W, np.sqrt(gamma) * np.eye(d)])
        rhs = np.concatenate([np.sqrt(beta) * (z_next[i] - b), np.sqrt(gamma) * hz[i]])
        ref[i] = np.linalg.lstsq(stacked, rhs, rcond=None)[0]
    P = activation_operator(W, beta, gamma)
    residual_form = hz + (z_next - b - hz @ W.T) @ P
    Q, S = activation_direct(W, beta, gamma)
    direct_form = (z_next - b) @ Q + hz @ S
    np.testing.assert_allclose(residual_form, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(direct_form, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_u", [False, True])
@pytest.mark.parametrize("d_next", [1, 3])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_fused_activation_update_equals_eq6_residual_form(activation, d_next, with_u, dtype,
                                                          scaled):
    """Compiled eq. 6 (residual form, with u and the Gram sums) against NumPy;
    with unit scales, on ``z`` and ``u`` scaled first (and ``u`` left so)."""
    from admm_sklearn._kernels import HAVE_NUMBA, activation_residual

    if not HAVE_NUMBA:
        pytest.skip("numba not installed: the NumPy reference is what runs")
    rng = np.random.default_rng(8)
    d = 7
    W = rng.normal(size=(d_next, d))
    P = activation_operator(W, 1.3, 4.0)
    b = rng.normal(size=d_next)
    z = rng.normal(0, 2, size=(11, d))
    z[0, :3] = [0.0, 1.0, -1.0]  # the activations' kinks
    u = rng.normal(0, 0.3, size=z.shape) if with_u else None
    target = rng.normal(size=(11, d_next))
    scale = rng.uniform(0.5, 2.0, size=d) if scaled else None
    s = 1.0 if scale is None else scale
    h = ACTIVATIONS[activation][0]
    hz = h(z * s) - (u * s if with_u else 0.0)
    ref = hz + (target - b - hz @ W.T) @ P
    cast = [None if x is None else np.array(x, dtype=dtype)  # copies: u changes in place
            for x in (z, u, target, b, W, P, scale)]
    a = np.empty_like(cast[0])
    colsum, cross = activation_residual(*cast[:-1], activation, a, cast[-1])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cast[0], z, rtol=tol)  # z is only read
    if with_u:
        np.testing.assert_allclose(cast[1], u * s, rtol=tol, atol=tol)
    np.testing.assert_allclose(a, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(colsum, ref.sum(axis=0), rtol=tol, atol=tol)
    np.testing.assert_allclose(cross, target.T @ ref, rtol=tol, atol=tol)


def test_fused_activation_update_leaves_wide_next_layers_to_blas():
    from admm_sklearn._kernels import FUSED_MAX_NEXT, activation_residual

    d_next = FUSED_MAX_NEXT + 1
    z = np.ones((4, 2 * d_next))
    W = np.ones((d_next, 2 * d_next))
    assert activation_residual(z, None, np.ones((4, d_next)), np.zeros(d_next), W, W,
                               "relu", np.empty_like(z)) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_fused_kernel_equals_numpy_reference(activation, dtype):
    from admm_sklearn._kernels import HAVE_NUMBA, prox_pieces

    if not HAVE_NUMBA:
        pytest.skip("numba not installed: the NumPy reference is what runs")
    a, m = _hidden_cases()
    a = np.tile(a, (3, 1)).astype(dtype)
    m = np.tile(m, (3, 1)).astype(dtype)
    pieces = ACTIVATIONS[activation][1]
    ref, fused = np.empty_like(m), np.empty_like(m)
    total_ref = prox_hidden(a, m, 10.0, 1.0, pieces, out=ref)
    total = prox_pieces(a, m, 10.0, 1.0, activation, fused)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused, ref, rtol=tol, atol=tol)
    assert total == pytest.approx(total_ref, rel=tol)


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("update", [False, True])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_fused_kernel_with_multipliers_equals_shifted_numpy_reference(activation, update,
                                                                      scaled, biased):
    """Scaled multipliers: prox at (a + u, m - v), then u += a - h(z), v += z - m;
    with unit scales, ``v`` multiplied by them first (and left so); with a
    bias, ``m + bias`` in place of ``m`` and ``m`` itself untouched; and the
    next target ``z + v`` formed in the same pass."""
    from admm_sklearn._kernels import HAVE_NUMBA, prox_pieces

    if not HAVE_NUMBA:
        pytest.skip("numba not installed: the NumPy reference is what runs")
    a, m = _hidden_cases()
    a, m = np.tile(a, (3, 1)), np.tile(m, (3, 1))
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=a.shape) * 0.3, rng.normal(size=a.shape) * 0.3
    scale = rng.uniform(0.5, 2.0, size=a.shape[1]) if scaled else None
    bias = rng.normal(size=a.shape[1]) if biased else None
    m_read = m + (0.0 if bias is None else bias)
    v_scaled = v * (1.0 if scale is None else scale)
    h, pieces = ACTIVATIONS[activation]
    ref = np.empty_like(m)
    total_ref = prox_hidden(a + u, m_read - v_scaled, 3.0, 0.5, pieces, out=ref)
    u_ref = u + (a - h(ref.copy())) if update else u.copy()
    v_ref = v_scaled + (ref - m_read) if update else v_scaled
    fused, m_before, zv = np.empty_like(m), m.copy(), np.empty_like(m)
    total = prox_pieces(a, m, 3.0, 0.5, activation, fused, u, v, update, scale, bias, zv)
    np.testing.assert_array_equal(m, m_before)
    np.testing.assert_array_equal(zv, fused + v)  # the next target, as stored
    np.testing.assert_allclose(fused, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(u, u_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12, atol=1e-12)
    assert total == pytest.approx(total_ref, rel=1e-12)


def test_conjugate_gradients_solve_an_spd_system_within_their_product_budget():
    """Against a direct solve: to the residual asked for, the solution; with
    fewer products allowed, it stops there. Matrix-shaped unknowns, as in the
    output refit (one column per output unit)."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 30))
    H = A @ A.T + 0.1 * np.eye(30)
    rhs = rng.normal(size=(30, 3))
    M = np.diag(np.diag(H))  # Jacobi preconditioner
    s, products = conjugate_gradients(lambda D: H @ D, lambda R: np.linalg.solve(M, R),
                                      rhs, 1e-10 * np.linalg.norm(rhs), 1000)
    np.testing.assert_allclose(s, np.linalg.solve(H, rhs), rtol=1e-7, atol=1e-9)
    assert products < 1000
    assert np.linalg.norm(H @ s - rhs) <= 1e-10 * np.linalg.norm(rhs) * 1.01
    _, used = conjugate_gradients(lambda D: H @ D, lambda R: R, rhs, 0.0, 5)
    assert used == 5


def test_sweeps_without_the_compiled_loops_fit_the_same_network(monkeypatch):
    """The NumPy path of a sweep (no numba) applies the balancing's unit
    scales as the compiled loops do, block by block."""
    from sklearn.datasets import make_classification

    from admm_sklearn import ADMMClassifier, _kernels

    X, y = make_classification(300, 6, random_state=0)
    params = dict(hidden_layer_sizes=(8,), max_iter=40, tol=None, unit_refit_passes=0,
                  dtype="float64", backend="serial", random_state=0)
    compiled = ADMMClassifier(**params).fit(X, y)
    assert compiled.get_params()["balance"]
    monkeypatch.setattr(_kernels, "_prox_pieces_compiled", None)
    monkeypatch.setattr(_kernels, "_activation_residual_compiled", None)
    reference = ADMMClassifier(**params).fit(X, y)
    for W, W_ref in zip(compiled.coefs_, reference.coefs_):
        np.testing.assert_allclose(W, W_ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("with_u", [False, True])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_compiled_shifted_activation_equals_numpy(activation, with_u, scaled):
    """``a = h(z s) - u s`` (``u`` left scaled): the first step of eq. 6 for
    next layers too wide for the fused loop."""
    from admm_sklearn._kernels import HAVE_NUMBA, shifted_activation

    if not HAVE_NUMBA:
        pytest.skip("numba not installed: the NumPy reference is what runs")
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, size=(9, 5)).astype(np.float32)
    u = rng.normal(0, 0.3, size=z.shape).astype(np.float32) if with_u else None
    scale = rng.uniform(0.5, 2.0, size=5).astype(np.float32) if scaled else None
    s = 1.0 if scale is None else scale
    h = ACTIVATIONS[activation][0]
    ref = h(z * s) - (u * s if with_u else 0.0)
    u_ref = None if u is None else u * s
    a = np.empty_like(z)
    assert shifted_activation(z, u, activation, a, scale)
    np.testing.assert_array_equal(a, ref)
    if with_u:
        np.testing.assert_array_equal(u, u_ref)

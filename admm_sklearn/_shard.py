"""One shard of the training state and the passes the engine runs over it.

A shard holds a block of rows (samples) and, for those rows only, every
per-sample variable of Algorithm 1: the inputs ``a_0``, the targets, the
activations ``a_l``, the outputs ``z_l`` and the multipliers ``lambda``
(paper, section 5: these split by samples and never cross workers).

Each pass below updates its shard in place and returns only small
``d x d`` sums (Gram products, objective terms), which a backend adds up
over shards and processes. Entrywise work runs over blocks of rows so its
temporaries stay cache-sized whatever the shard size.
"""

import numpy as np

from ._activations import ACTIVATIONS
from ._kernels import activation_residual, prox_pieces, shifted_activation
from ._losses import LOSSES, probabilities
from ._sparse_inputs import CenteredSparse, is_sparse
from ._updates import prox_hidden

#: Entries per block of rows in entrywise passes: 1 MiB in float64, an L2
#: cache. Measured with the fused hidden-layer pass: 2^17 was fastest of
#: 2^14..2^18 in float32 (serial and two threads) and tied 2^16 in float64.
_BLOCK_ENTRIES = 1 << 17
#: What the output pass returns beside its cross Gram, summed over rows.
OUTPUT_STATS = ("loss", "residual_sq", "multiplier_term")
#: Rows per random stream in Gaussian initialisation: draws depend on the
#: global row index only, so every sharding of the data gets the same state.
_INIT_BLOCK_ROWS = 1024


def row_blocks(n_rows, width, min_rows=64):
    """Slices of rows of an ``n_rows x width`` array, each of about
    ``_BLOCK_ENTRIES`` entries (at least ``min_rows`` rows): what a pass
    works on while it is in cache. Weight matrices (a few units of 10^5
    inputs) go by ``min_rows=1``."""
    step = max(min_rows, _BLOCK_ENTRIES // max(width, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def column_sums(A, w=None):
    """Column sums (weighted by the row weights ``w`` if given) in float64,
    summed per row block in the array's own dtype (a float64 upcast of the
    whole array would cost a full extra pass)."""
    if isinstance(A, CenteredSparse):
        return A.column_sums(w)
    total = np.zeros(A.shape[1])
    for rows in row_blocks(A.shape[0], A.shape[1]):
        total += A[rows].sum(axis=0) if w is None else w[rows] @ A[rows]
    return total


def weigh(Z, w):
    """``diag(w) Z``: each row scaled by its sample weight (``Z`` if unweighted)."""
    return Z if w is None else Z * w[:, None]


def cross_gram(A, Z, w=None):
    """``Z^T diag(w) [A, 1]`` in float64 (``w``: row weights, or ``None`` for
    ones); in ``Z``'s dtype for sparse ``A``, whose product is formed in it
    anyway and which can be 10^5 columns wide (the backends reduce in float64)."""
    sparse = isinstance(A, CenteredSparse)
    cross = np.empty((Z.shape[1], A.shape[1] + 1), dtype=Z.dtype if sparse else np.float64)
    Z = weigh(Z, w)
    # A^T Z, transposed: for a narrow A (the inputs) BLAS runs this form
    # faster than Z^T A (0.033 against 0.042 s for 100,000 x 28 and x 300,
    # float32, one thread)
    cross[:, :-1] = (A.transpose_times(Z) if sparse else A.T @ Z).T
    cross[:, -1] = column_sums(Z)
    return cross


def augmented_gram(A, Z=None, colsum=None, w=None):
    """``[A, 1]^T diag(w) [A, 1]`` and optionally ``Z^T diag(w) [A, 1]``, in float64.

    ``colsum``: ``A``'s (weighted) column sums, when the pass that wrote
    ``A`` formed them while each block was still in cache. ``w``: row
    weights (sample weights), ``None`` for ones.
    """
    n, d = A.shape
    gram = np.empty((d + 1, d + 1))
    if isinstance(A, CenteredSparse):
        gram[:d, :d] = A.gram(w)
    elif w is None:
        gram[:d, :d] = A.T @ A  # numpy dispatches A.T @ A to syrk (half the flops)
    else:  # by row blocks: a weighted copy of all of A would double the memory
        gram[:d, :d] = 0.0
        for rows in row_blocks(n, d):
            gram[:d, :d] += A[rows].T @ weigh(A[rows], w[rows])
    if colsum is None:
        colsum = column_sums(A, w)
    gram[:d, d] = colsum
    gram[d, :d] = colsum
    gram[d, d] = n if w is None else float(np.sum(w, dtype=np.float64))
    if Z is None:
        return gram
    return cross_gram(A, Z, w), gram


class Shard:
    """Rows ``[offset, offset + n)`` of the data and their ADMM state.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n, n_features)
        Inputs ``a_0`` of these rows (copied into ``dtype``; a sparse one
        stays sparse, see :class:`~admm_sklearn._sparse_inputs.CenteredSparse`).
    Y : ndarray of shape (n, n_outputs)
        0/1 targets, one column per output unit.
    offset : int
        Global index of the first row (for sharding-independent random init).
    dtype : numpy dtype
        Floating type of the state.
    sample_weight : ndarray of shape (n,) or None
        Weight of each row's terms in the objective; ``None``: all ones.
        Every per-sample update is unchanged by it (a row's whole objective
        is scaled); only the sums over rows (Gram matrices, objective terms)
        are weighted, which is what makes integer weights equal repeated rows.
    shift : ndarray of shape (n_features,) or None
        Subtracted from every row of ``X`` in float64, before the cast to
        ``dtype``: the fit sees centred inputs, so a feature with a large
        offset keeps its digits in float32 (the estimator maps the first
        layer back to raw inputs).
    """

    def __init__(self, X, Y, offset, dtype, sample_weight=None, shift=None):
        if is_sparse(X):  # kept sparse, the shift applied inside the products
            self.x = CenteredSparse(X, shift, dtype)
            self.nonzeros = self.x.X.count_nonzero()
        elif shift is None:
            self.x = np.array(X, dtype=dtype, order="C")
            self.nonzeros = np.count_nonzero(self.x)
        else:  # by row blocks: no float64 copy of the whole block
            self.x = np.empty(X.shape, dtype=dtype)
            self.nonzeros = 0  # of the inputs as given, before centring
            for rows in row_blocks(X.shape[0], X.shape[1]):
                self.x[rows] = X[rows] - shift
                self.nonzeros += np.count_nonzero(X[rows])
        self.y = np.array(Y, dtype=dtype, order="C")
        self.w = None if sample_weight is None else np.array(sample_weight, dtype=dtype)
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        self.a = []  # a_1 .. a_{L-1}
        self.z = []  # z_1 .. z_L
        self.lam = None
        # scaled multipliers of the hidden constraints (multipliers='all'):
        # u_l for a_l = h(z_l), v_l for z_l = W_l a_{l-1}; empty otherwise
        self.u = []
        self.v = []
        self.polish = None  # (features, z_L, lambda) while the output polish runs
        # W_1 a_0 + b_1 between two solves of W_1 (_input_schedule), else None
        self.m_input = None

    @property
    def n_samples(self):
        return self.x.shape[0]

    def inputs(self, layer):
        """``a_{layer-1}``: the inputs of layer ``layer`` (1-based)."""
        return self.x if layer == 1 else self.a[layer - 2]


def allocate(shard, sizes):
    """Allocate a_l, z_l and lambda for layer widths ``sizes`` (d_1..d_L)."""
    n, dt = shard.n_samples, shard.dtype
    shard.z = [np.zeros((n, d), dtype=dt) for d in sizes]
    shard.a = [np.zeros((n, d), dtype=dt) for d in sizes[:-1]]
    shard.lam = np.zeros((n, sizes[-1]), dtype=dt)


def allocate_hidden_multipliers(shard):
    """Zero scaled multipliers ``u_l, v_l`` for every hidden layer."""
    shard.u = [np.zeros_like(a) for a in shard.a]
    shard.v = [np.zeros_like(a) for a in shard.a]
    return None


def init_gaussian(shard, sizes, seed):
    """Paper initialisation (section 6): i.i.d. N(0, 1) entries in a_l and z_l."""
    allocate(shard, sizes)
    arrays = shard.a + shard.z
    first = shard.offset // _INIT_BLOCK_ROWS
    last = (shard.offset + shard.n_samples - 1) // _INIT_BLOCK_ROWS
    for block in range(first, last + 1):
        lo = block * _INIT_BLOCK_ROWS
        src = slice(max(lo, shard.offset) - lo,
                    min(lo + _INIT_BLOCK_ROWS, shard.offset + shard.n_samples) - lo)
        dst = slice(src.start + lo - shard.offset, src.stop + lo - shard.offset)
        for k, arr in enumerate(arrays):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, block)))
            draw = rng.standard_normal((_INIT_BLOCK_ROWS, arr.shape[1]))
            arr[dst] = draw[src]
    return None


def init_forward(shard, weights, activation):
    """Forward-pass initialisation: ``z_l = W_l a_{l-1} + b_l``, ``a_l = h(z_l)``."""
    allocate(shard, [W.shape[0] for W, _ in weights])
    h = ACTIVATIONS[activation][0]
    for layer, (W, b) in enumerate(weights, start=1):
        z = shard.z[layer - 1]
        if isinstance(shard.inputs(layer), CenteredSparse):
            z[...] = shard.inputs(layer) @ W.T.astype(shard.dtype)
        else:
            np.matmul(shard.inputs(layer), W.T.astype(shard.dtype), out=z)
        z += b.astype(shard.dtype)
        if layer < len(weights):
            h(z, out=shard.a[layer - 1])
    return None


def input_gram(shard):
    """``[a_0, 1]^T [a_0, 1]``: constant through the fit, computed once."""
    return (augmented_gram(shard.x, w=shard.w),)


def input_moments(shard):
    """``([total weight, rows, stored entries, non-zero entries], column
    sums, column sums of squares)`` of ``a_0`` (non-zeros of the inputs as
    given, before centring): what the layer-1 solve is chosen and
    standardised by (:mod:`~admm_sklearn._input_solve`)."""
    x, w = shard.x, shard.w
    total = x.shape[0] if w is None else float(np.sum(w, dtype=np.float64))
    sparse = isinstance(x, CenteredSparse)
    counts = np.array([total, x.shape[0], x.X.nnz if sparse else x.size, shard.nonzeros])
    if sparse:
        return counts, x.column_sums(w), x.column_square_sums(w)
    squares = np.zeros(x.shape[1])
    for rows in row_blocks(x.shape[0], x.shape[1]):
        block = x[rows]
        squares += np.einsum("ij,ij->j", block, weigh(block, _row_weights(shard, rows)),
                             dtype=np.float64)
    return counts, column_sums(x, w), squares


def input_gram_times(shard, P, p_bias):
    """``[a_0, 1]^T diag(w) [a_0, 1] [P; p_bias]`` (``P`` of shape ``(d,
    k)``) as its ``(d, k)`` block and its last row, the Gram never formed:
    two products with the shard's inputs (sparse ones stay sparse) and one
    ``n x k`` temporary, in the state's dtype."""
    x = shard.x
    V = x @ P.astype(shard.dtype, copy=False)
    V += p_bias.astype(shard.dtype)
    V = weigh(V, shard.w)
    top = x.transpose_times(V) if isinstance(x, CenteredSparse) else x.T @ V
    return top, V.sum(axis=0, dtype=np.float64)


def layer_cross(shard, layer):
    """``(z_l [a_{l-1}; 1]^T,)``: the W_l update's cross Gram alone."""
    return (cross_gram(shard.inputs(layer), shard.z[layer - 1], shard.w),)


def layer_grams(shard, layer):
    """``(z_l [a_{l-1}; 1]^T, [a_{l-1}; 1][a_{l-1}; 1]^T)`` for the W_l update."""
    return augmented_gram(shard.inputs(layer), shard.z[layer - 1], w=shard.w)


def _row_weights(shard, rows):
    """The sample weights of ``rows``, or ``None`` when the shard is unweighted."""
    return None if shard.w is None else shard.w[rows]


def _target(shard, layer, lam_scale, rows, scale=None):
    """What ``W_l a_{l-1}`` is fitted to: ``z_l`` shifted by its scaled multiplier.

    ``z_L + lam_scale * lambda`` at the output (``lam_scale`` is 0 for the
    paper's Bregman step, ``1 / (2 beta)`` for the augmented Lagrangian),
    ``z_l + v_l`` on hidden layers with multipliers, else ``z_l`` itself;
    times the unit scales ``scale`` of a hidden layer that its own pass has
    not rescaled yet (see :func:`update_hidden_layer`).
    """
    z = shard.z[layer - 1][rows]
    if layer == len(shard.z):
        return z + lam_scale * shard.lam[rows] if lam_scale else z
    target = z + shard.v[layer - 1][rows] if shard.v else z
    return target if scale is None else target * scale


def transposed(W, dtype):
    """``W^T`` as a C-ordered array of ``dtype``: what the passes multiply
    their rows by. Made once by the engine for all of a process's shards: a
    sparse product would otherwise copy a transposed view into C order at
    every block of rows (with 10^5 inputs, 40 MB each time)."""
    return np.ascontiguousarray(W.T, dtype=dtype)


def update_hidden_layer(shard, layer, ops, b_next, Wt, b, gamma, beta, activation, lam_scale,
                        update_multipliers, scale=None, next_scale=None, input_step=(True, True)):
    """Activation update (eq. 6) of a_l, then output update (eq. 7) of z_l.

    Both are row-local and need only ``W_l`` (solved just before) and
    ``W_{l+1}`` (from the last sweep), so one pass over row blocks does
    both while each block is in cache. Fusing alone saved no measurable
    time; the compiled block steps did (docs/results.rst).

    ``Wt, b``: layer ``l``'s weights, ``Wt = W_l^T`` from :func:`transposed`.

    Eq. 6: ``ops`` is ``("residual", W_next, P)`` or ``("direct", Q, S)`` from
    :func:`admm_sklearn._updates.activation_operator` /
    :func:`~admm_sklearn._updates.activation_direct`, already in the state's
    dtype. With multipliers, ``h(z_l)`` becomes ``h(z_l) - u_l`` and
    ``z_{l+1}`` its target (see :func:`_target`): the same solve on shifted
    data (scaled-form ADMM).

    ``scale``: the unit scales of :meth:`ADMMSolver._balance
    <admm_sklearn._engine.ADMMSolver._balance>` for this layer (or
    ``None``), applied to ``z_l, u_l, v_l`` block by block as the pass reads
    them (``a_l`` is recomputed from them); ``next_scale``: those of layer
    ``l + 1`` when it is hidden, applied to its target here (its own pass
    rescales its state after this one).

    Eq. 7: entrywise and global; with multipliers the prox is taken at ``a_l
    + u_l`` and ``W_l a_{l-1} - v_l``, then ``u_l += a_l - h(z_l)``, ``v_l +=
    z_l - W_l a_{l-1}``.

    ``input_step = (solved, cross)``, for layer 1 only (see
    :mod:`~admm_sklearn._input_schedule`): whether ``W_1`` was solved this
    sweep, so that ``W_1 a_0 + b_1`` is formed anew (and kept in
    ``shard.m_input`` when ``cross`` is off: the sweeps that do not solve
    ``W_1`` read it there, times the unit scales, and multiply nothing by
    the inputs), and whether the cross Gram the next solve needs is formed.

    Returns ``(cross_next, gram, penalty, cross)``: the Gram sums of the new
    ``a_l`` for the ``W_{l+1}`` update (``a_l`` and that layer's target do not
    change before it), the layer's penalty terms ``gamma ||a_l - h(z_l)||^2 +
    beta ||z_l - W_l a_{l-1}||^2`` at the new z_l (at the shifted points when
    multipliers are on) and, for the first layer (whose input a_0 never
    changes), the cross Gram of its target and ``[a_0; 1]`` that the next W_1
    update needs (an empty array otherwise).
    """
    a, z = shard.a[layer - 1], shard.z[layer - 1]
    A = shard.inputs(layer)
    bt = b.astype(shard.dtype)
    colsum = np.zeros(a.shape[1])
    cross_next = np.zeros((shard.z[layer].shape[1], a.shape[1] + 1))
    # only layer 1's is needed (its input never changes); an empty array
    # otherwise, so that the reduction moves no bytes for it. Summed block by
    # block while each is in cache, unless it is wider than a block (wide
    # inputs): then once over the shard, as a per-block sum would add a
    # whole d_1 x (d_0 + 1) array per block
    solved, want_cross = input_step if layer == 1 else (True, False)
    # W_1 held on the next sweep: keep its product with the inputs
    keep_product = layer == 1 and solved and not want_cross
    if keep_product and shard.m_input is None:
        shard.m_input = np.empty(z.shape, dtype=shard.dtype)
    cross_by_block = want_cross and z.shape[1] * (A.shape[1] + 1) <= _BLOCK_ENTRIES
    cross = np.zeros((z.shape[1], A.shape[1] + 1) if cross_by_block else (0,))
    # ... except sparse inputs, which accumulate it block by block in
    # place, transposed, with no temporary (nor a copy of all of z_1's target)
    sparse_cross = want_cross and not cross_by_block and isinstance(A, CenteredSparse)
    if sparse_cross:
        cross_sums = np.zeros((A.shape[1] + 1, z.shape[1]), dtype=shard.dtype)
    penalty = 0.0
    w = shard.w
    for rows in row_blocks(shard.n_samples, a.shape[1]):
        target = _target(shard, layer + 1, lam_scale, rows, next_scale)
        block_colsum, block_cross = _activation_block(shard, layer, ops, b_next, activation,
                                                      target, rows, scale)
        if w is not None:  # the same sums, weighted (the kernels sum unweighted)
            target = weigh(target, w[rows])
            block_colsum, block_cross = w[rows] @ a[rows], target.T @ a[rows]
        colsum += block_colsum
        cross_next[:, :-1] += block_cross
        cross_next[:, -1] += target.sum(axis=0)
        # once per block: a view for dense inputs, a copy of the block's
        # stored entries for sparse ones
        inputs = A[rows]
        bias = None
        if solved:
            m = inputs @ Wt
            if keep_product or w is not None:  # both read W_l a_{l-1} + b_l itself
                m += bt
                if keep_product:
                    shard.m_input[rows] = m
            else:  # the prox adds it as it reads m: a pass over the block saved
                bias = bt
        else:  # W_1 held since it was formed, up to the balancing's unit scales
            m = shard.m_input[rows]
            if scale is not None:
                m *= scale
        # layer 1's next target z_1 + v_1, formed by the prox as it writes them
        zv = np.empty_like(z[rows]) if cross_by_block and shard.v else None
        block_penalty = _output_block(shard, layer, m, gamma, beta, activation,
                                      update_multipliers, rows, scale, bias, zv)
        penalty += block_penalty if w is None else _weighted_penalty(
            shard, layer, m, gamma, beta, activation, update_multipliers, rows)
        if cross_by_block:
            target = _target(shard, 1, 0.0, rows) if zv is None else zv
            cross += cross_gram(inputs, target, _row_weights(shard, rows))
        elif sparse_cross:
            inputs.add_transpose_times(weigh(_target(shard, 1, 0.0, rows), _row_weights(
                shard, rows)), cross_sums)
    if sparse_cross:
        cross = A.center_sums(cross_sums).T
    elif want_cross and not cross_by_block:
        cross = cross_gram(A, _target(shard, 1, 0.0, slice(None)), w)
    return cross_next, augmented_gram(a, colsum=colsum, w=w), np.array([penalty]), cross


def _activation_block(shard, layer, ops, b_next, activation, target, rows, scale=None):
    """Eq. 6 on one block of rows of a_l (see :func:`update_hidden_layer`),
    ``target`` being layer ``l + 1``'s there; returns the block's column sums
    of the new a_l and ``target^T a_l``.

    ``scale``: the layer's unit scales, applied to ``z_l`` as it is read and
    to ``u_l`` in place; :func:`_output_block` then scales ``v_l`` and
    overwrites ``z_l``. In the compiled loops that is no pass of its own
    (a pass of ``z, u, v`` was 15% of a sweep on Friedman #1).
    """
    a, z = shard.a[layer - 1][rows], shard.z[layer - 1][rows]
    u = shard.u[layer - 1][rows] if shard.u else None
    kind, M1, M2 = ops
    if kind == "residual":
        fused = activation_residual(z, u, target, b_next, M1, M2, activation, a, scale)
        if fused is not None:
            return fused
    ha = a
    if not shifted_activation(z, u, activation, a, scale):  # the NumPy reference
        h = ACTIVATIONS[activation][0]
        ha = h(z, out=a) if scale is None else h(np.multiply(z, scale, out=a), out=a)
        if u is not None:
            if scale is not None:
                u *= scale
            ha -= u
    shifted = target - b_next
    if kind == "residual":  # a = h + (z_next - b - h W^T) P
        shifted -= ha @ M1.T
        ha += shifted @ M2
    else:  # a = (z_next - b) Q + h S
        a[...] = shifted @ M1 + ha @ M2
    return a.sum(axis=0), target.T @ a


def _output_block(shard, layer, m, gamma, beta, activation, update_multipliers, rows,
                  scale=None, bias=None, zv=None):
    """Eq. 7 on one block of rows of z_l, given ``m = W_l a_{l-1} + b_l`` there
    (``m + bias`` with ``bias``, which the compiled loop adds as it reads
    ``m``); returns the block's penalty (see :func:`update_hidden_layer`).
    ``scale``: the unit scales ``v_l`` is multiplied by first (see
    :func:`_activation_block`). ``zv`` (with multipliers): filled with the
    new ``z_l + v_l``, the layer's next target."""
    a, z = shard.a[layer - 1][rows], shard.z[layer - 1][rows]
    u = shard.u[layer - 1][rows] if shard.u else None
    v = shard.v[layer - 1][rows] if shard.u else None
    fused = prox_pieces(a, m, gamma, beta, activation, z, u, v, update_multipliers, scale,
                        bias, zv)
    if fused is not None:
        return fused
    if bias is not None:
        m = m + bias
    if v is not None and scale is not None:
        v *= scale
    h, pieces = ACTIVATIONS[activation]  # NumPy reference, same rule
    a_shifted, m_shifted = (a + u, m - v) if shard.u else (a, m)
    penalty = prox_hidden(a_shifted, m_shifted, gamma, beta, pieces, out=z)
    if shard.u and update_multipliers:
        u += a
        u -= h(z)
        v += z
        v -= m
    if zv is not None:
        np.add(z, v, out=zv)
    return penalty


def _weighted_penalty(shard, layer, m, gamma, beta, activation, updated, rows):
    """The penalty of :func:`_output_block` with each row weighted, after it.

    ``gamma ||a + u - h(z)||^2 + beta ||z - m + v||^2`` per row, with ``u, v``
    as they were before the multiplier step; after the step the two
    residuals *are* the new ``u`` and ``v`` (``u += a - h(z)``, ``v += z - m``).
    """
    w, z = shard.w[rows], shard.z[layer - 1][rows]
    if shard.u and updated:
        r_a, r_z = shard.u[layer - 1][rows], shard.v[layer - 1][rows]
    else:
        r_a = shard.a[layer - 1][rows] - ACTIVATIONS[activation][0](z)
        r_z = z - m
        if shard.u:
            r_a += shard.u[layer - 1][rows]
            r_z += shard.v[layer - 1][rows]
    rows_penalty = gamma * np.square(r_a).sum(axis=1) + beta * np.square(r_z).sum(axis=1)
    return float(w @ rows_penalty)


def update_final_outputs(shard, W, b, beta, multiplier_step, lam_scale, loss="hinge"):
    """Final-layer output update and (optionally) the multiplier update, eq. 8.

    ``lambda += multiplier_step (z_L - W_L a_{L-1})``: ``beta`` in the paper,
    ``2 beta`` (the penalty's own slope) for the augmented Lagrangian, ``0``
    during warm-up. ``lam_scale``: see :func:`_target`.

    Returns ``[loss of z_L, ||z_L - W_L a_{L-1}||^2, <z_L, lambda>]``
    (``OUTPUT_STATS``) summed over rows (lambda as it was before this
    update), and the cross Gram for the next W_L update when the network
    has no hidden layer (its input a_0 never changes).
    """
    layer = len(shard.z)
    A = shard.inputs(layer)
    stats = _output_step(A, shard.z[-1], shard.lam, shard.y, shard.w, W, b, beta,
                         multiplier_step, loss)
    if layer > 1:
        return stats, np.zeros(0)  # not needed: see update_hidden_layer
    return stats, cross_gram(A, _target(shard, 1, lam_scale, slice(None)), shard.w)


def _output_step(A, z, lam, y, w, W, b, beta, multiplier_step, loss):
    """``z = argmin loss(z, y) + <lambda, z> + beta ||z - W a - b||^2`` and the
    multiplier step, over row blocks of the arrays given; returns the stats of
    :func:`update_final_outputs`, each row's terms weighted by ``w`` (the
    updates themselves do not depend on it)."""
    update, loss_sum = LOSSES[loss].update, LOSSES[loss].value
    Wt, bt = W.T.astype(A.dtype), b.astype(A.dtype)
    stats = np.zeros(len(OUTPUT_STATS))
    for rows in row_blocks(A.shape[0], z.shape[1]):
        wr = None if w is None else w[rows]
        # once per block: a view for dense inputs, a copy of the block's
        # stored entries for sparse ones
        inputs = A[rows]
        m = inputs @ Wt
        m += bt
        zr = z[rows]
        loss_at_z = update(y[rows], m, lam[rows], beta, zr)
        stats[0] += loss_at_z if wr is None else loss_sum(y[rows], zr, wr)
        stats[2] += float(np.vdot(weigh(zr, wr), lam[rows]))
        m -= zr
        m *= -1.0  # residual z_L - W_L a_{L-1}
        stats[1] += float(np.vdot(weigh(m, wr), m))
        if multiplier_step:
            m *= multiplier_step
            lam[rows] += m
    return stats


# -- output polish: the last layer refitted on the network's own features ----
def start_polish(shard, weights, activation, admm_state=True):
    """Set up a refit of the output layer on forward-pass features.

    ``F = h(... h(W_1 a_0 + b_1) ...)`` (the last hidden layer of the network
    as it predicts) and, if ``admm_state`` (the hinge's ADMM polish; the
    log-loss refit needs ``F`` alone), ``z = W_L F + b_L`` and a copy of
    ``lambda`` as a warm start, kept beside (not in) the ADMM state so that a
    ``warm_start`` fit can continue that state. ``weights``: the network's
    ``(W_l^T, b_l)``, ``W_l^T`` from :func:`transposed`. Returns ``[F; 1][F;
    1]^T``.
    """
    h = ACTIVATIONS[activation][0]
    F = shard.x
    for Wt, b in weights[:-1]:
        F = F @ Wt
        F += b.astype(shard.dtype)
        h(F, out=F)
    shard.polish = (F, None, None)
    if admm_state:
        Wt, b = weights[-1]
        z = F @ Wt
        z += b.astype(shard.dtype)
        shard.polish = (F, z, shard.lam.copy())
    return (augmented_gram(F, w=shard.w),)


def polish_step(shard, W, b, beta):
    """One sweep of Algorithm 1 on the output layer alone, with its input
    fixed to the features: hinge prox, multiplier step ``2 beta``, then the
    cross Gram of the target ``z + lambda / (2 beta)`` for the next ``W_L``."""
    F, z, lam = shard.polish
    stats = _output_step(F, z, lam, shard.y, shard.w, W, b, beta, 2.0 * beta, "hinge")
    return stats, cross_gram(F, z + lam * (0.5 / beta), shard.w)


def logistic_refit_step(shard, W, b):
    """Log-loss of the logits ``W F + b`` on the polish features ``F``,
    summed, and its gradient ``(P - Y)^T [F, 1]`` (``P`` the class
    probabilities): one evaluation of the exact output refit. ``P`` is kept
    for the Hessian products at this point (:func:`logistic_hessian_product`)."""
    F = shard.polish[0]
    cross = np.zeros((W.shape[0], F.shape[1] + 1))
    P = np.empty((F.shape[0], W.shape[0]), dtype=F.dtype)
    loss = 0.0
    Wt, bt = W.T.astype(F.dtype), b.astype(F.dtype)
    for rows in row_blocks(F.shape[0], W.shape[0]):
        z = F[rows] @ Wt
        z += bt
        w = _row_weights(shard, rows)
        loss += LOSSES["log_loss"].value(shard.y[rows], z, w)
        P[rows] = probabilities(z)
        cross += cross_gram(F[rows], P[rows] - shard.y[rows], w)
    shard.polish = (F, P, None)
    return np.array([loss]), cross


def logistic_hessian_product(shard, S, s_b):
    """``H [S, s_b]`` for the log-loss Hessian ``H`` at the point of the last
    :func:`logistic_refit_step`: ``Q^T [F, 1]`` with ``Q = P o (D - rowsum(P
    o D))`` for the softmax, ``p (1 - p) o D`` for one logistic unit, ``D = S
    F + s_b`` (o: entrywise). One pass, no exponentials."""
    F, P, _ = shard.polish
    cross = np.zeros((S.shape[0], F.shape[1] + 1))
    St, st = S.T.astype(F.dtype), s_b.astype(F.dtype)
    for rows in row_blocks(F.shape[0], S.shape[0]):
        q = F[rows] @ St
        q += st
        q *= P[rows]
        if q.shape[1] == 1:
            q -= P[rows] * q
        else:
            q -= P[rows] * q.sum(axis=1, keepdims=True)
        cross += cross_gram(F[rows], q, _row_weights(shard, rows))
    return (cross,)


def polish_loss(shard, W, b, loss):
    """The loss of the outputs ``W F + b`` on the polish features ``F``,
    summed over the shard's rows: the training loss of the network whose
    output layer was just refitted (the stopping rule's measure)."""
    F = shard.polish[0]
    total = 0.0
    Wt, bt = W.T.astype(F.dtype), b.astype(F.dtype)
    for rows in row_blocks(F.shape[0], W.shape[0]):
        z = F[rows] @ Wt
        z += bt
        total += LOSSES[loss].value(shard.y[rows], z, _row_weights(shard, rows))
    return (np.array([total]),)


def targets_cross(shard):
    """``Y^T diag(w) [F, 1]`` on the polish features: with the squared error
    the exact output refit is one ridge solve on it."""
    return (cross_gram(shard.polish[0], shard.y, shard.w),)


def end_polish(shard):
    """Free the polish arrays."""
    shard.polish = None

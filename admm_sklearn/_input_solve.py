"""The input layer's weight update (eq. 3 for ``W_1``): direct or iterative.

``W_1`` minimises ``||Z_1 - W_1 [x'; 1]||^2 + ridge ||W_1||^2`` (the bias
unpenalised), where ``x' = D x + c = (x - mean) / std`` are the standardised
inputs: exact least squares in either coordinates, but the ridge and the
initial weights then mean the same whatever the units of ``X``. The
normal equations are ``W_1 (G + ridge I') = Z_1 [x'; 1]^T`` with the input
Gram ``G = sum_n [x'; 1][x'; 1]^T``, which never changes in a fit. Two ways
to solve them, chosen once per fit by :func:`make_input_solve`:

* :class:`DirectInputSolve` reduces ``G`` once and factorises it once
  (Cholesky); a sweep then costs two triangular solves, ``O(d^2 k)``, and
  ``G`` takes ``8 d^2`` bytes. Today's path for dense and narrow inputs.
* :class:`IterativeInputSolve` never forms ``G``. Conjugate gradients run on
  the normal equations with the product ``G P = sum over shards
  [x'; 1]^T ([x'; 1] P)`` (one pass over the rows, ``O(nnz k)`` for sparse
  inputs, reduced over shards and processes like any Gram), warm-started at
  the last sweep's ``W_1``. Each CG step lowers the subproblem's objective
  from its start, so a solve stopped early still never raises the penalty
  objective (the sweep's monotonicity holds). Memory ``O(d k)``. The path
  for wide sparse inputs (text, one-hot codes), where ``G`` would not fit or
  its solve would cost more than passes over the stored entries.
"""

import numpy as np

from . import _shard
from ._sparse_inputs import add_outer
from ._updates import GramFactor, conjugate_gradients, solve_weights

#: Stop a sweep's conjugate gradients once the normal equations' residual is
#: this fraction of their right-hand side, or after ``CG_MAX_PRODUCTS``
#: products (each one pass over the inputs; one more forms the starting
#: residual). On text the residual falls slowly (10 products: about 15x) and
#: two products a sweep lose nothing against ten (SMS spam 0.983 / 0.983
#: in 13.9 / 29.9 s, AG News 0.882 / 0.881 in 56 / 88 s, seed 0):
#: ``docs/what_we_tried.rst``, "Wide and sparse inputs".
CG_TOL = 1e-4
CG_MAX_PRODUCTS = 2
#: Iterate entries (inputs + 1 times units) per block of units that the
#: conjugate gradients solve together: 2^22, 16 MB in float32.
CG_BLOCK_ENTRIES = 1 << 20
#: Never form an input Gram larger than this (bytes): 1 GiB, d > 11,585.
DIRECT_GRAM_MAX_BYTES = 1 << 30
#: Layer 1's ridge for sparse inputs, in units of the engine's (``alpha``
#: times the capped sample count). Text and one-hot columns are mostly
#: rare features on which a network memorises single rows; seed 0, the
#: defaults' 1x against 100x: one-hot set 0.903 / 0.945, SMS spam 0.973 /
#: 0.981, AG News 0.805 / 0.875 (``docs/what_we_tried.rst``, "Wide and
#: sparse inputs").
SPARSE_INPUT_RIDGE = 100.0
#: Layer 1's ridge for dense inputs grows with their number past this many
#: (``d / RIDGE_FAN_IN`` times the engine's): a prior on the weights that
#: keeps a unit's pre-activation variance the same whatever its fan-in
#: (the variance ``1 / d`` of a He start) is a ridge proportional to ``d``.
#: ``alpha`` was chosen on 6 to 30 inputs. Not for the upper stages of a
#: layer-wise fit, whose inputs are the 100-odd features of the layer below:
#: there it cost up to 0.7 points at (100, 100) (letter, spirals, moons,
#: wine; ``docs/what_we_tried.rst``, "Wide and sparse inputs").
RIDGE_FAN_IN = 16.0
#: Inputs count as sparse data when at most this share of their entries is
#: non-zero: text (0.3% on the two corpora) and one-hot codes (3%), not
#: images' raw pixels (MNIST 19%).
SPARSE_INPUT_DENSITY = 0.1
#: Sweeps over which the direct path's one-off cost (forming and factorising
#: the Gram) is spread when the two paths are compared: the stopping rule
#: ends most fits after a few hundred.
AMORTISED_SWEEPS = 100


class InputCoordinates:
    """The map ``x' = D x + c`` to standardised inputs, from the inputs' moments.

    ``n``: the total sample weight; ``colsum``, ``sqsum``: the (weighted)
    column sums of ``x`` and of ``x**2``. Constant (or numerically
    constant) columns keep unit scale; the bound is positive, so exact
    zeros are caught too. ``uniform=True`` centres every column but divides
    all by one scale, the root mean column variance, keeping the columns'
    relative sizes (sparse inputs, see :func:`make_input_solve`).
    """

    def __init__(self, n, colsum, sqsum, uniform=False):
        self.n = float(n)
        mean = colsum / self.n
        var = np.maximum(sqsum / self.n - mean ** 2, 0.0)
        scale = np.sqrt(var)
        if uniform:
            scale = np.full_like(scale, np.sqrt(np.mean(var)))
        scale[scale <= 1e-12 * np.maximum(np.abs(mean), 1e-300)] = 1.0
        self.D, self.c = 1.0 / scale, -mean / scale
        self.uniform = bool(uniform)
        self.colsum, self.sqsum = colsum, sqsum

    @classmethod
    def from_gram(cls, gram):
        """From ``[x; 1][x; 1]^T`` (its last column holds the sums)."""
        return cls(gram[-1, -1], gram[:-1, -1], np.diag(gram)[:-1])

    def cross(self, cross):
        """``z [x'; 1]^T`` from ``z [x; 1]^T``, in ``O(k d)``, in float64."""
        out = np.empty(cross.shape)
        weights = np.multiply(cross[:, :-1], self.D, out=out[:, :-1])
        weights += np.multiply.outer(cross[:, -1], self.c)
        out[:, -1] = cross[:, -1]
        return out

    def gram(self, gram):
        """``[x'; 1][x'; 1]^T`` from ``[x; 1][x; 1]^T``, in ``O(d^2)``."""
        D, c, n = self.D, self.c, gram[-1, -1]
        Ds = D * gram[:-1, -1]
        out = np.empty_like(gram)
        out[:-1, :-1] = (D[:, None] * gram[:-1, :-1] * D[None, :] + np.outer(Ds, c)
                         + np.outer(c, Ds) + n * np.outer(c, c))
        out[:-1, -1] = out[-1, :-1] = Ds + n * c
        out[-1, -1] = n
        return out

    def gram_diagonal(self):
        """The diagonal of ``[x'; 1][x'; 1]^T``, from the moments alone."""
        D, c = self.D, self.c
        return np.r_[D * D * self.sqsum + 2.0 * D * c * self.colsum + self.n * c * c, self.n]

    def to_raw(self, W, b):
        """Weights on ``x'`` as weights on ``x``: ``W D`` and ``W c + b``."""
        return W * self.D, W @ self.c + b

    def to_standard(self, W, b):
        """Weights on ``x`` as weights on ``x'``: the inverse of :meth:`to_raw`."""
        W_standard = W / self.D
        return W_standard, b - W_standard @ self.c

    def standard_norms(self, W, b):
        """``(||W'_j||^2 per unit j, b')`` of :meth:`to_standard`'s weights,
        by blocks of units: with 10^5 inputs a whole ``W'`` would be one
        more ``d x k`` array every sweep, for a ``k``-vector."""
        squares, bias = np.empty(W.shape[0]), np.empty(W.shape[0])
        for block in _shard.row_blocks(*W.shape, min_rows=1):
            W_standard = W[block] / self.D
            squares[block] = np.einsum("ij,ij->i", W_standard, W_standard)
            bias[block] = b[block] - W_standard @ self.c
        return squares, bias


class _InputSolve:
    """What both paths share: the coordinates and the layer-1 ridge."""

    def __init__(self, backend, coordinates, ridge_factor=1.0):
        self.backend, self.coordinates = backend, coordinates
        self.ridge_factor = float(ridge_factor)

    def ridge_term(self, squares):
        """``ridge_factor ||W'||^2`` (``W'``: the weights on ``x'``) from the
        per-unit ``squares`` of :meth:`InputCoordinates.standard_norms`: the
        layer's ridge in the objective, per unit of the engine's ridge."""
        return self.ridge_factor * float(squares.sum())


class DirectInputSolve(_InputSolve):
    """Reduce the input Gram once, factorise it once, solve every sweep."""

    def __init__(self, backend, coordinates, ridge_factor=1.0):
        super().__init__(backend, coordinates, ridge_factor)
        (self._gram,) = backend.map_sum(_shard.input_gram)
        self._factor = None

    def solve(self, cross, ridge, previous=None):
        """``(W, b)`` on standardised inputs from ``z [x; 1]^T`` (raw), or
        ``None`` if the Gram is not finite (``previous``: unused)."""
        ridge = ridge * self.ridge_factor
        if self._factor is None:
            # the Gram and the ridge are constant through a fit: checked and
            # factorised once, then only the factor is kept (not both d x d
            # arrays, nor an O(d^2) check every sweep)
            if not np.all(np.isfinite(self._gram)):
                return None
            self._factor = GramFactor(self.coordinates.gram(self._gram), ridge)
            self._gram = None
        return solve_weights(self.coordinates.cross(cross), None, ridge, factor=self._factor)


class IterativeInputSolve(_InputSolve):
    """Conjugate gradients on the normal equations, the Gram never formed.

    The iterates are in the state's ``dtype`` (two products a sweep need no
    more digits than float32 holds) and the units are solved in blocks
    (:meth:`solve`), so that with 10^5 features and 100 units the solve
    holds tens of MB, not GB.
    """

    def __init__(self, backend, coordinates, ridge_factor=1.0, dtype=np.float64):
        super().__init__(backend, coordinates, ridge_factor)
        self.dtype = np.dtype(dtype)
        self._D = coordinates.D.astype(self.dtype)[:, None]
        self.products = []  # per solve, for the research log and tests

    def multiply(self, P, ridge):
        """``(G + ridge I') P`` for ``P`` of shape ``(d + 1, k)``, one data pass.

        ``G = T G_raw T^T`` with ``T = [[diag(D), c], [0, 1]]``: ``T^T P``
        takes the product to raw coordinates, the shards multiply by their
        raw Gram, ``T`` brings it back.
        """
        c = self.coordinates.c
        top, bottom = self.backend.map_sum(_shard.input_gram_times, self._D * P[:-1],
                                           c @ P[:-1] + P[-1])
        out = np.empty_like(P)
        out[:-1] = top
        del top
        out[:-1] *= self._D
        add_outer(out[:-1], c, bottom)
        out[:-1] += ridge * P[:-1]
        out[-1] = bottom
        return out

    def solve(self, cross, ridge, previous=None):
        """``(W, b)`` on standardised inputs from ``z [x; 1]^T`` (raw), in
        the state's dtype, warm-started at ``previous`` (the last weights, on
        raw inputs; ``None``: zeros); ``None`` if the right-hand side is not
        finite.

        The normal equations of the ``k`` units are independent systems with
        one matrix, so they are solved in blocks of units of at most
        ``CG_BLOCK_ENTRIES`` iterate entries: with 10^5 inputs the iterates
        of 100 units at once would be several 40 MB arrays, a block's are a
        few MB, at the price of one more pass over the (sparse) inputs per
        block and product.
        """
        k, d1 = cross.shape
        W, b = np.empty((k, d1 - 1), dtype=self.dtype), np.empty(k, dtype=self.dtype)
        width = max(1, CG_BLOCK_ENTRIES // d1)
        products = 0
        for first in range(0, k, width):
            units = slice(first, first + width)
            start = None if previous is None else self.coordinates.to_standard(
                previous[0][units], previous[1][units])
            solved = self._solve_units(cross[units], ridge * self.ridge_factor, start)
            if solved is None:
                return None
            (W[units], b[units]), used = solved
            products = max(products, used)
        self.products.append(products)
        return W, b

    def _solve_units(self, cross, ridge, previous):
        """One block of units: ``((W, b), products)``, or ``None``."""
        rhs = self.coordinates.cross(cross).T.astype(self.dtype)
        tolerance = CG_TOL * np.linalg.norm(rhs)
        if not np.isfinite(tolerance):
            return None
        start = np.zeros_like(rhs)
        if previous is not None:
            start[:-1], start[-1] = previous[0].T, previous[1]
        rhs -= self.multiply(start, ridge)  # the residual at the start
        precondition_by = (1.0 / (self.coordinates.gram_diagonal() + ridge)).astype(
            self.dtype)[:, None]
        step, products = conjugate_gradients(
            lambda P: self.multiply(P, ridge), lambda R: precondition_by * R, rhs,
            tolerance, CG_MAX_PRODUCTS)
        start += step
        return (start[:-1].T, start[-1]), products + 1


def make_input_solve(backend, n_outputs, solve="auto", dtype=np.float64, fan_in=None,
                     uniform_scale=False):
    """The input layer's solve for this fit: ``'direct'``, ``'iterative'``,
    or ``'auto'`` (:func:`prefers_direct`). ``n_outputs``: the width of
    layer 1; ``dtype``: the state's (the iterative solve's iterates).

    Layer 1's ridge is ``max(1, d / fan_in)`` times the engine's for dense
    inputs (``fan_in=None``: once; the estimators pass ``RIDGE_FAN_IN`` for
    a network's own inputs, not for the features that the upper stages of
    a layer-wise fit read).

    Inputs that are mostly zeros (at most ``SPARSE_INPUT_DENSITY`` of their
    entries non-zero, whether stored sparse or dense, so that both give one
    model) are centred but keep their columns' relative sizes (one scale
    for all) and get ``SPARSE_INPUT_RIDGE`` times the engine's ridge on
    layer 1, whichever path solves it.

    ``uniform_scale=True`` gives any inputs that one scale for all: the
    estimators ask it for the upper stages of a layer-wise fit, whose inputs
    are a fitted layer's units. Their sizes carry what that layer learnt (a
    unit that barely fires is mostly noise), which standardising each one
    would erase (``docs/what_we_tried.rst``, "Depth").
    """
    counts, colsum, sqsum = backend.map_sum(_shard.input_moments)
    n, rows, stored, nonzeros = (float(c) for c in counts)
    d = colsum.shape[0]
    mostly_zeros = is_mostly_zeros(nonzeros, rows, d)
    coordinates = InputCoordinates(n, colsum, sqsum, uniform=mostly_zeros or uniform_scale)
    ridge_factor = (SPARSE_INPUT_RIDGE if mostly_zeros
                    else 1.0 if fan_in is None else max(1.0, d / fan_in))
    direct = solve == "direct" or (solve == "auto" and prefers_direct(rows, d, stored, n_outputs))
    if direct:
        return DirectInputSolve(backend, coordinates, ridge_factor)
    return IterativeInputSolve(backend, coordinates, ridge_factor, dtype)


def is_mostly_zeros(nonzeros, rows, d):
    """Whether ``rows x d`` inputs with ``nonzeros`` non-zero entries are
    sparse data (``SPARSE_INPUT_DENSITY``), however they are stored."""
    return nonzeros <= SPARSE_INPUT_DENSITY * rows * d


def prefers_direct(rows, d, stored, k):
    """Whether ``'auto'`` factorises the input Gram: unless it would pass
    ``DIRECT_GRAM_MAX_BYTES``, or a sweep's conjugate gradients (at most
    ``CG_MAX_PRODUCTS + 1`` products, each ``4 stored k`` flops for the two
    products with the inputs and ``O(d k)`` more) cost fewer flops than the
    direct path's two triangular solves plus its one-off Gram and
    factorisation spread over ``AMORTISED_SWEEPS`` (``rows`` x ``d``
    inputs with ``stored`` stored entries, ``k`` units in layer 1)."""
    d = d + 1  # the bias column
    if 8.0 * d * d > DIRECT_GRAM_MAX_BYTES:
        return False
    one_off = d ** 3 / 3.0 + stored * stored / max(rows, 1.0) + d * d
    direct = 2.0 * d * d * k + one_off / AMORTISED_SWEEPS
    iterative = (CG_MAX_PRODUCTS + 1) * (4.0 * stored * k + 12.0 * d * k)
    return direct <= iterative

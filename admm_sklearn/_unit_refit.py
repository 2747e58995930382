"""Block coordinate descent on the first layer's units, after the sweeps.

A one-hidden-layer network ``f(x) = W_2 relu(W_1 x' + b_1) + b_2`` leaves
the ADMM sweeps with a training loss that further sweeps do not lower: the
per-sample state fits the targets through slack that the network's own
forward pass does not reproduce, and the output refit
(:meth:`~admm_sklearn._engine.ADMMSolver.polish_output`) can only re-weight
the features it is given. Here the network itself is fitted, still without
gradients, by exact block solves on its penalised loss

.. math::

    J = \\sum_n w_n \\ell(f(x_n), y_n)
        + c_1 \\sum_j \\lVert [u_j; b_j] \\rVert^2 + c_2 \\lVert W_2 \\rVert^2,

with ``u_j`` unit ``j``'s input weights on the standardised inputs ``x'``
(the coordinates of the layer-1 solve), ``c_1`` the output ridge ``c_2``
times the first layer's fan-in factor, and ``l`` the squared error
``||y - f||^2 / 2`` or the log-loss.

One *pass* visits the units in turn (Gauss-Seidel). With the other units
fixed and unit ``j``'s set of active rows held, the loss lies below a
quadratic in the change ``s`` of ``[u_j; b_j]`` with curvature ``kappa``
(the squared error: equal to it, ``kappa = 1``; the log-loss: Boehning's
bound, ``kappa = 1/2``, ``1/4`` for one logistic output); its minimiser
solves

.. math::

    (\\kappa \\lVert v_j \\rVert^2 G_j + 2 c_1 I) s
        = \\sum_{n \\in S_j} w_n (v_j^T r_n) \\tilde x_n - 2 c_1 [u_j; b_j],

``G_j = sum_{n in S_j} w_n x~_n x~_n^T`` over the active rows ``S_j``
(``x~ = [x'; 1]``), ``v_j`` its output weights, ``r_n`` minus the loss's
gradient (the residuals ``y - f`` of the squared error): one small Gram
reduction per unit, as every weight update of the paper (eq. 3) is. The
step changes the active set, so its true change of ``J`` is measured at
``STEP_SCALES`` of it: for the squared error all in one more reduction,
the best taken if it lowers ``J``; for the log-loss one reduction per
scale, the first that lowers ``J`` taken. The output layer then minimises the same bound, a ridge regression
on the features with targets ``f + r / kappa``: exact for the squared
error, and for the log-loss ``OUTPUT_STEPS`` majorise-minimise steps, each
of which lowers ``J``. ``J`` never rises. The passes stop once ``WINDOW``
of them together lowered ``J`` by less than ``WINDOW * TOL`` of it, or
after the estimator's ``unit_refit_passes``.

The per-sample arrays (float64 copies of the standardised inputs, the
pre-activations, the features, the outputs and the residuals) live in the
shards, as the ADMM state does, and only ``(d + 2)``-sized sums cross
processes. The ADMM state is left untouched: a ``warm_start`` fit
continues the sweeps. ``docs/what_we_tried.rst``, "Regression" and
"Depth", has the measurements and the variants that failed (Jacobi steps,
momentum, float32 arithmetic).
"""

import numpy as np

from ._kernels import unit_commit, unit_rhs, unit_try, unit_try_log_loss
from ._losses import LOSSES
from ._sparse_inputs import CenteredSparse
from ._shard import augmented_gram, cross_gram, weigh
from ._updates import solve_weights

#: Fractions of a unit's closed-form step whose true change of ``J`` is
#: measured; the step assumes the active rows stay active.
STEP_SCALES = (1.0, 0.5, 0.25, 0.125)
#: Stop once ``WINDOW`` passes together lowered ``J`` by less than
#: ``WINDOW * TOL`` of its value before them.
_SCALES = np.array(STEP_SCALES)
TOL = 1e-3
WINDOW = 5
#: Widest inputs refined: each unit solves a ``(d + 1)``-square system per
#: pass, and the float64 copy of the inputs is kept while the passes run.
MAX_INPUTS = 64
#: Majorise-minimise steps of the log-loss's output layer per pass (the
#: squared error's one step is exact).
OUTPUT_STEPS = 3
#: The passes' ridge on the log-loss, in units of the solver's ``ridge()``
#: (``alpha`` times the capped number of samples): the network's own,
#: ``beta`` times that, held the units of the hard sets in (one hidden
#: layer, ``docs/what_we_tried.rst``, "Depth"). The squared error uses the
#: network's.
LOG_LOSS_RIDGE = 0.1


def applies(solver, n_passes, frozen):
    """Whether the unit passes run after ``solver``'s sweeps.

    For one hidden ReLU layer on the network's own inputs (a layer-wise
    fit's first stage, not the upper ones, whose inputs are fixed
    features), a loss with a curvature bound (the squared error, the
    log-loss), at most ``MAX_INPUTS`` inputs, not mostly
    zeros (those get one scale for all columns, see
    :mod:`~admm_sklearn._input_solve`; a sparse matrix of other inputs is
    densified for the passes), and at
    least as much sample weight as the first layer has weights (fewer, and
    its units would interpolate single rows).
    """
    H, d = solver.layer_sizes[1], solver.layer_sizes[0]
    return (n_passes > 0 and not frozen and solver.n_layers == 2
            and solver.activation == "relu" and LOSSES[solver.loss].curvature is not None
            and d <= MAX_INPUTS and not solver.input_coordinates.uniform
            and solver.n_samples >= H * (d + 1))


class UnitRefit:
    """The passes of one refit; :meth:`run` does them all.

    ``weights``: the network after the sweeps and the output refit, as the
    solver's weights (layer 1 on the shards' centred inputs).
    """

    def __init__(self, solver, backend, weights):
        self.backend = backend
        self.loss = solver.loss
        self.coordinates = solver.input_coordinates
        self.kappa = LOSSES[solver.loss].curvature(solver.layer_sizes[-1])
        # the squared error is its own quadratic bound: one output solve is
        # exact, and every step scale is measured by one cheap reduction
        self.exact = solver.loss == "squared_error"
        scale = solver.beta if self.exact else LOG_LOSS_RIDGE
        ridge = scale * solver.ridge()
        self.c_in, self.c_out = ridge * solver.input_ridge_factor, ridge
        (W1, b1), (self.W2, self.b2) = weights
        # the first layer as [u_j; b_j] rows on the standardised inputs
        self.theta = np.column_stack(self.coordinates.to_standard(W1, b1))
        self.n_passes = 0

    def objective(self, data_term):
        """``J`` from the data term ``sum w l(f, y)``."""
        return (data_term + self.c_in * float(np.sum(self.theta ** 2))
                + self.c_out * float(np.sum(self.W2 ** 2)))

    def run(self, max_passes):
        """Up to ``max_passes`` passes; returns the network as the solver's
        weights, and records ``n_passes`` and ``objectives`` (``J`` before
        the first pass and after each)."""
        backend, coords = self.backend, self.coordinates
        try:
            (data,) = backend.map_sum(begin, self.theta, coords.D, coords.c, self.W2, self.b2,
                                      self.loss)
            self.objectives = [self.objective(float(data[0]))]
            while self.n_passes < max_passes and not self._settled():
                self._pass()
                self.n_passes += 1
                (data,) = backend.map_sum(residuals, self.W2, self.b2)
                self.objectives.append(self.objective(float(data[0])))
        finally:
            backend.map(end)  # local: frees memory, no collective
        W1, b1 = coords.to_raw(self.theta[:, :-1], self.theta[:, -1])
        return [(W1, b1), (self.W2, self.b2)]

    def _settled(self):
        J = self.objectives
        return len(J) > WINDOW and J[-WINDOW - 1] - J[-1] < WINDOW * TOL * J[-WINDOW - 1]

    def _pass(self):
        """Every unit once, then the output layer."""
        commit = None
        for j in range(self.theta.shape[0]):
            v = self.W2[:, j]
            gram, rhs = self.backend.map_sum(unit_system, j, v, commit)
            commit = None
            step = self._step(gram, rhs, self.kappa * float(v @ v), self.theta[j])
            commit = self._scale(j, step, v)
            if commit is not None:
                self.theta[j] = self.theta[j] + commit * step
        self._output(commit)

    def _scale(self, j, step, v):
        """The scale of ``step`` unit ``j`` takes (``None``: none lowers ``J``).
        The squared error's changes at every scale come from one cheap
        reduction, and the best is taken; the log-loss's cost a softmax per
        moving row each, so the scales are tried in turn and the first that
        lowers ``J`` taken (the full step is, on most units)."""
        theta = self.theta[j]

        def ridge_change(t):
            return self.c_in * (2.0 * t * (theta @ step) + t * t * (step @ step))

        if self.exact:
            (changes,) = self.backend.map_sum(try_unit, j, step, v, None)
            changes = changes + np.array([ridge_change(t) for t in STEP_SCALES])
            best = int(np.argmin(changes))
            return STEP_SCALES[best] if changes[best] < 0.0 else None
        for k, t in enumerate(STEP_SCALES):
            (change,) = self.backend.map_sum(try_unit, j, step, v, k)
            if change[0] + ridge_change(t) < 0.0:
                return t
        return None

    def _output(self, commit):
        """The output layer: the minimiser of the loss's quadratic bound, a
        ridge regression on the features with targets ``f + r / kappa``;
        exact for the squared error, else repeated (each step lowers ``J``)."""
        ridge = 2.0 * self.c_out / self.kappa
        gram, cross = self.backend.map_sum(readout_sums, commit, self.kappa)
        self.W2, self.b2 = solve_weights(cross, gram, ridge)
        for _ in range(0 if self.exact else OUTPUT_STEPS - 1):
            self.backend.map_sum(residuals, self.W2, self.b2)
            (cross,) = self.backend.map_sum(readout_cross, self.kappa)
            self.W2, self.b2 = solve_weights(cross, gram, ridge)

    def _step(self, gram, rhs, curvature, theta):
        """The unit's closed-form step ``s`` (module docstring)."""
        system = curvature * gram
        system[np.diag_indices_from(system)] += 2.0 * self.c_in
        rhs = rhs - 2.0 * self.c_in * theta
        try:  # numpy's: scipy's checks cost 10x its solve at this size
            return np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:  # no ridge and no active rows
            return np.linalg.lstsq(system, rhs, rcond=None)[0]


# -- shard passes: the per-sample arrays live in shard.unit_refit ------------
class _State:
    """A shard's arrays for the passes, float64: ``X`` the standardised
    inputs with a column of ones, ``Z`` the pre-activations (columns
    contiguous, one per unit), ``A = relu(Z)``, ``R`` the residuals (minus
    the loss's gradient; ``None`` when stale), ``F`` the outputs (``None``
    for the squared error, where ``R = Y - F`` is kept up to date instead),
    ``w`` the sample weights (``None``: ones); ``q = R v_j``, ``xs = X s``,
    ``base`` (the log-loss's rows before the step, as needed) and ``v`` of
    the unit last tried."""

    def __init__(self, shard, theta, D, offset, loss):
        n, d = shard.x.shape
        self.X = np.empty((n, d + 1))
        x = shard.x
        if isinstance(x, CenteredSparse):
            # deliberate: the passes read rows of a dense float64 copy, and
            # applies() admits at most MAX_INPUTS columns not mostly zeros,
            # so this copy is no larger than a dense input's
            x = x.X.toarray() - x.shift
        self.X[:, :-1] = x * D + offset
        self.X[:, -1] = 1.0
        self.Z = np.asfortranarray(self.X @ theta.T)
        self.A = np.maximum(self.Z, 0.0)
        self.Y = np.asarray(shard.y, dtype=np.float64)
        self.w = None if shard.w is None else np.asarray(shard.w, dtype=np.float64)
        self.loss = LOSSES[loss]
        # the squared error's residuals move linearly with the outputs
        self.linear = loss == "squared_error"
        # each unit's Gram over its active rows, kept up to date by the
        # rows whose activity a step flips (few, once the passes settle)
        self.G = np.stack([self.gram(self.Z[:, j] > 0.0) for j in range(self.Z.shape[1])])
        self.R = self.F = self.q = self.xs = self.base = self.v = self.j = None

    def gram(self, rows):
        """``sum_{rows} w x~ x~^T``, ``rows`` a boolean mask."""
        X = self.X[rows]
        return X.T @ weigh(X, None if self.w is None else self.w[rows])

    def residuals(self):
        """``R``, brought up to date."""
        if self.R is None:
            self.R = self.loss.residual(self.Y, self.F)
        return self.R

    def data_term(self, rows, F):
        """``sum w l(F, y)`` over ``rows`` (``F``: those rows' outputs)."""
        return self.loss.value(self.Y[rows], F, None if self.w is None else self.w[rows])


def begin(shard, theta, D, offset, W2, b2, loss):
    """Set up the shard's arrays for the network ``theta`` (standardised
    first layer), ``W2, b2`` and the loss named ``loss``; returns the data
    term ``sum w l(f, y)``."""
    shard.unit_refit = _State(shard, theta, D, offset, loss)
    return residuals(shard, W2, b2)


def residuals(shard, W2, b2):
    """The outputs and residuals for a new output layer; returns the data
    term ``sum w l(f, y)``."""
    state = shard.unit_refit
    F = state.A @ W2.T + b2
    state.R = state.loss.residual(state.Y, F)
    state.F = None if state.linear else F
    return (np.array([state.loss.value(state.Y, F, state.w)]),)


def _commit(state, scale):
    """Apply ``scale`` times the last unit's tried step to ``Z, A, G`` and
    to ``R`` (squared error) or ``F`` (compiled, else the NumPy reference
    below)."""
    j = state.j
    # the kernel's R -= (a_new - a) v^T is F += (a_new - a) v^T with -v
    moved, v = (state.R, state.v) if state.linear else (state.F, -state.v)
    if not state.linear:
        state.R = None
    if not unit_commit(state.X, state.Z[:, j], state.A[:, j], moved, v, state.xs,
                       scale, state.w, state.G[j]):
        z = state.Z[:, j] + scale * state.xs
        was, now = state.Z[:, j] > 0.0, z > 0.0
        state.G[j] += state.gram(now & ~was) - state.gram(was & ~now)
        a = np.maximum(z, 0.0)
        moved -= np.outer(a - state.A[:, j], v)
        state.Z[:, j], state.A[:, j] = z, a


def unit_system(shard, j, v, commit):
    """``(G_j, sum_{S_j} w (v^T r) x~)`` of unit ``j`` with output weights
    ``v``, after the last unit's accepted step (``commit``: its scale, or
    ``None``)."""
    state = shard.unit_refit
    if commit is not None:
        _commit(state, commit)
    R = state.residuals()
    compiled = unit_rhs(state.X, state.Z[:, j], R, v, state.w)
    if compiled is not None:
        state.q, rhs = compiled
    else:
        state.q = R @ v
        q = np.where(state.Z[:, j] > 0.0, state.q, 0.0)
        rhs = state.X.T @ (q if state.w is None else q * state.w)
    return state.G[j].copy(), rhs


def try_unit(shard, j, step, v, k):
    """The change of the data term ``sum w l(f, y)`` when unit ``j`` takes
    ``STEP_SCALES[k]`` times ``step`` (``k=None``: each of them), the active
    rows moving with it."""
    state = shard.unit_refit
    state.j, state.v = j, v
    z, a, vv = state.Z[:, j], state.A[:, j], float(v @ v)
    if k is not None:  # one scale: the log-loss
        scale = STEP_SCALES[k]
        reuse = (None, None) if k == 0 else (state.xs, state.base)
        compiled = unit_try_log_loss(state.X, z, a, state.F, state.Y, v, state.w, step,
                                     scale, *reuse)
        if compiled is not None:
            state.xs, state.base, change = compiled
            return (np.array([change]),)
        if k == 0:
            state.xs = state.X @ step
        delta = np.maximum(z + scale * state.xs, 0.0) - a
        rows = delta != 0.0
        F = state.F[rows]
        return (np.array([state.data_term(rows, F + np.outer(delta[rows], v))
                          - state.data_term(rows, F)]),)
    compiled = unit_try(state.X, z, a, state.q, state.w, step, vv, _SCALES)
    if compiled is not None:
        state.xs, changes = compiled
        return (changes,)
    state.xs = state.X @ step
    # one row per scale: rows as the long axis is 6x faster than columns
    delta = np.maximum(z + _SCALES[:, None] * state.xs, 0.0) - a
    per_row = delta * (0.5 * vv * delta - state.q)
    return (per_row.sum(axis=1) if state.w is None else per_row @ state.w,)


def _targets(state, kappa):
    """The output layer's ridge-regression targets ``f + r / kappa`` (``y``
    for the squared error)."""
    return state.Y if state.linear else state.F + state.residuals() / kappa


def readout_sums(shard, commit, kappa):
    """After the pass's last accepted step: ``([A, 1]^T diag(w) [A, 1],
    T^T diag(w) [A, 1])``, ``T`` the targets of the output layer."""
    state = shard.unit_refit
    if commit is not None:
        _commit(state, commit)
    return (augmented_gram(state.A, w=state.w),
            cross_gram(state.A, _targets(state, kappa), state.w))


def readout_cross(shard, kappa):
    """``T^T diag(w) [A, 1]`` alone: the features have not moved."""
    state = shard.unit_refit
    return (cross_gram(state.A, _targets(state, kappa), state.w),)


def end(shard):
    """Free the shard's arrays."""
    shard.unit_refit = None


# O(rows x inputs) each, a hundred per pass: in threads they cost more in
# dispatch and in the interpreter's lock than they save (bike sharing, two
# shards: 132 ms a pass in threads, 83 ms one after the other)
unit_system.cheap = try_unit.cheap = True

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
step changes the active set, so the bound's change of ``J`` with the rows
moving is measured at ``STEP_SCALES`` of it, all in one more reduction, and
the best scale taken if it lowers the bound (for the squared error, the
loss itself; for the log-loss, a majorise-minimise step: the bound lies
above the loss and touches it at the current network, so ``J`` falls at
least as much). The output layer then minimises the same bound, a ridge
regression on the features with targets ``f + r / kappa``: exact for the
squared error, and for the log-loss ``OUTPUT_STEPS`` majorise-minimise
steps, each of which lowers ``J``. ``J`` never rises.

For the log-loss, ``J`` is fitted on all rows but a ``HOLDOUT`` share,
chosen by a hash of each row's rounded values (the same rows on every
backend; equal rows together). The held-out rows' loss picks the pass
returned, the one where it was lowest (the sweeps' network, if no pass
lowered it): on noisy labels the passes fit the noise, and the held-out
rows see it. The passes stop once ``PATIENCE`` of them brought no new
lowest held-out loss (the log-loss), once ``RISES`` of them in a row raised
it while none has beaten the sweeps' network, once ``WINDOW`` of them together
lowered ``J`` by less than ``WINDOW * TOL`` of it, or after the
estimator's ``unit_refit_passes``.

The per-sample arrays (float64 copies of the standardised inputs, the
pre-activations, the features, the outputs and the residuals) live in the
shards, as the ADMM state does, and only ``(d + 2)``-sized sums cross
processes. The ADMM state is left untouched: a ``warm_start`` fit
continues the sweeps. ``docs/what_we_tried.rst``, "Regression" and
"Depth", has the measurements and the variants that failed (Jacobi steps,
momentum, float32 arithmetic).
"""

import numpy as np
from scipy.linalg import lapack

from ._kernels import unit_commit, unit_commit_logistic, unit_rhs, unit_try
from ._losses import LOSSES
from ._sparse_inputs import CenteredSparse
from ._shard import augmented_gram, cross_gram, weigh
from ._updates import solve_weights

#: Fractions of a unit's closed-form step whose change of the bounded ``J``
#: is measured with the active rows moving; the step assumes they stay.
STEP_SCALES = (1.0, 0.5, 0.25, 0.125)
_SCALES = np.array(STEP_SCALES)
#: Stop once ``WINDOW`` passes together lowered ``J`` by less than
#: ``WINDOW * TOL`` of its value before them.
TOL = 1e-3
WINDOW = 5
#: Share of the rows held out of the passes' fit to choose the pass kept,
#: by loss: the log-loss's passes, under a tenth of the network's ridge,
#: fit noisy labels; the squared error's, under all of it, lowered no test
#: R^2 of eight regression sets, and holding rows out cost them 0.6 to 2
#: points (``docs/what_we_tried.rst``, "Depth").
HOLDOUT = {"squared_error": 0.0, "log_loss": 0.1}
#: Passes without a new lowest held-out loss that end the passes.
PATIENCE = 10
#: ... and, while no pass has beaten the sweeps' network, this many passes
#: in a row that each raised the held-out loss: the passes are fitting the
#: labels' noise from the start (moons, letter, pendigits, satimage, a 40k
#: set). Replayed on 37 recorded fits of 14 sets, three rises changed no
#: network returned and cut such fits from 7-10 passes to 3; two rises
#: would have changed one (moons: a new lowest at pass 6), a patience of 5
#: three; docs/what_we_tried.rst, "Depth", 12.25.
RISES = 3
#: A step's change of ``J`` must exceed this share of ``J`` to be taken.
ROUND_OFF = 1e-10
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
#: ... in the first stage of a layer-wise deep fit, whose output layer is
#: dropped and whose hidden layer becomes the fixed features of the stages
#: above: those stages fit the labels again on all rows, so a feature the
#: passes bent to single rows is fitted twice. Three times the ridge, with
#: the held-out tenth kept, measured at (100, 100) and (100, 50), three
#: seeds: parity +0.8 / +0.9 points, moons +0.6 / +0.8, a checkerboard +2.9
#: / +3.3, satimage +0.1 / +0.3, spirals -0.7 / -0.7, radial bands -0.2 /
#: +0.1, in fewer passes (``docs/what_we_tried.rst``, "Depth", 12.29).
FEATURE_STAGE_LOG_LOSS_RIDGE = 0.3


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
    solver's weights (layer 1 on the shards' centred inputs);
    ``features_only``: only the hidden layer of the result is kept (a
    layer-wise fit's first stage), which the log-loss's passes fit under
    ``FEATURE_STAGE_LOG_LOSS_RIDGE``.
    """

    def __init__(self, solver, backend, weights, features_only=False):
        self.backend = backend
        self.loss = solver.loss
        self.coordinates = solver.input_coordinates
        self.kappa = LOSSES[solver.loss].curvature(solver.layer_sizes[-1])
        # the squared error is its own quadratic bound: one output solve is
        # exact, and every step scale is measured by one cheap reduction
        self.exact = solver.loss == "squared_error"
        self.holdout = HOLDOUT[solver.loss]
        scale = (solver.beta if self.exact
                 else FEATURE_STAGE_LOG_LOSS_RIDGE if features_only else LOG_LOSS_RIDGE)
        ridge = scale * solver.ridge()
        self.c_in, self.c_out = ridge * solver.input_ridge_factor, ridge
        (W1, b1), (self.W2, self.b2) = weights
        # the first layer as [u_j; b_j] rows on the standardised inputs
        self.theta = np.column_stack(self.coordinates.to_standard(W1, b1))
        self.n_passes = self.best_pass = 0

    def objective(self, data_term):
        """``J`` from the data term ``sum w l(f, y)``."""
        return (data_term + self.c_in * float(np.sum(self.theta ** 2))
                + self.c_out * float(np.sum(self.W2 ** 2)))

    def run(self, max_passes):
        """Up to ``max_passes`` passes; returns the network of pass
        ``best_pass`` (the lowest held-out loss; the last pass where no rows
        are held out) as the solver's weights, and records ``n_passes``,
        ``objectives`` (``J`` before the first pass and after each) and
        ``held_out`` (the held-out rows' loss, likewise)."""
        backend, coords = self.backend, self.coordinates
        try:
            (data,) = backend.map_sum(begin, self.theta, coords.D, coords.c, self.W2, self.b2,
                                      self.loss, self.holdout)
            self.objectives, self.held_out = [self.objective(data[0])], [data[1]]
            best = (self.theta.copy(), self.W2, self.b2)
            while self.n_passes < max_passes and not self._settled():
                self._pass()
                self.n_passes += 1
                (data,) = backend.map_sum(residuals, self.W2, self.b2)
                self.objectives.append(self.objective(data[0]))
                self.held_out.append(data[1])
                if not self.holdout or data[1] < self.held_out[self.best_pass]:
                    self.best_pass, best = self.n_passes, (self.theta.copy(), self.W2, self.b2)
        finally:
            backend.map(end)  # local: frees memory, no collective
        theta, W2, b2 = best
        W1, b1 = coords.to_raw(theta[:, :-1], theta[:, -1])
        return [(W1, b1), (W2, b2)]

    def _settled(self):
        return (stalled(self.objectives) or self.n_passes - self.best_pass >= PATIENCE
                or self._rising())

    def _rising(self):
        """Whether the held-out loss rose on each of the last ``RISES``
        passes, none of which has beaten the sweeps' network."""
        h = self.held_out
        return (self.holdout > 0 and self.best_pass == 0 and len(h) > RISES
                and all(h[-k] > h[-k - 1] for k in range(1, RISES + 1)))

    def _pass(self):
        """Every unit once, then the output layer."""
        commit = None
        for j in range(self.theta.shape[0]):
            v = self.W2[:, j]
            gram, rhs = self.backend.map_sum(unit_system, j, v, commit)
            commit = None
            step = unit_step(self.kappa * float(v @ v) * gram, rhs, self.theta[j], self.c_in)
            commit = self._scale(j, step, v)
            if commit is not None:
                self.theta[j] = self.theta[j] + commit * step
        self._output(commit)

    def _scale(self, j, step, v):
        """The scale of ``step`` unit ``j`` takes (``None``: none lowers ``J``).
        The changes of the loss's quadratic bound at every scale come from
        one reduction; the bound lies above the loss and touches it at the
        current network, so a scale that lowers the bounded ``J`` lowers
        ``J`` (the squared error is its own bound), and the best is taken."""
        (changes,) = self.backend.map_sum(try_unit, j, step, v)
        changes = changes + ridge_change(self.c_in, self.theta[j], step, _SCALES)
        best = int(np.argmin(changes))
        # a step must lower J by more than the round-off of its sums, so that
        # every backend's order of summation takes the same steps
        return STEP_SCALES[best] if changes[best] < -ROUND_OFF * self.objectives[-1] else None

    def _output(self, commit):
        """The output layer: the minimiser of the loss's quadratic bound, a
        ridge regression on the features with targets ``f + r / kappa``;
        exact for the squared error, else repeated (each step lowers ``J``)."""
        shard_passes = (readout_sums, readout_cross, residuals)
        self.W2, self.b2 = bound_output(self.backend, shard_passes, commit, self.kappa,
                                        self.c_out, 1 if self.exact else OUTPUT_STEPS)


# -- the steps, shared with the passes through every layer (_deep_refit) -----
def stalled(J):
    """Whether the last ``WINDOW`` passes together lowered ``J`` (the
    objectives so far) by less than ``WINDOW * TOL`` of it."""
    return len(J) > WINDOW and J[-WINDOW - 1] - J[-1] < WINDOW * TOL * J[-WINDOW - 1]


def unit_step(system, rhs, theta, c, form=None):
    """A unit's closed-form step ``s`` (module docstring): ``(system + 2 c I)
    s = rhs - 2 c theta``, ``system`` the bound's curvature times the unit's
    Gram (overwritten), ``c`` the ridge on the unit's ``theta = [u; b]``;
    with ``form`` ``P``, the ridge ``c theta^T P theta`` (the weights' ridge
    in other coordinates of the unit's inputs, ``P = T^T T``): ``2 c P`` in
    place of ``2 c I``."""
    if form is None:
        system.flat[::system.shape[0] + 1] += 2.0 * c  # the diagonal
        rhs = rhs - 2.0 * c * theta
    else:
        system += 2.0 * c * form
        rhs = rhs - 2.0 * c * (form @ theta)
    # LAPACK's Cholesky solve itself: positive definite with a ridge, and
    # scipy's and NumPy's wrappers cost more than the solve at this size
    # (NumPy's LU about 5 us against 1.4 with 11 unknowns)
    _, step, info = lapack.dposv(system, rhs, lower=1)
    if info == 0:
        return step
    return np.linalg.lstsq(system, rhs, rcond=None)[0]  # no ridge and no active rows


def ridge_change(c, theta, step, t, form=None):
    """The change of ``c ||theta||^2`` (``c theta^T P theta`` with ``form``
    ``P``) when ``theta`` takes ``t`` times ``step`` (``t`` a scale or an
    array of them)."""
    moved = step if form is None else form @ step
    return c * (2.0 * t * (theta @ moved) + t * t * (step @ moved))


def bound_output(backend, shard_passes, commit, kappa, c, n_steps):
    """The output layer ``(W, b)``: the minimiser of the loss's quadratic
    bound, a ridge regression (ridge ``c`` on ``W``) on the features with
    targets ``f + r / kappa``, ``n_steps`` times (each lowers ``J``; one is
    exact for the squared error). ``shard_passes``: the module's
    ``(readout_sums, readout_cross, residuals)``; ``commit`` the pass's last
    accepted step, for ``readout_sums``."""
    readout, cross_only, new_outputs = shard_passes
    ridge = 2.0 * c / kappa
    gram, cross = backend.map_sum(readout, commit, kappa)
    W, b = solve_weights(cross, gram, ridge)
    for _ in range(n_steps - 1):
        backend.map_sum(new_outputs, W, b)
        (cross,) = backend.map_sum(cross_only, kappa)
        W, b = solve_weights(cross, gram, ridge)
    return W, b


# -- shard passes: the per-sample arrays live in shard.unit_refit ------------
class _State:
    """A shard's arrays for the passes, float64: ``XT`` the standardised
    inputs with a column of ones, transposed (one row per input: the
    passes' loops run along the samples, which vectorises), ``Z`` the
    pre-activations (columns contiguous, one per unit), ``A = relu(Z)``, ``R`` the residuals (minus
    the loss's gradient; ``stale`` marks the rows still to bring up to
    date), ``F`` the outputs (``None`` for the squared error, where ``R = Y
    - F`` is kept up to date instead), ``w`` the sample weights of the
    fitted rows and ``w_held`` those of the held-out rows (each zero on the
    other's); ``q = R v_j``, ``xs = X s`` and ``v`` of the unit last
    tried."""

    def __init__(self, shard, theta, D, offset, loss, holdout):
        n, d = shard.x.shape
        self.XT = np.empty((d + 1, n))
        x = shard.x
        if isinstance(x, CenteredSparse):
            # deliberate: the passes read a dense float64 copy (transposed,
            # below), and applies() admits at most MAX_INPUTS columns not
            # mostly zeros, so this copy is no larger than a dense input's
            x = x.X.toarray() - x.shift
        self.XT[:-1] = (x * D + offset).T
        self.XT[-1] = 1.0
        self.Z = np.asfortranarray((theta @ self.XT).T)
        self.A = np.maximum(self.Z, 0.0)
        self.Y = np.asarray(shard.y, dtype=np.float64)
        w = np.ones(n) if shard.w is None else np.asarray(shard.w, dtype=np.float64)
        held = held_out_rows(self.XT.T, holdout)
        # held-out rows keep their outputs up to date but weigh nothing in the fit
        self.w, self.w_held = np.where(held, 0.0, w), np.where(held, w, 0.0)
        # the readout's sums unweighted where every weight is one: NumPy
        # then forms the features' Gram by syrk, half the products of the
        # weighted blocks (2.4 against 4.1 ms for 7,500 x 100)
        self.readout_w = None if shard.w is None and not held.any() else self.w
        self.loss = LOSSES[loss]
        self.kappa = self.loss.curvature(self.Y.shape[1])
        # the squared error's residuals move linearly with the outputs
        self.linear = loss == "squared_error"
        # each unit's Gram over its active rows, kept up to date by the
        # rows whose activity a step flips (few, once the passes settle)
        self.G = np.stack([self.gram(self.Z[:, j] > 0.0) for j in range(self.Z.shape[1])])
        self.R = self.F = self.stale = self.q = self.xs = self.v = self.j = None

    def gram(self, rows):
        """``sum_{rows} w x~ x~^T``, ``rows`` a boolean mask."""
        XT = self.XT[:, rows]
        return XT @ weigh(XT.T, self.w[rows])

    def residuals(self):
        """``R``, brought up to date on the rows whose outputs moved."""
        if self.stale is not None:
            # indices, not the mask: each of the three row selections
            # would scan the mask again
            rows = np.flatnonzero(self.stale)
            self.R[rows] = self.loss.residual(self.Y.take(rows, axis=0), self.F.take(rows, axis=0))
            self.stale = None
        return self.R


def held_out_rows(X, share):
    """A ``share`` of the rows of ``X`` (standardised), chosen by a hash of
    each row's values rounded to multiples of ``2**-12``: the same rows on
    every backend and sharding, whose sums, and so the standardisation,
    differ in the last digits (a value moves to another multiple only within
    such a difference of a boundary), and equal rows together (so sample
    weights still act as repeated rows)."""
    keys = np.floor(np.asarray(X, dtype=np.float64) * 4096.0).astype(np.int64).view(np.uint64)
    mix = np.random.default_rng(0).integers(1, 2 ** 63, size=X.shape[1], dtype=np.uint64) | 1
    h = (keys * mix).sum(axis=1, dtype=np.uint64)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x9E3779B97F4A7C15)
    return (h >> np.uint64(40)) < np.uint64(share * 2 ** 24)


def begin(shard, theta, D, offset, W2, b2, loss, holdout):
    """Set up the shard's arrays for the network ``theta`` (standardised
    first layer), ``W2, b2``, the loss named ``loss`` and a ``holdout``
    share of the rows held out; returns :func:`residuals`'s data terms."""
    shard.unit_refit = _State(shard, theta, D, offset, loss, holdout)
    return residuals(shard, W2, b2)


def residuals(shard, W2, b2):
    """The outputs and residuals for a new output layer; returns the data
    term ``sum w l(f, y)`` of the fitted rows and that of the held-out ones."""
    state = shard.unit_refit
    F = state.A @ W2.T + b2
    state.R = state.loss.residual(state.Y, F)
    state.F, state.stale = None if state.linear else F, None
    return (np.array([state.loss.value(state.Y, F, state.w),
                      state.loss.value(state.Y, F, state.w_held)]),)


def _commit(state, scale):
    """Apply ``scale`` times the last unit's tried step to ``Z, A, G`` and
    to ``R`` (squared error) or ``F`` (compiled, else the NumPy reference
    below); with one logistic output, compiled, ``R`` too on the rows that
    moved (otherwise they are marked stale)."""
    j = state.j
    if not state.linear and unit_commit_logistic(
            state.XT, state.Z[:, j], state.A[:, j], state.F, state.R, state.Y, state.v,
            state.xs, scale, state.w, state.G[j]):
        return  # one logistic output, its residuals refreshed in the same pass
    # the kernel's R -= (a_new - a) v^T is F += (a_new - a) v^T with -v
    moved, v = (state.R, state.v) if state.linear else (state.F, -state.v)
    if not state.linear:  # the log-loss's residuals go stale where the feature moves
        z = state.Z[:, j]
        stale = (z > 0.0) | (z + scale * state.xs > 0.0)
        state.stale = stale if state.stale is None else state.stale | stale
    if not unit_commit(state.XT, state.Z[:, j], state.A[:, j], moved, v, state.xs,
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
    compiled = unit_rhs(state.XT, state.Z[:, j], R, v, state.w)
    if compiled is not None:
        state.q, rhs = compiled
    else:
        state.q = R @ v
        q = np.where(state.Z[:, j] > 0.0, state.q, 0.0)
        rhs = state.XT @ (q * state.w)
    return state.G[j].copy(), rhs


def try_unit(shard, j, step, v):
    """Per scale ``t`` of ``STEP_SCALES``, the change of the loss's quadratic
    bound (the squared error itself) when unit ``j`` takes ``t`` times
    ``step``, the active rows moving with it: ``sum w d (kappa |v|^2 d / 2 -
    q)``, ``d = relu(z + t X step) - relu(z)``, ``q = R v``."""
    state = shard.unit_refit
    state.j, state.v = j, v
    z, a, vv = state.Z[:, j], state.A[:, j], state.kappa * float(v @ v)
    compiled = unit_try(state.XT, z, a, state.q, state.w, step, vv, _SCALES)
    if compiled is not None:
        state.xs, changes = compiled
        return (changes,)
    state.xs = step @ state.XT
    # one row per scale: rows as the long axis is 6x faster than columns
    delta = np.maximum(z + _SCALES[:, None] * state.xs, 0.0) - a
    return ((delta * (0.5 * vv * delta - state.q)) @ state.w,)


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
    return (augmented_gram(state.A, w=state.readout_w),
            cross_gram(state.A, _targets(state, kappa), state.readout_w))


def readout_cross(shard, kappa):
    """``T^T diag(w) [A, 1]`` alone: the features have not moved."""
    state = shard.unit_refit
    return (cross_gram(state.A, _targets(state, kappa), state.readout_w),)


def end(shard):
    """Free the shard's arrays."""
    shard.unit_refit = None


# O(rows x inputs) each, a hundred per pass: in threads they cost more in
# dispatch and in the interpreter's lock than they save (bike sharing, two
# shards: 132 ms a pass in threads, 83 ms one after the other)
unit_system.cheap = try_unit.cheap = True

"""Unit passes through every hidden layer of a deep network, after its stages.

A layer-wise fit (:mod:`~admm_sklearn._layerwise`) freezes each hidden layer
once its stage ends: the first layer stays the one that suited a one-layer
readout, whatever the layers above it need. Here the whole network is then
fitted on its own penalised loss,

.. math::

    J = \\sum_n w_n \\ell(f(x_n), y_n)
        + c \\sum_{l, j} \\lVert T_l [u_{lj}; b_{lj}] \\rVert^2 + c \\lVert W_{out} \\rVert^2,

by the block solves of :mod:`~admm_sklearn._unit_refit` extended to a unit
of *any* hidden layer, still without gradients. With the units of the
layers above held in their activity on each row, the outputs move linearly
in unit ``j``'s activation ``a_n``: ``f_n + g_n delta_n``, with row ``n``'s
own direction

.. math::

    g_n = W_{out}^T D_{L,n} W_L^T \\cdots D_{l+1,n} W_{l+1}^T e_j

(``D_{k,n}``: layer ``k``'s active units on that row), so the loss's
quadratic bound (curvature ``kappa``, Boehning's for the log-loss) is a
quadratic in the change ``s`` of ``[u_j; b_j]`` over the unit's active rows
``S``, minimised by

.. math::

    (\\kappa \\sum_{S} w_n \\lVert g_n \\rVert^2 \\tilde a_n \\tilde a_n^T + 2 c I) s
        = \\sum_{S} w_n (r_n^T g_n) \\tilde a_n - 2 c [u_j; b_j],

``a~`` the unit's inputs with a one: one Gram reduction per unit (the top
layer's units, whose Grams are the widest, sum theirs over a fixed sample
of the rows, ``GRAM_SHARE``, its weights scaled up; the right-hand side
stays on every row). The fractions ``STEP_SCALES`` of ``s`` are then
pushed in turn through the real layers above (whose units may switch),
the bound evaluated at the real new outputs on every row, and the first
that lowers it taken (one reduction per fraction tried; most steps pass
at the first); the bound lies above the loss and touches it at the
current network, so the step lowers ``J`` (majorise-minimise), whether or
not its Gram was sampled. The output layer then takes the majorise-minimise
steps of the one-layer passes. ``J`` never rises, so the network cannot
drift from its layer-wise start the way joint ADMM sweeps do
(``docs/what_we_tried.rst``, "Depth").

The first layer is fitted on standardised inputs (the coordinates of the
layer-1 solve, ``T_1 = I``), the upper ones on the features as they are,
with their ridge where their stage put it: ``T_l`` maps a unit's weights on
the features to weights on the features scaled as that stage read them
(standardised by the regressor, centred and scaled as one by the
classifier; the moments fixed when the passes begin). ``c`` is the
network's ridge, ``alpha`` times the (capped) sample weight.

For a classifier, ``J`` falling is not the same as the network fitting
better: on a network that already fits its rows, the ridge alone lowers
``J`` and pulls the weights in (letter's 26 classes at (100, 100):
training accuracy 0.996 -> 0.978 over 20 passes). So the passes return the network of the pass that
classified the most (weighted) training rows right, the stages' own unless
a pass beats it, and stop once ``PATIENCE`` passes brought no new best, once
``WINDOW`` of them together lowered ``J`` by less than ``WINDOW * TOL`` of
it, or after the estimator's ``deep_refit_passes``; none runs on a network
that misclassifies under ``MIN_TRAINING_ERROR`` of its training weight. The
squared error (the regressor) is its own bound: its output step is exact,
and its passes return the last network.

They lift the deep networks of the hard synthetic sets (three seeds at
(100, 100), 5 passes: a checkerboard in 2 of 10 inputs 0.949 to 0.969,
radial bands 0.942 to 0.949, parity 0.912 to 0.925) and keep the others'
stages or nearly, at up to 1.5 times the fit's time (20 passes: 2.6), but
overfit small noisy sets (a regressor on wine quality), so they are
opt-in (``docs/what_we_tried.rst``, "Depth", 12.24). The
per-sample arrays (every layer's pre-activations, the outputs, the
residuals) live in the shards, and only ``(fan-in + 1)``-sized sums cross processes.
"""

import numpy as np

from ._fit import column_means
from ._input_solve import InputCoordinates
from ._kernels import deep_unit_commit, deep_unit_system, deep_unit_try
from ._losses import LOSSES, label_codes
from ._shard import augmented_gram, cross_gram, input_moments
from ._unit_refit import (MAX_INPUTS, OUTPUT_STEPS, ROUND_OFF, STEP_SCALES, bound_output,
                          ridge_change, stalled, unit_step)

#: Passes without a new best training accuracy that end the passes. Where
#: the ridge only pulls in a network that already fits its rows (letter's
#: 26 classes at (100, 100): training accuracy 0.996, 0.995, 0.994, ...
#: from the first pass) they end after this many and the stages' network
#: stays. Where the passes lift a network, its first pass can still drop
#: the training accuracy as the ridge pulls in a start far above its
#: optimum, before it climbs past the stages' (a checkerboard at (100, 100),
#: seed 2: 0.915, 0.859, 0.880, 0.903, 0.930, ..., 0.975 after 20; 3 passes
#: were too few; docs/what_we_tried.rst, "Depth").
PATIENCE = 5

#: The passes run only where the stages' network misclassifies at least this
#: share of the training weight: they return the pass with the most rows
#: right, so below it they can gain only a handful of rows. Every network
#: measured above that level kept the stages' (letter 0.996, spirals 0.997,
#: pendigits 0.999, optdigits 1.000 at (100, 100)), after the five passes
#: of the patience (letter: a third more fit time); docs/what_we_tried.rst,
#: "Depth".
MIN_TRAINING_ERROR = 0.01

#: Share of the rows whose outer products form a top-layer unit's Gram, the
#: weights divided by it (its right-hand side, and the test of each step,
#: stay on every row). Those Grams were most of a pass: ``(width + 1)``
#: squared over the unit's active rows, for every unit of the widest layer.
#: A step from a sampled Gram is no longer the exact minimiser of the bound,
#: but it is only taken where it lowers the bound on every row, so ``J``
#: still never rises. A checkerboard at (100, 100), seed 0, 20 passes: 0.9656
#: exact, 0.9652 sampled; parity 0.9327 / 0.9353 (docs/what_we_tried.rst, "Depth").
GRAM_SHARE = 0.25
#: ... where the sample keeps at least this many rows (by weight) per column
#: of the Gram; smaller sets form it on every row.
GRAM_ROWS_PER_COLUMN = 10


def applies(est, X, hidden):
    """Whether the passes run after ``est``'s layer-wise fit of ``X``: the
    estimator asked for them (``deep_refit_passes > 0``) with a loss that
    has a curvature bound (the log-loss, the squared error), two hidden
    ReLU layers or more, dense inputs of at most ``MAX_INPUTS`` columns
    (each first-layer unit solves a ``(d + 1)``-square system, and the
    passes keep a float64 copy of the inputs)."""
    return (getattr(est, "deep_refit_passes", 0) > 0 and len(hidden) >= 2
            and est.activation == "relu" and LOSSES[est.loss].curvature is not None
            and isinstance(X, np.ndarray) and X.shape[1] <= MAX_INPUTS)


def refine_network(est, backend, X, Y, sample_weight, result, targets):
    """Run the passes on the network of a layer-wise fit's ``result`` (its
    attributes, updated in place) over the training rows ``X`` and their
    encoded targets ``Y``; ``targets`` maps the output layer between the
    user's units and the encoded ones (``from_raw`` / ``to_raw``).

    The rows are scattered again, as the first stage had them; the last
    stage's shards (kept for ``warm_start``) are released, since its state
    no longer matches the layers below it: a warm start continues from the
    fitted weights instead."""
    if result.get("_solver_shards") is not None:
        backend.release()
        result.update(_solver=None, _solver_shards=None, _train_fingerprint=None)
    shift, _ = column_means(X, backend)
    backend.scatter(X, Y, np.float64, sample_weight, shift)
    try:
        with backend.running():
            coefs, intercepts = list(result["coefs_"]), list(result["intercepts_"])
            W, b = targets.from_raw(coefs[-1].T, intercepts[-1])
            coefs[-1], intercepts[-1] = W.T, b
            refit = DeepRefit(backend, coefs, intercepts, est.loss, est.alpha,
                              est._ridge_max_samples, shift, est._upper_input_scale)
            coefs, intercepts = refit.run(est.deep_refit_passes)
            W, b = targets.to_raw(coefs[-1].T, intercepts[-1])
            coefs[-1], intercepts[-1] = np.array(W.T, order="C"), b
    finally:
        backend.release()
    result.update(coefs_=coefs, intercepts_=intercepts,
                  n_unit_refit_passes_=result["n_unit_refit_passes_"] + refit.n_passes)


class DeepRefit:
    """The passes over a network's units; :meth:`run` does them all.

    ``coefs, intercepts``: the network as the estimator stores it (on the
    raw inputs); the shards hold the training rows (``X - shift``).
    """

    def __init__(self, backend, coefs, intercepts, loss, alpha, max_samples, shift,
                 upper_scale):
        self.backend, self.loss = backend, loss
        self.kappa = LOSSES[loss].curvature(coefs[-1].shape[1])
        # a classifier's passes keep the pass with the most rows right; the
        # squared error is its own bound, so its last pass fits best
        self.classifies = LOSSES[loss].targets == "indicators"
        self.shift = np.asarray(shift, dtype=np.float64)
        counts, colsum, sqsum = backend.map_sum(input_moments)
        self.total_weight = n = counts[0]
        columns = coefs[-2].shape[0] + 1  # the top layer's inputs and a one
        # decided on the total weight, as weights equal repeated rows
        self.gram_share = GRAM_SHARE if GRAM_SHARE * n >= GRAM_ROWS_PER_COLUMN * columns else 1.0
        self.coords = InputCoordinates(n, colsum, sqsum)
        # the network's own ridge, as the weight solves' (ADMMSolver.ridge);
        # a tenth of it overfit (parity, satimage), a proximal term towards
        # the stages' weights instead of zero too (docs/what_we_tried.rst)
        self.c = alpha * min(n, max_samples)
        # the first layer's weights on x' (from weights on x - shift)
        W1, b1 = coefs[0], intercepts[0] + self.shift @ coefs[0]
        W1, b1 = self.coords.to_standard(W1.T, b1)
        self.thetas = [np.column_stack([W1, b1])]
        self.thetas += [np.column_stack([W.T, b]) for W, b in zip(coefs[1:-1], intercepts[1:-1])]
        self.W_out, self.b_out = coefs[-1].T.copy(), intercepts[-1].copy()
        # per hidden layer, the form P = T^T T of its ridge c ||T theta||^2
        # (None: ||theta||^2), formed once when the passes begin: the first
        # layer's weights are kept on standardised inputs; the upper layers'
        # are on the features as they are, and take their ridge where their
        # stage did, on the features standardised
        # (``upper_scale='per_feature'``) or centred and scaled as one
        # (``'uniform'``), by their moments then (see :func:`ridge_metric`):
        # on the raw weights, a unit that barely
        # fires carried a weight of the order of one over its spread, and
        # the first passes pulled the network off its fit
        self.upper_scale = upper_scale
        self.forms = [None] * len(self.thetas)
        self.n_passes = self.best_pass = 0

    def objective(self, data_term):
        return data_term + self.c * (
            sum(float(np.sum(t ** 2 if P is None else (t @ P) * t))
                for t, P in zip(self.thetas, self.forms))
            + float(np.sum(self.W_out ** 2)))

    def run(self, max_passes):
        """Up to ``max_passes`` passes; returns ``(coefs, intercepts)`` on the
        raw inputs of pass ``best_pass``, the one with the most (weighted)
        training rows classified right, the stages' network (pass 0) unless
        a pass beats it. None runs where the stages misclassify under
        ``MIN_TRAINING_ERROR`` of the training weight; they stop once
        ``WINDOW`` of them together lowered ``J`` by less than ``WINDOW *
        TOL`` of it, or ``PATIENCE`` passes brought no new best. Records
        ``objectives`` (``J``) and ``accuracies`` before the first pass and
        after each."""
        backend = self.backend
        try:
            (data,) = backend.map_sum(begin, self.coords.D, self.coords.c, self.thetas,
                                      self.W_out, self.b_out, self.loss, self.gram_share)
            if len(self.thetas) > 1:
                colsums, sqsums = backend.map_sum(feature_moments)
                bounds = np.cumsum([0] + [t.shape[1] - 1 for t in self.thetas[1:]])
                metrics = [ridge_metric(InputCoordinates(self.total_weight, colsums[lo:hi],
                                                         sqsums[lo:hi],
                                                         uniform=self.upper_scale == "uniform"))
                           for lo, hi in zip(bounds[:-1], bounds[1:])]
                self.forms[1:] = [T.T @ T for T in metrics]
            self.objectives = [self.objective(data[0])]
            self.accuracies = [data[1] / self.total_weight]
            best = self._network()
            room = not self.classifies or 1.0 - self.accuracies[0] >= MIN_TRAINING_ERROR
            while (room and self.n_passes < max_passes and not stalled(self.objectives)
                   and self.n_passes - self.best_pass < PATIENCE):
                self._pass()
                self.n_passes += 1
                (data,) = backend.map_sum(residuals, self.W_out, self.b_out)
                self.objectives.append(self.objective(data[0]))
                self.accuracies.append(data[1] / self.total_weight)
                if not self.classifies or self.accuracies[-1] > self.accuracies[self.best_pass]:
                    self.best_pass, best = self.n_passes, self._network()
        finally:
            backend.map(end)
        return best

    def _network(self):
        """A copy of the current network as ``(coefs, intercepts)`` on the
        raw inputs (the passes go on changing their own)."""
        W1, b1 = self.coords.to_raw(self.thetas[0][:, :-1], self.thetas[0][:, -1])
        coefs = [W1.T] + [t[:, :-1].T for t in self.thetas[1:]] + [self.W_out.T]
        intercepts = [b1 - self.shift @ W1.T] + [t[:, -1] for t in self.thetas[1:]] \
            + [self.b_out]
        return [np.array(c, order="C") for c in coefs], [np.array(b) for b in intercepts]

    def _pass(self):
        """Every unit of every hidden layer, bottom up, then the output layer."""
        commit = None
        for layer, theta in enumerate(self.thetas):
            for j in range(theta.shape[0]):
                gram, rhs = self.backend.map_sum(unit_system, layer, j, commit)
                step = unit_step(self.kappa * gram, rhs, theta[j], self.c, self.forms[layer])
                commit = self._scale(layer, j, step)
                if commit is not None:
                    theta[j] = theta[j] + commit[2] * step
        self._output(commit)

    def _scale(self, layer, j, step):
        """``(layer, j, scale)`` of the step taken, or ``None``."""
        # the ridge's change at every scale at once (one product with the form)
        ridge = ridge_change(self.c, self.thetas[layer][j], step, np.asarray(STEP_SCALES),
                             self.forms[layer])
        for t, ridge_t in zip(STEP_SCALES, ridge):
            (change,) = self.backend.map_sum(try_unit, layer, j, step, self.kappa, t)
            if change[0] + ridge_t < -ROUND_OFF * self.objectives[-1]:
                return layer, j, t
        return None

    def _output(self, commit):
        shard_passes = (readout_sums, readout_cross, residuals)
        self.W_out, self.b_out = bound_output(self.backend, shard_passes, commit, self.kappa,
                                              self.c, OUTPUT_STEPS if self.classifies else 1)


# -- shard passes: the per-sample arrays live in shard.deep_refit --------------
class _State:
    """A shard's arrays, float64: ``inputs[l]`` layer ``l``'s inputs with a
    column of ones (the standardised inputs, then the features), ``Z[l]``
    its pre-activations, ``F`` the outputs, ``R`` the
    residuals, ``w`` the sample weights; ``thetas`` the hidden layers'
    weights as ``[u_j; b_j]`` rows, ``W_out, b_out`` the output layer's;
    ``gram_rows, gram_root_w`` the top layer's Gram sample (``None``: every
    row); ``tried``: the unit, step, ``X step``, scale and propagation last
    tried (``None`` where the compiled try kept none: the commit makes it
    again)."""

    def __init__(self, shard, D, offset, thetas, W_out, b_out, loss, share):
        n = shard.x.shape[0]
        X = np.empty((n, shard.x.shape[1] + 1))
        X[:, :-1] = np.asarray(shard.x, dtype=np.float64) * D + offset
        X[:, -1] = 1.0
        self.inputs, self.Z = [X], []
        for k, theta in enumerate(thetas):
            # rows contiguous: a step moves a unit's column, but the layers
            # above it change on the rows it moved, all their units at once
            z = self.inputs[-1] @ theta.T
            self.Z.append(z)
            if k < len(thetas) - 1:  # the top layer's features: self.top
                self.inputs.append(np.column_stack([np.maximum(z, 0.0), np.ones(n)]))
        self.top = np.maximum(self.Z[-1], 0.0)
        self.thetas = [t.copy() for t in thetas]
        self.Y = np.asarray(shard.y, dtype=np.float64)
        self.w = np.ones(n) if shard.w is None else np.asarray(shard.w, dtype=np.float64)
        self.loss = LOSSES[loss]
        self.W_out, self.b_out = W_out, b_out
        self.F = self.R = self.tried = None
        # the top layer's Grams: the sampled rows' weights over the share
        self.gram_rows = None if share == 1.0 else row_sample(X, share)
        self.gram_root_w = None if share == 1.0 else np.sqrt(self.w[self.gram_rows] / share)

    def features(self, layer):
        """Layer ``layer``'s activations (a view, without the ones)."""
        return self.top if layer == len(self.Z) - 1 else self.inputs[layer + 1][:, :-1]

    def direction(self, layer, j, rows):
        """``g_n`` on ``rows`` (module docstring): the outputs' change per
        unit change of unit ``j``'s activation, the layers above held, for a
        unit below the top layer (whose direction is ``W_out e_j`` on every
        row, see :func:`unit_system`)."""
        g = (self.Z[layer + 1][rows] > 0.0) * self.thetas[layer + 1][:, j]
        for k in range(layer + 2, len(self.Z)):
            g = (self.Z[k][rows] > 0.0) * (g @ self.thetas[k][:, :-1].T)
        return g @ self.W_out.T

    def propagate(self, layer, j, z, rows):
        """With unit ``j``'s pre-activations ``z``: the layers above's
        pre-activations and the outputs on ``rows`` (the rows it moved)."""
        delta = np.maximum(z[rows], 0.0) - self.features(layer)[rows, j]
        upper, a = [], None
        for k in range(layer + 1, len(self.Z)):
            if k == layer + 1:
                zk = self.Z[k][rows] + np.outer(delta, self.thetas[k][:, j])
            else:
                zk = a @ self.thetas[k][:, :-1].T + self.thetas[k][:, -1]
            upper.append(zk)
            a = np.maximum(zk, 0.0)
        if a is None:
            return upper, self.F[rows] + np.outer(delta, self.W_out[:, j])
        return upper, a @ self.W_out.T + self.b_out


def begin(shard, D, offset, thetas, W_out, b_out, loss, share=1.0):
    """Set up the shard's arrays, the top layer's Grams on a ``share`` of
    the rows; returns :func:`residuals`'s data term."""
    shard.deep_refit = _State(shard, D, offset, thetas, W_out, b_out, loss, share)
    return residuals(shard, W_out, b_out)


def residuals(shard, W_out, b_out):
    """Outputs and residuals for a new output layer; returns the data term
    and the weight of the rows classified right (0 for real targets)."""
    state = shard.deep_refit
    state.W_out, state.b_out = W_out, b_out
    state.F = state.top @ W_out.T + b_out
    state.R = state.loss.residual(state.Y, state.F)
    right = 0.0
    if state.loss.targets == "indicators":
        codes = label_codes(state.F, state.loss.threshold) == label_codes(state.Y, 0.5)
        right = state.w @ codes
    return (np.array([state.loss.value(state.Y, state.F, state.w), right]),)


def ridge_metric(coords):
    """``T`` with ``T [u; b] = [u'; b']``, the weights ``[u; b]`` of a unit
    on inputs ``a`` as weights on ``a' = D a + c`` (``coords``, an
    :class:`~admm_sklearn._input_solve.InputCoordinates`): its
    ``to_standard``, linear in ``[u; b]``, as a matrix."""
    unit = np.eye(len(coords.D) + 1)
    return np.column_stack(coords.to_standard(unit[:, :-1], unit[:, -1])).T


def feature_moments(shard):
    """The weighted column sums and sums of squares of every upper hidden
    layer's inputs (the features of the layer below), layer after layer."""
    state = shard.deep_refit
    features = [state.features(layer) for layer in range(len(state.Z) - 1)]
    return (np.concatenate([state.w @ A for A in features]),
            np.concatenate([state.w @ np.square(A) for A in features]))


def row_sample(X, share):
    """Indices of about ``share`` of the rows of ``X``, each chosen by its own
    values (the fractional part of a fixed projection, scaled up): the same
    rows whatever the sharding, so the backends agree, and a repeated row is
    in or out with its copies, so weights equal repeated rows."""
    u = X @ np.sin(12.9898 * np.arange(1, X.shape[1] + 1)) * 43758.5453
    return np.flatnonzero(u - np.floor(u) < share)


def _commit(state, commit):
    # the scale taken is the last one tried (the driver tries them in
    # turn and stops at the first that lowers J): its propagation is reused,
    # or, where the compiled try kept none, made again in place
    layer, j, scale = commit
    step, tried, propagated = state.tried[2], state.tried[4], state.tried[5]
    assert state.tried[:2] == (layer, j) and tried == scale
    state.thetas[layer][j] += scale * step
    if propagated is None:
        top = len(state.Z) - 1
        rows = deep_unit_commit(state.Z[layer][:, j], state.features(layer)[:, j],
                                state.Z[top], state.top, state.thetas[top][:, j],
                                state.W_out, state.F, state.tried[3], scale)
        state.R[rows] = state.loss.residual(state.Y[rows], state.F[rows])
        return
    z, rows, upper, F = propagated
    state.Z[layer][:, j] = z
    state.features(layer)[:, j] = np.maximum(z, 0.0)
    for k, zk in enumerate(upper, start=layer + 1):
        state.Z[k][rows] = zk
        state.features(k)[rows] = np.maximum(zk, 0.0)
    state.F[rows] = F
    state.R[rows] = state.loss.residual(state.Y[rows], F)


def unit_system(shard, layer, j, commit):
    """``(sum_S w |g|^2 a~ a~^T, sum_S w (r . g) a~)`` of unit ``j`` of hidden
    layer ``layer`` (0-based), after the last accepted step ``commit``."""
    state = shard.deep_refit
    if commit is not None:
        _commit(state, commit)
    top = len(state.Z) - 1
    if layer == top - 1:  # compiled: one pass, no copies of the layer above
        system = deep_unit_system(state.inputs[layer], state.Z[layer][:, j], state.Z[top],
                                  state.thetas[top][:, j], state.W_out, state.R, state.w)
        if system is not None:
            return system
    if layer == top:
        return _top_unit_system(state, j)
    rows = state.Z[layer][:, j] > 0.0
    A, w = state.inputs[layer][rows], state.w[rows]
    g = state.direction(layer, j, rows)
    gg = np.einsum("nk,nk->n", g, g)
    rg = np.einsum("nk,nk->n", state.R[rows], g)
    return A.T @ (A * (w * gg)[:, None]), A.T @ (w * rg)


def _top_unit_system(state, j):
    # g = W_out e_j on every row: the Gram is |g|^2 B^T B, B = sqrt(w) A over
    # the unit's active rows, which BLAS forms as a symmetric rank-k update at
    # half a product's cost; with a row sample, over its active rows, the
    # weights divided by the share (the right-hand side always on every row)
    top = len(state.Z) - 1
    inputs, z, g = state.inputs[top], state.Z[top][:, j], state.W_out[:, j]
    active = z > 0.0
    if state.gram_rows is None:
        B, root_w = inputs[active], np.sqrt(state.w[active])
        B *= root_w[:, None]
        rhs = B.T @ (root_w * (state.R[active] @ g))
    else:
        sampled = z[state.gram_rows] > 0.0
        B = inputs[state.gram_rows[sampled]]
        B *= state.gram_root_w[sampled][:, None]
        rhs = inputs.T @ np.where(active, state.w * (state.R @ g), 0.0)
    return float(g @ g) * (B.T @ B), rhs


def try_unit(shard, layer, j, step, kappa, t):
    """The change of the loss's bound, ``sum w (kappa |df|^2 / 2 - r . df)``,
    when unit ``j`` takes ``t`` times ``step``, every layer above moving with
    it; kept, with ``X step`` for the step's other scales, for the commit."""
    state = shard.deep_refit
    fresh = (state.tried is None or state.tried[:2] != (layer, j)
             or not np.array_equal(state.tried[2], step))
    top = len(state.Z) - 1
    if layer == top - 1:  # compiled: one pass, the propagation redone at the commit
        xs = np.empty(state.Z[layer].shape[0]) if fresh else state.tried[3]
        change = deep_unit_try(state.inputs[layer], state.Z[layer][:, j],
                               state.features(layer)[:, j], state.Z[top],
                               state.thetas[top][:, j], state.W_out, state.R, state.w,
                               step, t, kappa, xs, fresh)
        if change is not None:
            state.tried = (layer, j, step, xs, t, None)
            return (np.array([change]),)
    xs = state.inputs[layer] @ step if fresh else state.tried[3]
    z = state.Z[layer][:, j] + t * xs
    rows = np.flatnonzero(np.maximum(z, 0.0) != state.features(layer)[:, j])
    upper, F = state.propagate(layer, j, z, rows)
    state.tried = (layer, j, step, xs, t, (z, rows, upper, F))
    df = F - state.F[rows]
    change = state.w[rows] @ (0.5 * kappa * np.einsum("nk,nk->n", df, df)
                              - np.einsum("nk,nk->n", state.R[rows], df))
    return (np.array([change]),)


def readout_sums(shard, commit, kappa):
    """After the pass's last accepted step: the output layer's Gram and the
    cross products with its targets ``f + r / kappa``."""
    state = shard.deep_refit
    if commit is not None:
        _commit(state, commit)
    return (augmented_gram(state.top, w=state.w),
            cross_gram(state.top, state.F + state.R / kappa, state.w))


def readout_cross(shard, kappa):
    """The cross products alone: the features have not moved."""
    state = shard.deep_refit
    return (cross_gram(state.top, state.F + state.R / kappa, state.w),)


def end(shard):
    """Free the shard's arrays."""
    shard.deep_refit = None

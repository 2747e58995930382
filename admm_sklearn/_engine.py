"""Algorithm 1 of Taylor et al. (2016): the ADMM / Bregman solver.

The engine owns only what every worker shares: the weights ``W_l, b_l`` and
the reduced Gram matrices. Everything indexed by samples (``a_l``, ``z_l``,
``lambda``) lives in shards owned by a backend; the engine reaches it only
through ``backend.map_sum(pass, ...)`` (section 5), so serial, threaded and
MPI runs execute the very same code.

One sweep (iteration) of Algorithm 1 for layers ``l = 1 .. L-1``:

1. ``W_l <- z_l a_{l-1}^dagger`` (least squares through Gram sums),
2. ``a_l <- (beta W_{l+1}^T W_{l+1} + gamma I)^{-1} (beta W_{l+1}^T z_{l+1}
   + gamma h(z_l))`` (eq. 6),
3. ``z_l <- argmin_z gamma ||a_l - h(z)||^2 + beta ||z - W_l a_{l-1}||^2``
   (eq. 7, entrywise and global),

then ``W_L`` likewise, ``z_L <- argmin_z loss(z, y) + <z, lambda> + beta
||z - W_L a_{L-1}||^2`` and, after the warm-up sweeps, the Bregman multiplier
step ``lambda <- lambda + beta (z_L - W_L a_{L-1})`` (eq. 8).
"""

import time

import numpy as np

from . import _shard
from ._input_schedule import input_step, resolve_interval
from ._input_solve import make_input_solve
from ._activations import ACTIVATIONS, POSITIVELY_HOMOGENEOUS
from ._updates import (GramFactor, activation_direct, activation_operator,
                       conjugate_gradients, solve_weights)


def he_weights(layer_sizes, rng):
    """He-scaled Gaussian weights and zero biases for a forward-pass start."""
    return [
        (rng.standard_normal((d_out, d_in)) * np.sqrt(2.0 / d_in), np.zeros(d_out))
        for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


class ADMMSolver:
    """State and iteration of Algorithm 1, independent of where data lives.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(d_0, d_1, ..., d_L)``: inputs, hidden widths, output units.
    activation : {'relu', 'hard_sigmoid', 'identity'}
        Hidden non-linearity ``h``; the output layer is linear.
    beta, gamma : float
        Penalty weights of eq. 4: ``beta`` on the output constraint ``z_L =
        W_L a_{L-1}``, ``gamma`` on every ``a_l = h(z_l)``.
    beta_hidden : float or None
        ``beta_l`` of the hidden constraints ``z_l = W_l a_{l-1}``, ``l < L``
        (the paper's per-layer ``beta_l``); ``None``: ``beta``.
    alpha : float
        Ridge on the weights: the objective gains ``beta * alpha * n *
        ||W_l||^2`` per layer (biases excluded), so ``alpha`` is relative to
        the per-sample second moments and does not depend on ``n``.
    ridge_max_samples : float or None
        Cap on the ``n`` of the ridge: ``beta * alpha * min(n,
        ridge_max_samples) * ||W_l||^2``. Past it the penalty stops growing
        with the data, as a prior's would, so large sets are fitted more
        closely (``None``: no cap).
    dtype : numpy dtype
        Floating type of the per-sample state (small solves use float64).
    multipliers : {'bregman', 'output', 'all'}
        ``'bregman'``: the paper's ``<z_L, lambda>`` on the loss term with
        step ``beta`` (eqs. 5, 8). ``'output'``: the same multiplier as an
        augmented Lagrangian of ``z_L = W_L a_{L-1}`` (it then also shifts the
        W_L and a_{L-1} updates; step ``2 beta``). ``'all'``: also scaled
        multipliers ``u_l, v_l`` on every hidden constraint ``a_l = h(z_l)``,
        ``z_l = W_l a_{l-1}``, so that a fixed point satisfies them exactly.
    loss : {'hinge', 'log_loss', 'squared_error'}
        Output loss; its prox is the ``z_L`` update (see ``_losses``).
    balance : bool
        Rescale the hidden units before every sweep with multiplier steps
        (:meth:`_balance`); only for positively homogeneous activations.
    input_solve : {'auto', 'direct', 'iterative'}
        How the layer-1 weights are solved: factorising the input Gram once,
        or by conjugate gradients without forming it (wide sparse inputs;
        :mod:`~admm_sklearn._input_solve`, which chooses for ``'auto'``).
    ridge_fan_in : float or None
        Layer 1's ridge is ``max(1, d_0 / ridge_fan_in)`` times the others'
        for dense inputs (``None``: not scaled); see
        :func:`~admm_sklearn._input_solve.make_input_solve`.
    input_scale : {'per_feature', 'uniform'}
        Layer 1 is solved on centred inputs, each divided by its own standard
        deviation, or all by one scale (inputs that are a fitted layer's
        units; sparse inputs get it either way).
    input_interval : int or 'auto'
        Sweeps between two solves of ``W_1`` (the others keep it); ``'auto'``:
        every other sweep on wide dense inputs, else every sweep
        (:mod:`~admm_sklearn._input_schedule`).

    Attributes
    ----------
    weights : list of (W, b)
        ``W_l`` of shape (d_l, d_{l-1}) and ``b_l`` of shape (d_l,), float64.
    n_iter : int
        Sweeps run so far (warm-up included).
    """

    def __init__(self, layer_sizes, activation="relu", beta=1.0, gamma=10.0,
                 alpha=0.0, dtype=np.float64, multipliers="bregman", beta_hidden=None,
                 loss="hinge", balance=False, ridge_max_samples=None, input_solve="auto",
                 ridge_fan_in=None, input_interval=1, input_scale="per_feature"):
        self.layer_sizes = tuple(int(d) for d in layer_sizes)
        self.activation = activation
        self.beta = float(beta)
        self.beta_hidden = self.beta if beta_hidden is None else float(beta_hidden)
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        self.ridge_max_samples = (np.inf if ridge_max_samples is None
                                  else float(ridge_max_samples))
        self.dtype = np.dtype(dtype)
        self.multipliers = multipliers
        self.loss = loss
        self.balance = bool(balance) and activation in POSITIVELY_HOMOGENEOUS
        self.weights = None
        self.n_iter = 0
        self.n_samples = 0
        self.input_solve = input_solve
        self.ridge_fan_in = ridge_fan_in
        self.input_scale = input_scale
        self.input_interval = input_interval
        self._interval = 1  # input_interval resolved, by initialize
        self._input = None  # the layer-1 solve (_input_solve), made by initialize
        self._cross = {}  # l -> z_l [a_{l-1}; 1]^T, reduced
        self._gram = {}  # l -> [a_l; 1][a_l; 1]^T, reduced
        self._norms = None  # (weights[0], its standard_norms): see _input_norms

    @property
    def n_layers(self):
        return len(self.layer_sizes) - 1

    @property
    def input_coordinates(self):
        """The standardised coordinates ``x' = D x + c`` in which layer 1 is
        solved (:class:`~admm_sklearn._input_solve.InputCoordinates`)."""
        return self._input.coordinates

    @property
    def input_ridge_factor(self):
        """Layer 1's ridge in units of the others' (its fan-in factor)."""
        return self._input.ridge_factor

    def ridge(self):
        """The ridge's weight: ``alpha`` times the total sample weight, capped."""
        return self.alpha * min(self.n_samples, self.ridge_max_samples)

    def _solve_layer(self, layer, raw=True):
        if layer > 1:
            cross, gram = self._cross[layer], self._gram[layer - 1]
            if not _all_finite(cross, gram):
                self.diverged()
            return solve_weights(cross, gram, self.ridge())
        # layer 1: in standardised input coordinates, directly or by
        # conjugate gradients from the last sweep's weights (_input_solve).
        # Its cross Gram is handed over, not kept: with 10^5 inputs it is
        # one of the few d_0 x d_1 arrays a sweep holds.
        solved = self._input.solve(self._cross.pop(1), self.ridge(),
                                   None if self.weights is None else self.weights[0])
        if solved is None:
            self.diverged()
        return self._input.coordinates.to_raw(*solved) if raw else solved

    def _input_norms(self):
        """``(||W'_j||^2, b'_j)`` per unit of layer 1 in standardised inputs
        (:meth:`InputCoordinates.standard_norms
        <admm_sklearn._input_solve.InputCoordinates.standard_norms>`), formed
        once per state of the layer: a sweep's ridge term reads them after
        its solve, and the next sweep's balancing reads the same weights.
        Every change of layer 1 stores a new ``(W, b)`` tuple in
        ``weights[0]``, which is what the stored norms are checked against."""
        layer = self.weights[0]
        if self._norms is None or self._norms[0] is not layer:
            self._norms = (layer, self._input.coordinates.standard_norms(*layer))
        return self._norms[1]

    def diverged(self):
        """Stop with a clear error: never hand back a silently non-finite model."""
        raise FloatingPointError(
            f"ADMM diverged at sweep {self.n_iter + 1} (non-finite Gram matrices, "
            f"objective or weights); try smaller beta/gamma, a larger alpha, or "
            f"scaled features (beta={self.beta}, beta_hidden={self.beta_hidden}, "
            f"gamma={self.gamma}, alpha={self.alpha}).")

    def check_finite(self, stats):
        """Numerical guard after a sweep: objective and weights must be finite."""
        if not (np.isfinite(stats["objective"])
                and _all_finite(*(array for layer in self.weights for array in layer))):
            self.diverged()

    # -- initialisation ---------------------------------------------------
    def initialize(self, backend, init="forward", seed=0, weights=None, init_scale=1.0):
        """Set up the per-sample state on every shard.

        ``init='gaussian'`` draws ``a_l, z_l ~ N(0, 1)`` (paper, section 6) and
        solves every ``W_l`` from them; ``init='forward'`` runs a forward pass
        ``z_l = W_l a_{l-1} + b_l``, ``a_l = h(z_l)`` through ``weights`` (or
        He-scaled Gaussian weights drawn from ``seed``, the input layer's
        multiplied by ``init_scale``).
        """
        self._input = make_input_solve(backend, self.layer_sizes[1], self.input_solve,
                                       self.dtype, self.ridge_fan_in,
                                       self.input_scale == "uniform")
        # the total sample weight: the row count when unweighted
        self.n_samples = self._input.coordinates.n
        self._interval = resolve_interval(self.input_interval, self.layer_sizes,
                                          mostly_zeros=self._input.coordinates.uniform)
        if init == "gaussian":
            backend.map_sum(_with_empty_result(_shard.init_gaussian),
                            self.layer_sizes[1:], seed)
            (self._cross[1],) = backend.map_sum(_shard.layer_cross, 1)  # (layer 1's Gram
            for layer in range(2, self.n_layers + 1):                  # is _input's)
                self._cross[layer], self._gram[layer - 1] = backend.map_sum(
                    _shard.layer_grams, layer)
            self.weights = [self._solve_layer(layer) for layer in range(1, self.n_layers + 1)]
            # the first sweep solves layer 1 again from the same state
            (self._cross[1],) = backend.map_sum(_shard.layer_cross, 1)
        else:
            if weights is None:
                weights = he_weights(self.layer_sizes, np.random.default_rng(seed))
                # drawn for standardised inputs, like the layer-1 solve
                weights[0] = self._input.coordinates.to_raw(weights[0][0] * init_scale,
                                                            weights[0][1])
            self.weights = [(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64))
                            for W, b in weights]
            backend.map_sum(_with_empty_result(_shard.init_forward),
                            self.weights, self.activation)
            (self._cross[1],) = backend.map_sum(_shard.layer_cross, 1)
        if self.multipliers == "all" and self.n_layers > 1:
            backend.map_sum(_with_empty_result(_shard.allocate_hidden_multipliers))
        self.n_iter = 0

    # -- one sweep ----------------------------------------------------------
    def step(self, backend, update_multipliers=True):
        """Run one sweep of Algorithm 1; return its statistics.

        Returns
        -------
        stats : dict
            ``objective`` (eq. 4 plus ridge; eq. 5's ``<z_L, lambda>`` is
            ``multiplier_term``), ``loss`` (loss of ``z_L``), ``residual``
            (``||z_L - W_L a_{L-1}||`` before the multiplier step),
            ``weight_change`` (the largest ``||W_l - W_l_prev|| / ||W_l||``
            of the sweep's solves) and ``seconds``.
        """
        start = time.perf_counter()
        beta, gamma, dt = self.beta, self.gamma, self.dtype
        penalty = 0.0
        L = self.n_layers
        # per hidden layer, the unit scales its pass applies to its state
        scales = (self._balance() if self.balance and update_multipliers and L > 1
                  else [None] * (L - 1))
        scales.append(None)  # the output layer is never rescaled
        moved = 0.0  # the largest relative change of a weight matrix
        solve_input, input_cross = input_step(self._interval, self.n_iter)
        for layer in range(1, L):
            if layer > 1 or solve_input:
                moved = max(moved, self._solve_in_place(layer))
            W_next, b_next = self.weights[layer]
            ops = self._activation_ops(W_next, self._layer_beta(layer + 1))
            W, b = self.weights[layer - 1]
            self._cross[layer + 1], self._gram[layer], pen, cross = backend.map_sum(
                _shard.update_hidden_layer, layer, ops, b_next.astype(dt),
                _shard.transposed(W, dt), b, gamma,
                self.beta_hidden, self.activation, self._lam_scale(), update_multipliers,
                _in_dtype(scales[layer - 1], dt), _in_dtype(scales[layer], dt),
                (solve_input, input_cross))
            penalty += pen[0]
            if layer == 1 and input_cross:
                self._cross[1] = cross
        moved = max(moved, self._solve_in_place(L))
        W, b = self.weights[L - 1]
        # the paper's Bregman step is beta; the augmented Lagrangian's, 2 beta
        step = 0.0
        if update_multipliers:
            step = beta if self.multipliers == "bregman" else 2.0 * beta
        out, cross = backend.map_sum(_shard.update_final_outputs, W, b, beta, step,
                                     self._lam_scale(), self.loss)
        if L == 1:
            self._cross[1] = cross
        loss, residual_sq, multiplier_term = out
        ridge = self.ridge() * sum(
            self._layer_beta(layer) * (self._input.ridge_term(self._input_norms()[0])
                                       if layer == 1 else float(np.vdot(W, W)))
            for layer, (W, b) in enumerate(self.weights, start=1))
        self.n_iter += 1
        return {
            "objective": penalty + loss + beta * residual_sq + ridge,
            "multiplier_term": multiplier_term,
            "loss": loss,
            "residual": float(np.sqrt(residual_sq)),
            "weight_change": moved,
            "seconds": time.perf_counter() - start,
        }

    def _solve_in_place(self, layer):
        """Replace layer ``layer``'s weights by its solve; return how far that
        moved them, ``||W_new - W_old|| / ||W_new||``.

        By blocks of units, and for layer 1 into the old weights' own array
        (taken to raw inputs block by block): with 10^5 inputs, a copy of
        the old weights kept for the measure, or the new ones formed beside
        them, would be one of the largest arrays of a sweep.
        """
        old, _ = self.weights[layer - 1]
        if layer == 1:
            W_standard, b_standard = self._solve_layer(1, raw=False)
            W, b = old, np.empty(old.shape[0])
        else:
            W, b = self._solve_layer(layer)
        change = norm = 0.0
        for units in _shard.row_blocks(*W.shape, min_rows=1):
            if layer == 1:
                new, b[units] = self._input.coordinates.to_raw(W_standard[units],
                                                               b_standard[units])
            else:
                new = W[units]
            delta = new - old[units]
            change += float(np.vdot(delta, delta))
            norm += float(np.vdot(new, new))
            if layer == 1:
                W[units] = new
        self.weights[layer - 1] = (W, b)
        return float(np.sqrt(change / max(norm, 1e-300)))

    def _balance(self):
        """Rescale every hidden unit so its incoming and outgoing weights have
        equal norms; return the scales, one array per hidden layer.

        For a positively homogeneous ``h`` (``h(c z) = c h(z)``, ``c > 0``)
        the network is unchanged when unit ``j`` of layer ``l`` has its row
        of ``W_l, b_l`` multiplied by ``c_j`` and its column of ``W_{l+1}``
        divided by it. Over that symmetry ``||[W_l, b_l]||^2 +
        ||W_{l+1}||^2`` is smallest at ``c_j^2 = ||W_{l+1}[:, j]|| /
        ||[W_l, b_l][j, :]||`` (layer 1 in standardised inputs, where the
        ridge acts). The bias counts because it scales with the unit: a unit
        with a bias and no input weights was otherwise rescaled without
        bound (a fit on random labels overflowed). The unit's state is
        rescaled with it: ``z_l, u_l, v_l`` are multiplied by ``c_j`` as
        each pass reads a block, and ``a_l`` is recomputed from them. Every
        constraint of eq. 4 then keeps its residual up to that factor: the
        change amounts to per-unit penalty weights ``gamma c_j^2`` and
        ``beta_l c_j^2``.

        Why it pays: the activation update (eq. 6) moves ``a_l`` along
        ``W_{l+1}^T``, so a unit with small outgoing weights receives little
        of the label signal, however useful its input weights. A He-scaled
        start gives every unit outgoing weights of about ``sqrt(d_{l+1} /
        d_l)`` times the norm of its incoming ones (0.1 for 100 units and
        one output), so without balancing the hidden layer learns slowly and
        whether it takes off at all is chaotic (``docs/what_we_tried.rst``,
        "Balanced units"). It must be exact and every sweep: done every second or
        tenth sweep, or halfway (``c_j^{1/2}``), the weights shrank to zero
        instead (measured, same section).
        """
        scales = []
        for layer in range(1, self.n_layers):
            W, b = self.weights[layer - 1]
            W_next, b_next = self.weights[layer]
            if layer == 1:  # in standardised inputs, by blocks of units
                squares, bias = self._input_norms()
                incoming = np.sqrt(squares + bias ** 2)
            else:
                incoming = np.sqrt(np.einsum("ij,ij->i", W, W) + b ** 2)
            ratio = (np.linalg.norm(W_next, axis=0) + _TINY) / (incoming + _TINY)
            c = np.clip(np.sqrt(ratio), 1.0 / _MAX_SCALE_STEP, _MAX_SCALE_STEP)
            # in place: the engine's own arrays (the fitted attributes are
            # copies), and with 10^5 inputs W_1 is 80 MB
            W *= c[:, None]
            W_next /= c
            self.weights[layer - 1] = (W, b * c)
            scales.append(c)
        # layer 1's cross Gram (its target times [a_0; 1]) is kept from the
        # last sweep, so it takes the target's new scale here (when that
        # sweep formed one: see _input_schedule)
        if 1 in self._cross:
            self._cross[1] *= scales[0][:, None]
        return scales

    def polish_output(self, backend, weights, n_sweeps, tol=1e-5, with_loss=False):
        """Refit the output layer of ``weights`` on the network's own features.

        The hidden layers' training state may fit labels through per-sample
        slack that the network cannot reproduce, and ``W_L`` was fitted to that
        state. Here ``a_{L-1}`` is frozen to the forward pass ``F`` of
        ``weights`` and Algorithm 1 runs on the output layer alone: ``W_L``
        least squares, ``z_L`` prox, multiplier step ``2 beta``. With ``F``
        fixed the problem ``min loss(W F + b) + beta ridge ||W||^2`` is convex
        and this is plain ADMM on it. The ADMM state is left untouched;
        returns ``(W_L, b_L)``.

        With ``loss='log_loss'`` the same convex problem is solved directly
        (:meth:`_refit_log_loss`, Newton's method), up to ``n_sweeps``
        passes, until its steps move no weight by ``tol`` (relative; the
        method lists its other stops); with ``loss='squared_error'``
        it is one ridge solve (:meth:`_refit_squared_error`). The ridge is
        the sweeps' own (:meth:`ridge`): the refit runs on the rows the
        solver was initialised on.

        ``with_loss=True`` returns ``((W_L, b_L), loss)``: also the training
        loss of the refitted network per unit of sample weight (one more
        pass over the features), which the stopping rule follows.
        """
        W, b = weights[-1]
        refits = self.n_layers >= 2 and n_sweeps > 0
        if not (refits or with_loss):
            return W, b
        refit = getattr(self, _REFITS[self.loss])
        try:
            # only the ADMM polish needs z_L and lambda beside the features
            transposed = [(_shard.transposed(W_l, self.dtype), b_l) for W_l, b_l in weights]
            (gram,) = backend.map_sum(_shard.start_polish, transposed, self.activation,
                                      refit == self._refit_admm)
            del transposed
            if not _all_finite(gram):
                self.diverged()
            if refits:
                W, b = refit(backend, gram, W, b, n_sweeps, tol, self.ridge())
            if not with_loss:
                return W, b
            (loss,) = backend.map_sum(_shard.polish_loss, W, b, self.loss)
            return (W, b), float(loss[0]) / self.n_samples
        finally:
            backend.map(_shard.end_polish)  # local: frees memory, no collective

    def _refit_admm(self, backend, gram, W, b, n_sweeps, tol, ridge):
        """The hinge's refit: ``n_sweeps`` sweeps of Algorithm 1 on the output
        layer alone (``tol`` unused: the plain ADMM polish runs them all)."""
        factor = GramFactor(gram, ridge)
        for _ in range(n_sweeps):
            _, cross = backend.map_sum(_shard.polish_step, W, b, self.beta)
            if not _all_finite(cross):
                self.diverged()
            W, b = solve_weights(cross, None, ridge, factor=factor)
        return W, b

    def _refit_squared_error(self, backend, gram, W, b, n_sweeps, tol, ridge):
        """Exact output layer for the squared error: ridge regression on the features.

        ``min_W ||Y - W F - b||^2 / 2 + c ||W||^2`` (``c = beta ridge``, the
        ridge of the ADMM objective) is ``[W, b] = Y^T [F, 1] (G + 2 c D)^{-1}``:
        one pass for the cross Gram, one solve (so the start ``W, b`` and the
        pass budget are not needed).
        """
        (cross,) = backend.map_sum(_shard.targets_cross)
        if not _all_finite(cross):
            self.diverged()
        return solve_weights(cross, gram, 2.0 * self.beta * ridge)

    def _refit_log_loss(self, backend, gram, W, b, n_sweeps, tol, ridge):
        """Exact output layer for the log-loss: Newton's method, inexact.

        ``J(V) = sum_n loss(W f_n + b, y_n) + c ||W||^2`` (``V = [W, b]``,
        ``c = beta ridge``) is convex and smooth. Each Newton step solves
        ``H s = -grad J`` by conjugate gradients, each of whose iterations
        is one data-parallel Hessian product ``Q^T [F, 1]``
        (:func:`~admm_sklearn._shard.logistic_hessian_product`), to a
        relative residual ``min(1/2, sqrt(||grad|| / ||grad_0||))`` (Eisenstat
        and Walker's forcing term: superlinear near the optimum), then a
        backtracking (Armijo) line search. The CG is preconditioned by
        Boehning's bound ``B = s G + 2 c D`` (``G`` the feature Gram, ``D``
        the identity without the bias, ``s = 1/2`` for the softmax, ``1/4``
        for one logistic unit), factorised once. Stops when a step moves the
        weights by less than ``tol`` (relative; that step is taken), when
        the Newton decrement puts ``J`` within the machine epsilon ``eps`` of
        the state's dtype of its minimum (relative), when the mean loss is
        below ``eps``, or after ``n_sweeps`` passes over the data, whichever
        comes first.

        Why Newton: on many classes the curvature of most directions is far
        below the bound, and the bound's accelerated majorise-minimise steps
        used before stopped 76 above the optimum on letter after 100 passes
        (2,819; a quarter of the start's gap left), where this stops 0.87
        above it (``docs/what_we_tried.rst``, "Output layer and loss").
        """
        c = self.beta * ridge
        scale = 0.25 if W.shape[0] == 1 else 0.5
        factor = GramFactor(scale * np.asarray(gram), 2.0 * c)
        ridge_mask = np.ones(W.shape[1] + 1)
        ridge_mask[-1] = 0.0  # the bias is not penalised

        def evaluate(V):
            loss, cross = backend.map_sum(_shard.logistic_refit_step, V[:, :-1], V[:, -1])
            grad = cross + 2.0 * c * ridge_mask * V  # a fresh array from the reduction
            value = loss[0] + c * float(np.vdot(V[:, :-1], V[:, :-1]))
            if not (np.isfinite(value) and _all_finite(grad)):
                self.diverged()
            return value, grad, loss[0]

        def hessian_product(S):
            (cross,) = backend.map_sum(_shard.logistic_hessian_product, S[:, :-1], S[:, -1])
            return cross + 2.0 * c * ridge_mask * S

        def precondition(R):
            return factor.solve(R.T).T

        V = np.column_stack([W, b])
        value, grad, loss = evaluate(V)
        passes, first_norm, newton_steps = 1, np.linalg.norm(grad), 0
        # Without a ridge, on separable features, J has no minimum and
        # Newton's steps grow the weights geometrically (19 -> 3.4e7 in one
        # float32 refit, whose float64 predictions then missed 4 of 20
        # training rows): stop once every row is fitted to the features'
        # rounding, a mean loss below their machine epsilon
        loss_floor = np.finfo(self.dtype).eps * self.n_samples
        while passes < n_sweeps and first_norm > 0 and loss > loss_floor:
            # conjugate gradients on H s = -grad, one pass per product,
            # keeping one pass for the line search; step k runs at most
            # 10 k of them, so that a start far from the optimum takes
            # cheap steps first instead of spending the budget on one
            newton_steps += 1
            inner_limit = min(n_sweeps - 1, passes + INNER_PER_STEP * newton_steps)
            norm = np.linalg.norm(grad)
            forcing = min(0.5, np.sqrt(norm / first_norm)) * norm
            step_dir, products = conjugate_gradients(
                hessian_product, precondition, -grad, forcing, inner_limit - passes)
            passes += products
            slope = np.vdot(grad, step_dir)
            # Converged when the step is below tol (relative): it is then
            # taken without a line search, since comparing values of J that
            # differ only by rounding stops wherever rounding says (an MPI fit
            # and the serial one ended 1e-8 apart in flat directions, against
            # 1e-10 with the step taken). Also stop, without the step, once
            # -slope / 2 (half the squared Newton decrement, about J - min J)
            # is below the rounding of J in the features' dtype: a float32
            # line search there only chases noise, and a step that long in a
            # flat direction is beyond the quadratic model.
            change = np.linalg.norm(step_dir) / max(np.linalg.norm(V), 1e-300)
            if change < tol:
                V = V + step_dir
                break
            if not -slope / 2.0 > np.finfo(self.dtype).eps * abs(value):
                break
            length = 1.0  # backtracking (Armijo)
            while passes < n_sweeps and length > 1e-10:
                new_value, new_grad, new_loss = evaluate(V + length * step_dir)
                passes += 1
                if new_value <= value + 1e-4 * length * slope:
                    break
                length *= 0.5
            else:
                break  # no accepted step within the passes left: keep V
            V, value, grad, loss = V + length * step_dir, new_value, new_grad, new_loss
        if W.shape[0] > 1:
            # The softmax is unchanged when every class's bias moves by the
            # same amount, and the ridge spares the biases, so J is flat
            # along that direction and Newton's steps drift there with
            # round-off (an MPI fit and the serial one ended with biases
            # 2.6e-7 apart, all else within 7e-12). Zero-mean biases, the
            # least-norm choice, make the optimum unique; no prediction or
            # probability changes.
            V[:, -1] -= V[:, -1].mean()
        return V[:, :-1], V[:, -1]

    def _lam_scale(self):
        """``lambda``'s weight in the targets of ``W_L`` and ``a_{L-1}``.

        The paper's Bregman step puts ``<z_L, lambda>`` on the loss term only
        (0); the augmented Lagrangian ``<lambda, z_L - W_L a_{L-1}> + beta
        ||z_L - W_L a_{L-1}||^2`` equals ``beta ||z_L + lambda / (2 beta) -
        W_L a_{L-1}||^2`` up to a constant, so W_L and a_{L-1} chase the
        shifted target.
        """
        return 0.0 if self.multipliers == "bregman" else 0.5 / self.beta

    def _layer_beta(self, layer):
        """``beta_l``: ``beta`` for the output layer, ``beta_hidden`` below it."""
        return self.beta if layer == self.n_layers else self.beta_hidden

    def _activation_ops(self, W_next, beta_next):
        """Eq. 6 operator in whichever form needs fewer flops for this shape."""
        d_next, d = W_next.shape
        if d_next < d:
            P = activation_operator(W_next, beta_next, self.gamma)
            return ("residual", W_next.astype(self.dtype), P.astype(self.dtype))
        Q, S = activation_direct(W_next, beta_next, self.gamma)
        return ("direct", Q.astype(self.dtype), S.astype(self.dtype))


#: loss -> the solver method that refits the output layer on fixed features
#: (called as ``refit(backend, gram, W, b, n_sweeps, tol)``)
_REFITS = {"hinge": "_refit_admm", "log_loss": "_refit_log_loss",
           "squared_error": "_refit_squared_error"}


#: Conjugate-gradient iterations (data passes) allowed to the k-th Newton
#: step of the log-loss refit: ``INNER_PER_STEP * k``.
INNER_PER_STEP = 10
#: Added to weight norms in :meth:`ADMMSolver._balance` (a unit with no
#: weights on one side is scaled by the clip, not by infinity).
_TINY = 1e-12
#: Largest factor by which :meth:`ADMMSolver._balance` rescales a unit in
#: one sweep: a guard for units whose weights vanish on one side, not a
#: step size. Balancing must be exact (a He start needs about 0.3 at once,
#: and a unit whose outgoing weight crosses zero far more): capped at 2,
#: radial bands fell from 0.86 to 0.61 to 0.67 over ten seeds; 10 and 100
#: scored alike (``docs/what_we_tried.rst``, "Balanced units").
_MAX_SCALE_STEP = 10.0


def _all_finite(*arrays):
    """Whether every entry of ``arrays`` is finite, judged by their sums: an
    inf or NaN entry makes the sum non-finite, and finite entries overflow
    it only past 1e308. On a sweep's small arrays this takes 10.6 against
    ``np.isfinite``'s 16.7 microseconds (a (100, 64) and a (1, 100) layer);
    the checks were 4% of a fit of 266 rows."""
    return bool(np.isfinite(sum(float(array.sum()) for array in arrays)))


def _in_dtype(scale, dtype):
    """A unit scale vector in the state's dtype (``None`` stays ``None``)."""
    return None if scale is None else scale.astype(dtype)


def _with_empty_result(fn):
    """Adapt an in-place pass to ``map_sum``'s tuple-of-arrays protocol."""

    def wrapped(shard, *args):
        fn(shard, *args)
        return (np.zeros(1),)

    wrapped.__name__ = fn.__name__
    return wrapped


def forward(X, coefs, intercepts, activation):
    """Network output ``W_L h(... h(W_1 x + b_1) ...) + b_L`` in rows (eq. 1)."""
    h = ACTIVATIONS[activation][0]
    out = X
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        out = out @ W
        out += b
        if k < len(coefs) - 1:
            h(out, out=out)
    return out

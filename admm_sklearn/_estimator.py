"""What ADMMClassifier and ADMMRegressor share: parameters, validation, the fit.

An estimator turns its targets into the rows ``Y`` the solver fits (0/1
indicators, or standardised real values) through a *target encoding*
(:class:`_LabelTargets`, :class:`_RealTargets`), and everything else, from
the ADMM sweeps and early stopping to warm starts and the agreement of MPI
ranks, runs here in one place for both.
"""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._activations import ACTIVATIONS
from ._backends import Backend, make_backend
from ._dask_input import encode_chunks, is_dask_collection, validate_dask_input
from ._engine import ADMMSolver, forward
from ._losses import LOSSES

#: Sweeps between two validation scores when ``early_stopping``: each
#: score runs the output refit, so scoring every sweep would cost more than
#: the sweeps themselves.
VALIDATION_EVERY = 10

#: ``start_fraction='auto'``: the first half of the sweeps sees this share of
#: the rows when there are at least AUTO_START_MIN_ROWS of them (so that the
#: subset keeps 25,000 rows or more; section 13 of docs/what_we_tried.rst).
AUTO_START_FRACTION = 1.0 / 8.0
AUTO_START_MIN_ROWS = 200_000

_DTYPES = {"float32": np.float32, "float64": np.float64, np.float32: np.float32,
           np.float64: np.float64}

#: numpydoc text of the parameters both estimators share, spliced into their
#: docstrings at ``{shared_parameters}`` (one text, not two copies).
SHARED_PARAMETERS = """\
beta_hidden : float, default=0.1
        Weight of the hidden constraints ``z_l = W_l a_{l-1}`` (``l < L``; the
        paper's per-layer ``beta_l``, all 1 there). Below ``gamma`` it lets
        the pre-activations follow the activations the output asks for, and
        the weights follow them through their multipliers
        (``docs/what_we_tried.rst``, section 7).
    gamma : float, default=0.3
        Weight of the constraints ``a_l = h(z_l)`` (eq. 4). The paper uses 10.
        With ``multipliers='all'`` the constraints hold exactly at a fixed
        point whatever ``gamma``, and a small one lets the hidden layers move
        further per sweep (``docs/what_we_tried.rst``).
    alpha : float, default=1e-3
        Ridge on the weights: each layer adds ``beta * alpha * n_samples *
        ||W_l||^2`` to the objective (biases are not penalised;
        ``n_samples`` is the total sample weight). ``0`` gives the paper's
        pseudo-inverse update.
    max_iter : int, default=800
        Maximum number of ADMM sweeps, warm-up included. 800 brought every
        set of our classification suite within 2 points of MLPClassifier
        (adam) (``docs/what_we_tried.rst``, sections 7 to 9). Fewer sweeps
        fit proportionally faster; ``early_stopping=True`` picks the sweep
        on held-out data instead.
    n_warmup_iter : int, default=20
        Sweeps run before the first multiplier update (the paper's "warm
        start", section 6; unrelated to ``warm_start``).
    n_polish_iter : int, default=100
        Passes of the output-layer refit run after the ADMM sweeps: the output
        layer is fitted again to the activations the network itself computes
        (a convex problem), rather than to the training state, whose
        per-sample slack the network cannot reproduce. ``0`` skips it (the
        paper). The log-loss refit is an exact convex solve that stops once
        the weights settle; the squared error's is one ridge solve; the
        hinge's runs the closed-form ADMM steps on the output layer alone.
    tol : float, default=1e-4
        Convergence tolerance: training stops when, after the warm-up, a sweep
        has changed no weight matrix by ``tol`` or more (relative Frobenius
        norm; with ``early_stopping``: the validation loss has not fallen
        by ``tol``) for ``n_iter_no_change`` consecutive sweeps. The objective
        is not used: multiplier steps make it rise as the constraint tightens.
    init : {'forward', 'gaussian'}, default='forward'
        ``'gaussian'`` is the paper's start (i.i.d. N(0, 1) activations and
        outputs, drawn per row: repeated rows then start apart, so integer
        ``sample_weight`` equals repeated rows with ``'forward'`` only);
        ``'forward'`` runs a forward pass through He-scaled random weights,
        so the state starts consistent with a network.
    init_scale : float, default=1.0
        With ``init='forward'``: the input layer's random start weights are
        He-scaled Gaussians times ``init_scale`` (on standardised inputs).
    multipliers : {'all', 'output', 'bregman'}, default='all'
        Which constraints carry Lagrange multipliers after the warm-up.
        ``'bregman'`` is the paper (eqs. 5, 8): ``<z_L, lambda>`` on the loss
        term only. Its fixed points are every state where the constraints
        hold, whatever the weights, so the hidden layer stops learning once
        the output residual closes. ``'output'`` makes the same multiplier an
        augmented Lagrangian of ``z_L = W_L a_{L-1}``, so it also steers W_L
        and a_{L-1}. ``'all'`` adds scaled multipliers on every hidden
        constraint (two more arrays of the hidden layers' size): a fixed point
        then satisfies the network exactly.
    balance : bool, default=True
        Before every sweep with multiplier steps, rescale each hidden unit so
        that its incoming and outgoing weights have equal norms (the network
        is unchanged: ``relu(c z) = c relu(z)``), its per-sample state with
        it. The activation update passes the label signal to a unit in
        proportion to its outgoing weights; balanced, every unit learns, and
        the hidden layer takes off reliably (``docs/what_we_tried.rst``,
        section 12). Only used with ``activation='relu'`` or ``'identity'``;
        ``False`` is the paper.
    start_fraction : float in (0, 1] or 'auto', default='auto'
        Share of the training rows that the first ``max_iter // 2`` sweeps
        see: a random subset, fitted from the usual start; the fit on all
        rows then starts from the network learned on it (a forward pass, a
        new warm-up) for the remaining sweeps. A full-batch sweep learns
        about as much from tens of thousands of rows as from hundreds of
        thousands, at a fraction of the cost: on 300,000 rows an eighth
        gave the same accuracy per sweep in a sixth of the time
        (``docs/what_we_tried.rst``, section 13). ``'auto'``: 1/8 from
        200,000 rows on, else 1 (all rows from the start, as the paper).
        Not used when ``warm_start`` continues a fit, nor for dask input.
    validation_fraction : float, default=0.1
        Share of training data held out when ``early_stopping`` is set.
    n_iter_no_change : int, default=400
        Sweeps without improvement tolerated before stopping (the patience,
        in sweeps: the method needs hundreds, and its validation score can
        stall for 200 sweeps and more and then rise again, so it is far
        longer than the MLP estimators' 10 epochs; 200 stopped radial bands
        in such a plateau, ``docs/what_we_tried.rst``, section 11).
    backend : {'serial', 'joblib', 'mpi', 'dask'} or Backend, default='joblib'
        Where the data shards live; see :mod:`admm_sklearn.backends`.
        The default runs one shard per core in threads of this process,
        as MLPClassifier's BLAS and scikit-learn's OpenMP estimators use
        every core by default (``n_jobs=1`` or ``'serial'``: one shard).
        ``'dask'`` uses the current ``distributed`` client and also accepts
        dask arrays and dataframes as ``X`` (their chunks stay on the
        workers; ``pip install 'admm-sklearn[dask]'``).
    n_jobs : int or None, default=-1
        Shards (threads) of the ``'joblib'`` backend: ``-1`` all cores;
        ``None`` means 1 unless in a :func:`joblib.parallel_config` context.
        Ignored by the other backends.
    dtype : {'float32', 'float64'}, default='float32'
        Floating type of the per-sample state (the inputs included, centred
        in float64 before the cast); the small solves and the fitted weights
        are float64 either way. On nine sets, three seeds each, float32 gave
        the test accuracy of float64 within 0.7 points (mean difference under
        0.1) and fits 1.4x (letter) to 2x faster (``docs/what_we_tried.rst``,
        section 10).
        Choose ``'float64'`` with ``alpha=0`` (the pseudo-inverse amplifies
        the float32 Grams' round-off: the paper's settings lost up to 52
        points in float32, so ``PAPER_SETTINGS`` pins float64), and to
        reproduce fits to round-off across backends.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the validation split.
    verbose : int, default=0
        Print one line per sweep when positive.
    warm_start : bool, default=False
        Continue from the previous fit: with the same training data (and
        weights) the full ADMM state is kept, so ``max_iter=10`` twice equals
        ``max_iter=20`` once; otherwise a forward pass through the fitted
        weights restarts it."""

#: numpydoc text of the fitted attributes both estimators share.
SHARED_ATTRIBUTES = """\
n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` has string column names.
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape (fan_in, fan_out), as in the MLP estimators.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` has shape (fan_out,).
    n_iter_ : int
        Number of sweeps run (warm-up included).
    beta_ : float
        The ``beta`` the fit used (``beta='auto'`` resolved).
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        ``'identity'``: the output layer is linear.
    loss_ : float
        Objective per unit of sample weight at the last sweep.
    loss_curve_ : list of float
        Objective (eq. 4 plus ridge) per unit of sample weight, one entry per
        sweep.
    history_ : dict of lists
        Per sweep: ``objective``, ``loss`` (loss of z_L), ``residual``
        (``||z_L - W_L a_{L-1}||``), ``multiplier_term``, ``weight_change``
        (the quantity compared with ``tol``), ``seconds``, and
        ``validation_score`` and ``validation_loss`` (the fit's loss per
        unit of sample weight on the held-out rows) when early stopping (NaN
        between checks). Sums over rows are weighted by ``sample_weight``.
    validation_scores_ : list of float or None
        Validation score at each check when ``early_stopping`` (every 10
        sweeps after the warm-up).
    best_validation_score_ : float or None
        When ``early_stopping``: the validation score of the network with the
        lowest validation loss, the one returned (before its output layer is
        refitted on all rows)."""


def document(cls):
    """Splice the shared parameter and attribute texts into ``cls``'s docstring."""
    cls.__doc__ = cls.__doc__.replace("{shared_parameters}", SHARED_PARAMETERS).replace(
        "{shared_attributes}", SHARED_ATTRIBUTES)
    return cls


class BaseADMM(BaseEstimator, metaclass=ABCMeta):
    """Base class of the ADMM estimators; use ADMMClassifier or ADMMRegressor.

    A subclass sets ``loss``'s options, and implements :meth:`_target_info`
    (local) and :meth:`_make_targets` (after every process's info is known).
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "beta": [Interval(Real, 0, None, closed="neither")],
        "beta_hidden": [Interval(Real, 0, None, closed="neither")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_warmup_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions({"forward", "gaussian"})],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "multipliers": [StrOptions({"all", "output", "bregman"})],
        "balance": ["boolean"],
        "start_fraction": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
        "n_polish_iter": [Interval(Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "backend": [StrOptions({"serial", "joblib", "mpi", "dask"}), Backend],
        "n_jobs": [None, Integral],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    #: ``y`` may have several columns (regression); its values are numbers.
    _multi_output = False

    @abstractmethod
    def __init__(self, *, hidden_layer_sizes, activation, loss, beta, beta_hidden, gamma,
                 alpha, max_iter, n_warmup_iter, n_polish_iter, tol, init, init_scale,
                 multipliers, balance, start_fraction, early_stopping, validation_fraction,
                 n_iter_no_change, backend, n_jobs, dtype, random_state, verbose, warm_start):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.beta = beta
        self.beta_hidden = beta_hidden
        self.gamma = gamma
        self.alpha = alpha
        self.max_iter = max_iter
        self.n_warmup_iter = n_warmup_iter
        self.n_polish_iter = n_polish_iter
        self.tol = tol
        self.init = init
        self.init_scale = init_scale
        self.multipliers = multipliers
        self.balance = balance
        self.start_fraction = start_fraction
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _hidden_sizes(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes <= 0):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, got "
                f"{self.hidden_layer_sizes!r}.")
        return tuple(int(s) for s in sizes)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data (X, y) by ADMM sweeps.

        Under ``backend='mpi'`` every rank calls ``fit`` with its own rows
        (and their weights); all ranks end with the same model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (dense).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target labels (classification) or values (regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample's terms in the objective (``None``: all
            ones). Integer weights give the model of repeated rows, zero
            weights that of dropped rows.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        hidden = self._hidden_sizes()
        dtype = _DTYPES[self.dtype]
        backend = make_backend(self.backend, self.n_jobs)
        reset = not (self.warm_start and hasattr(self, "coefs_"))
        X, y, sample_weight, targets = self._validate_and_agree(
            X, y, sample_weight, backend, reset)
        fitted = _Fit(self, hidden, dtype, backend, targets)
        try:
            result = fitted.run(X, y, sample_weight)
        except BaseException:
            # A resumed warm-start fit advanced the kept per-sample state in
            # place; it no longer matches coefs_, so forget it (the next warm
            # start restarts from coefs_). The fitted model itself is intact.
            self._solver = self._solver_shards = self._train_fingerprint = None
            raise
        # Atomic: attributes change only once the fit has succeeded.
        for name, value in result.items():
            setattr(self, name, value)
        return self

    def _resolved_beta(self, n_outputs):
        """The output constraint's weight for a network with ``n_outputs`` units."""
        return float(self.beta)

    def _resolved_start_fraction(self, n_rows):
        """Share of the ``n_rows`` training rows that the first sweeps see."""
        if self.start_fraction != "auto":
            return float(self.start_fraction)
        return AUTO_START_FRACTION if n_rows >= AUTO_START_MIN_ROWS else 1.0

    def _validate_and_agree(self, X, y, sample_weight, backend, reset):
        """Validate locally, then agree across processes before any collective."""
        if is_dask_collection(X):  # checked on the cluster, never gathered here
            X, y, sample_weight, info = validate_dask_input(self, X, y, sample_weight,
                                                            backend, reset)
            return X, y, sample_weight, self._make_targets([info], y, reset)
        error, info = None, None
        try:
            X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32],
                                 ensure_min_features=1, multi_output=self._multi_output,
                                 y_numeric=self._multi_output)
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                     ensure_non_negative=True,
                                                     allow_all_zero_weights=True)
            info = (X.shape[1], self._target_info(y, sample_weight),
                    len(X) if sample_weight is None else float(np.sum(sample_weight)))
        except Exception as exc:  # re-raised below, on every process
            error = exc
        gathered = backend.allgather(
            (None if error is None else f"{type(error).__name__}: {error}", info))
        if error is not None:
            raise error
        failed = [(r, msg) for r, (msg, _) in enumerate(gathered) if msg is not None]
        if failed:
            rank, msg = failed[0]
            raise ValueError(f"fit failed on MPI rank {rank}: {msg}")
        infos = [inf for _, inf in gathered]
        n_features = {inf[0] for inf in infos}
        if len(n_features) > 1:
            raise ValueError(
                f"Ranks disagree on the number of features: {sorted(n_features)}.")
        if not sum(inf[2] for inf in infos) > 0:
            raise ValueError("sample_weight sums to zero: there is nothing to fit.")
        targets = self._make_targets([inf[1] for inf in infos], y, reset)
        return X, y, sample_weight, targets

    @abstractmethod
    def _target_info(self, y, sample_weight):
        """This process's summary of ``y`` (picklable, small), checked first."""

    @abstractmethod
    def _make_targets(self, infos, y, reset):
        """The target encoding of the fit, from every process's :meth:`_target_info`."""

    def _outputs(self, X):
        """The network's output layer on validated ``X``, in float64.

        Whatever the fit's ``dtype``: float32 GEMMs round a row differently
        depending on where it falls in the blocks of a batch, so predictions
        would depend on which other rows are predicted with it.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return forward(X, [c.astype(np.float64) for c in self.coefs_],
                       [b.astype(np.float64) for b in self.intercepts_], self.activation)

    def __getstate__(self):
        # The per-sample ADMM state kept for warm_start is as large as the
        # training data: never pickle it.
        state = super().__getstate__()
        for key in ("_solver", "_solver_shards", "_train_fingerprint"):
            state.pop(key, None)
        return state


class _Fit:
    """One run of the solver for an estimator: data -> fitted attributes.

    ``targets`` is the fit's target encoding: ``transform(y)`` gives the rows
    the solver fits, ``to_raw`` / ``from_raw`` map the output layer between
    those units and the user's, ``score_sums`` / ``score`` give the
    validation score from sums that add up over processes, and
    ``attributes()`` the encoding's fitted attributes (``classes_``).
    """

    def __init__(self, est, hidden, dtype, backend, targets):
        self.est, self.hidden, self.dtype = est, hidden, dtype
        self.backend, self.targets = backend, targets

    def _input_shift(self, X):
        """Column means of the training inputs over all processes, in float64:
        the shards hold ``X - shift`` (see :class:`~admm_sklearn._shard.Shard`)."""
        if is_dask_collection(X):
            return np.asarray(X.mean(axis=0).compute(), dtype=np.float64)
        total, count = self.backend.allreduce([X.sum(axis=0, dtype=np.float64),
                                               np.array([float(len(X))])])
        self.n_rows = int(count[0])  # over all processes
        return total / max(count[0], 1.0)

    def _on_raw_inputs(self, weights, sign=-1.0):
        """Weights on ``x - shift`` as weights on ``x`` (``sign=-1``: ``b_1 -
        W_1 shift``), or back (``sign=+1``)."""
        W, b = weights[0]
        return [(W, b + sign * (W @ self.shift))] + list(weights[1:])

    def _validate(self, weights, X, y, w):
        """``(score, loss)`` of the network ``weights`` (encoded units) on the
        held-out ``(X, y)``: the estimator's score and the fit's own loss per
        unit of sample weight."""
        weights = self._on_raw_inputs(weights)
        coefs = [W.T for W, _ in weights]
        outputs = forward(X, coefs, [b for _, b in weights], self.est.activation)
        Y = self.targets.transform(y)
        loss_sums = np.array([LOSSES[self.est.loss].value(Y, outputs, w),
                              len(Y) if w is None else np.sum(w, dtype=np.float64)])
        sums, loss_sums = self.backend.allreduce(
            [self.targets.score_sums(outputs, Y, w), loss_sums])
        return self.targets.score(sums), loss_sums[0] / max(loss_sums[1], 1e-300)

    def _refit(self, solver, weights):
        """``weights`` with the output layer refitted on their own features."""
        return weights[:-1] + [solver.polish_output(self.backend, weights,
                                                    self.est.n_polish_iter)]

    def _refit_on_all_rows(self, solver, weights):
        """``weights`` with the output layer refitted on every training row,
        the held-out ones included: they chose the network, and the convex
        output problem on its fixed features gains from them like any
        estimator refitted on all its data. The shards of the sweeps are
        kept (they resume under ``warm_start``) or released first."""
        backend, kept = self.backend, None
        if self.est.warm_start:
            kept, backend.shards = backend.shards, []
        else:
            backend.release()
        try:
            backend.scatter(*self.all_rows, self.shift)
            return self._refit(solver, weights)
        finally:
            if kept is not None:
                backend.release()
                backend.shards = kept

    def run(self, X, y, sample_weight):
        est, backend = self.est, self.backend
        rng = check_random_state(est.random_state)
        # Every process must draw the same seed (MPI ranks too).
        seed = backend.allgather(int(rng.randint(np.iinfo(np.int32).max)))[0]
        X_val = y_val = w_val = None
        if est.early_stopping:
            self.all_rows = (X, self.targets.transform(y).astype(self.dtype), self.dtype,
                             sample_weight)
            w = np.ones(len(y)) if sample_weight is None else sample_weight
            X, X_val, y, y_val, w, w_val = train_test_split(
                X, y, w, test_size=est.validation_fraction, random_state=seed,
                stratify=y if self.targets.stratify else None)
            sample_weight = None if sample_weight is None else w
        dask_input = is_dask_collection(X)
        if dask_input:
            Y = encode_chunks(self.targets, y, self.dtype)
        else:
            Y = self.targets.transform(y).astype(self.dtype)
        sizes = (X.shape[1],) + self.hidden + (Y.shape[1],)
        self.shift = self._input_shift(X)

        solver = getattr(est, "_solver", None) if est.warm_start else None
        fingerprint = _fingerprint(X, y, sample_weight)
        resume = (solver is not None and solver.layer_sizes == sizes
                  and getattr(est, "_train_fingerprint", None) == fingerprint)
        if not resume:
            solver = self._new_solver(sizes)
        history = {k: [] for k in ("objective", "loss", "residual", "multiplier_term",
                                   "weight_change", "seconds", "n_samples")}
        if est.early_stopping:
            history["validation_score"], history["validation_loss"] = [], []
        if resume and est.history_ is not None:
            history = {k: list(v) for k, v in est.history_.items()}

        start = None if resume else self._warm_start_weights()
        if start is None and not resume and not dask_input:
            rows = self._subset_rows(len(X), seed)
            if rows is not None:
                start = self._subset_start(X[rows], Y[rows],
                                           None if sample_weight is None else sample_weight[rows],
                                           seed, sizes, history)
        if resume:
            backend.shards = est._solver_shards
        elif dask_input:
            backend.scatter_chunks(X, Y, sample_weight, self.dtype, self.shift)
        else:
            backend.scatter(X, Y, self.dtype, sample_weight, self.shift)
        try:
            with backend.running():
                if not resume:
                    solver.initialize(backend, est.init if start is None else "forward", seed,
                                      start, est.init_scale)
                n_sweeps = est.max_iter - (0 if resume else len(history["objective"]))
                validation = (X_val, y_val, w_val) if est.early_stopping else None
                converged, weights = self._sweeps(solver, n_sweeps, history, validation)
            return self._result(solver, weights, history, converged, sizes, fingerprint)
        except BaseException:
            backend.release()  # the shards' memory, on a cluster too
            raise

    def _new_solver(self, sizes):
        est = self.est
        return ADMMSolver(sizes, est.activation, est._resolved_beta(sizes[-1]), est.gamma,
                          est.alpha, self.dtype, est.multipliers, est.beta_hidden, est.loss,
                          est.balance)

    def _warm_start_weights(self):
        """The fitted network (as the solver's weights) when ``warm_start``
        continues it on new data with the same hidden layers, else ``None``."""
        est = self.est
        if not (est.warm_start and hasattr(est, "coefs_")):
            return None
        if [c.shape[1] for c in est.coefs_[:-1]] != list(self.hidden):
            return None
        weights = [(W.T, b) for W, b in zip(est.coefs_, est.intercepts_)]
        weights = self._on_raw_inputs(weights, sign=1.0)
        weights[-1] = self.targets.from_raw(*weights[-1])
        return weights

    def _subset_rows(self, n_local, seed):
        """This process's rows of the subset start, or ``None`` for none.

        Row ``i`` (global index) is in it when the ``i``-th draw of a
        generator seeded by the fit is below ``start_fraction``: the subset
        does not depend on how rows are spread over processes, so MPI runs
        agree with serial ones. Every process decides from the global row
        count, so all take the same branch.
        """
        fraction = self.est._resolved_start_fraction(self.n_rows)
        if fraction >= 1.0:
            return None
        offset = self.backend.row_offset(n_local)
        draws = np.random.default_rng(seed).random(offset + n_local)[offset:]
        return np.flatnonzero(draws < fraction)

    def _subset_start(self, X, Y, sample_weight, seed, sizes, history):
        """Sweeps on a random subset of the rows; returns their network.

        A full-batch sweep learns about as much from a few tens of thousands
        of rows as from all of them, at a fraction of the cost, so the first
        ``max_iter // 2`` sweeps (or fewer, if they converge) run on the
        subset, on their own shards and solver; the fit on all rows then
        starts from that network (output layer refitted, as a fit on the
        subset would return it) by a forward pass (section 13 of
        ``docs/what_we_tried.rst``).
        """
        est, backend = self.est, self.backend
        solver = self._new_solver(sizes)
        backend.scatter(X, Y, self.dtype, sample_weight, self.shift)
        try:
            with backend.running():
                solver.initialize(backend, est.init, seed, None, est.init_scale)
                _, weights = self._sweeps(solver, est.max_iter // 2, history, None)
        finally:
            backend.release()
        return weights

    def _sweeps(self, solver, n_sweeps, history, validation):
        """Up to ``n_sweeps`` sweeps on the scattered shards, recorded in
        ``history``; returns ``(converged, weights)``: the network to return
        (the best one on the held-out rows ``validation = (X, y, w)`` if
        given, else the last one), output layer refitted."""
        est = self.est
        best_loss, best_weights, best_sweep, stall, converged = np.inf, None, 0, 0, False
        self.best_score, last_output = None, None
        for sweep in range(n_sweeps):
            previous = [W for W, _ in solver.weights]
            stats = solver.step(self.backend, solver.n_iter >= est.n_warmup_iter)
            solver.check_finite(stats)
            stats["weight_change"] = _relative_change(previous, solver.weights)
            stats["n_samples"] = solver.n_samples
            for k in history:
                if not k.startswith("validation_"):
                    history[k].append(float(stats[k]))
            in_warmup = solver.n_iter <= est.n_warmup_iter
            score = loss = np.nan
            if validation is not None:
                # Only after the warm-up, every VALIDATION_EVERY sweeps and
                # at the last one: the network the user would get (output
                # refit included) evaluated on the held-out rows. The fit's
                # own loss chooses: on a tenth of a few thousand rows,
                # accuracy moves by single rows and its maximum over dozens
                # of checks is mostly noise (section 13 of
                # docs/what_we_tried.rst).
                if not in_warmup and (solver.n_iter % VALIDATION_EVERY == 0
                                      or sweep == n_sweeps - 1):
                    # warm-started from the last check's refit output
                    # layer, near the optimum for slowly moving features
                    refit = self._refit(solver, solver.weights[:-1] + [
                        solver.weights[-1] if last_output is None else last_output])
                    last_output = refit[-1]
                    score, loss = self._validate(refit, *validation)
                    if loss < best_loss - est.tol or best_weights is None:
                        best_sweep = solver.n_iter
                    if loss < best_loss:
                        best_loss, self.best_score, best_weights = loss, score, refit
                stall = 0 if best_weights is None else solver.n_iter - best_sweep
            else:
                # With multiplier steps the objective need not decrease;
                # ADMM has converged when its iterates stop moving.
                improved = stats["weight_change"] >= est.tol
                stall = 0 if (improved or in_warmup) else stall + 1
            if "validation_score" in history:
                history["validation_score"].append(score)
                history["validation_loss"].append(loss)
            self._report(solver, len(history["objective"]))
            if est.verbose:
                print(f"Iteration {len(history['objective'])}, "
                      f"objective = {stats['objective']:.6g}, "
                      f"residual = {stats['residual']:.3g}, time = {stats['seconds']:.3f}s"
                      + (f", validation score = {score:.4f}" if validation else ""))
            if stall >= est.n_iter_no_change:
                converged = True
                break
        if best_weights is not None:
            return converged, self._refit_on_all_rows(solver, best_weights)
        return converged, self._refit(solver, solver.weights)

    def _report(self, solver, sweep):
        """Hand the network the fit would return after ``sweep`` sweeps to
        the estimator's ``_sweep_monitor``, if it has one and wants this
        sweep: time-to-accuracy curves score one fit as it goes
        (:func:`admm_sklearn._compare.accuracy_curve`)."""
        monitor = getattr(self.est, "_sweep_monitor", None)
        if monitor is not None and monitor.wants(sweep):
            monitor(sweep, self._network(self._refit(solver, solver.weights)))

    def _network(self, weights):
        """The fitted attributes that predict: ``weights`` (encoded units, on
        shifted inputs) in the user's units, and the targets' attributes."""
        weights = self._on_raw_inputs(weights[:-1] + [self.targets.to_raw(*weights[-1])])
        return {
            **self.targets.attributes(),
            # float64 whatever the state's dtype: the first layer's bias
            # carries the input shift (b_1 - W_1 shift), whose digits float32
            # would lose for inputs with a large offset
            "coefs_": [np.array(W.T, dtype=np.float64) for W, _ in weights],
            "intercepts_": [np.array(b, dtype=np.float64) for _, b in weights],
        }

    def _result(self, solver, weights, history, converged, sizes, fingerprint):
        """The fitted attributes of the network ``weights`` (encoded units)."""
        est, backend = self.est, self.backend
        if not converged:
            warnings.warn(
                f"{type(est).__name__}: maximum iterations ({est.max_iter}) reached before "
                "the weights stopped changing by tol.", ConvergenceWarning, stacklevel=3)
        result = {
            **self._network(weights),
            "n_iter_": len(history["objective"]),
            "beta_": solver.beta,
            "n_layers_": len(sizes),
            "n_outputs_": sizes[-1],
            "out_activation_": "identity",
            "loss_curve_": [o / n for o, n in zip(history["objective"], history["n_samples"])],
            "history_": history,
            "validation_scores_": None if not est.early_stopping else [
                v for v in history["validation_score"] if not np.isnan(v)],
            "best_validation_score_": self.best_score if est.early_stopping else None,
        }
        result["loss_"] = result["loss_curve_"][-1]
        if est.warm_start:
            result.update(_solver=solver, _solver_shards=backend.shards,
                          _train_fingerprint=fingerprint)
        else:
            backend.release()
            result.update(_solver=None, _solver_shards=None, _train_fingerprint=None)
        return result


def _fingerprint(X, y, sample_weight):
    """Cheap identity of the training rows, to decide whether state can resume."""
    if is_dask_collection(X):  # dask names are tokens of the data
        return (X.name, y.name, None if sample_weight is None else sample_weight.name)
    step = max(1, len(X) // 64)
    return (X.shape, float(np.sum(X[::step], dtype=np.float64)), len(y),
            None if sample_weight is None else float(np.sum(sample_weight[::step])))


def _relative_change(previous, weights):
    """``max_l ||W_l - W_l_prev|| / ||W_l||``: how far a sweep moved the weights."""
    return max(float(np.linalg.norm(W - P) / max(np.linalg.norm(W), 1e-300))
               for P, (W, _) in zip(previous, weights))

"""What ADMMClassifier and ADMMRegressor share: parameters, validation, the fit.

An estimator turns its targets into the rows ``Y`` the solver fits (0/1
indicators, or standardised real values) through a *target encoding*
(:class:`_LabelTargets`, :class:`_RealTargets`). Parameters, input
validation and the agreement of MPI ranks are here; the run of the solver
itself (sweeps, subset start, early stopping, warm starts) is in
:mod:`admm_sklearn._fit`.
"""

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._activations import ACTIVATIONS
from ._backends import Backend, make_backend
from ._dask_input import is_dask_collection, validate_dask_input
from ._engine import forward
from ._fit import _Fit
from ._layerwise import fit_layerwise

#: ``start_fraction='auto'``: the first half of the sweeps sees this share of
#: the rows when there are at least AUTO_START_MIN_ROWS of them (so that the
#: subset keeps 25,000 rows or more; docs/what_we_tried.rst, "Large data").
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
        (``docs/what_we_tried.rst``, "Multipliers").
    gamma : float, default=0.3
        Weight of the constraints ``a_l = h(z_l)`` (eq. 4). The paper uses 10.
        With ``multipliers='all'`` the constraints hold exactly at a fixed
        point whatever ``gamma``, and a small one lets the hidden layers move
        further per sweep (``docs/what_we_tried.rst``).
    alpha : float, default=1e-3
        Ridge on the weights: each layer adds ``beta_l * alpha *
        min(n_samples, n_max) * ||W_l||^2`` to the objective (``beta_l``:
        ``beta`` for the output layer, ``beta_hidden`` below it; biases are
        not penalised; ``n_samples`` is the total sample weight). Up to ``n_max`` samples
        it is a per-sample ridge; past them its total stays, like a
        prior's, so that large sets are fitted more closely. ``n_max`` is
        30,000 for ADMMClassifier and 3,000 for ADMMRegressor: a per-sample
        ridge held the regressor's squared loss up to 7.6 points of R^2
        below its fit on real sets of 4,000 to 15,000 rows
        (``docs/what_we_tried.rst``, "Regression"). The first layer's is
        ``max(1, n_features / 16)`` times larger (the prior of a unit whose
        pre-activation variance does not grow with its fan-in), and 100
        times for inputs that are mostly zeros (text, one-hot codes; see
        ``docs/parameters.rst``, "Sparse and wide inputs"). ``0`` gives the
        paper's pseudo-inverse update.
    max_iter : int, default=800
        Maximum number of ADMM sweeps, warm-up included. 800 brought every
        set of our classification suite within 2 points of MLPClassifier
        (adam) (``docs/what_we_tried.rst``, "Number of sweeps, the suite and
        sets held out"). Fewer sweeps
        fit proportionally faster; ``early_stopping=True`` picks the sweep
        on held-out data instead.
    n_warmup_iter : int, default=20
        Sweeps run before the first multiplier update (the paper's "warm
        start", section 6; unrelated to ``warm_start``).
    n_polish_iter : int, default=200
        Passes of the output-layer refit run after the ADMM sweeps: the output
        layer is fitted again to the activations the network itself computes
        (a convex problem), rather than to the training state, whose
        per-sample slack the network cannot reproduce. ``0`` skips it (the
        paper). The log-loss refit is an exact convex solve (Newton's
        method, each pass one Gram-sized reduction) that stops once the
        weights settle; the squared error's is one ridge solve; the hinge's
        runs the closed-form ADMM steps on the output layer alone.
    tol : float or None, default=1e-3
        The stopping rule: every 20 sweeps after the warm-up the network the
        fit would return (output layer refitted) is scored by its training
        loss per unit of sample weight (with ``early_stopping``: every 10,
        on the held-out rows); the fit ends once that loss has not fallen by
        ``tol`` below its lowest value for ``n_iter_no_change`` sweeps and,
        on the training loss, for as many sweeps as the fit took to reach
        that value. ``None``: run all ``max_iter`` sweeps (the paper; with
        ``early_stopping``, the held-out loss need only fall). The objective
        is not used: multiplier steps make it rise as the constraints
        tighten. On real data the regressor's training loss can rise for
        hundreds of sweeps after the warm-up and then fall below its early
        low; the rule ended such fits up to 1.9 points of R^2 short until
        its unit passes (``unit_refit_passes``) followed the sweeps, which
        recover it (``docs/what_we_tried.rst``, "Regression").
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
        "Balanced units"). Only used with ``activation='relu'`` or ``'identity'``;
        ``False`` is the paper.
    start_fraction : float in (0, 1] or 'auto', default='auto'
        Share of the training rows that the first ``max_iter // 2`` sweeps
        see: a random subset, fitted from the usual start; the fit on all
        rows then starts from the network learned on it (a forward pass, a
        new warm-up) for the remaining sweeps. A full-batch sweep learns
        about as much from tens of thousands of rows as from hundreds of
        thousands, at a fraction of the cost: on 300,000 rows an eighth
        gave the same accuracy per sweep in a sixth of the time
        (``docs/what_we_tried.rst``, "Large data"). ``'auto'``: 1/8 from
        200,000 rows on, else 1 (all rows from the start, as the paper).
        Not used when ``warm_start`` continues a fit, nor for dask input.
    input_solve_interval : int >= 1 or 'auto', default='auto'
        Sweeps between two solves of the first layer's weights; the sweeps
        in between keep them and update everything else. On inputs much
        wider than the first hidden layer, most of a sweep's time goes to
        the two products with the inputs that a solve of ``W_1`` needs, and
        holding it every other sweep halves them with no measured loss of
        accuracy there; on narrow inputs it slows the learning
        (``docs/what_we_tried.rst``, "Wide and sparse inputs").
        ``'auto'``: 2 for dense inputs at least 4 times as wide as the first
        hidden layer, else 1 (every sweep, as the paper). In a layer-wise
        fit, an integer applies to every stage's first layer.
    validation_fraction : float, default=0.1
        Share of training data held out when ``early_stopping`` is set.
    n_iter_no_change : int or 'auto', default='auto'
        Sweeps without improvement by ``tol`` tolerated before stopping (the
        patience, in sweeps; ``n_iter_`` and ``history_["network_loss"]``
        show where a fit stopped). ``'auto'``: 150 on the training loss (75
        in the upper stages of a deep fit, which run half the sweeps); 400
        with ``early_stopping``, whose validation score can stall for 200
        sweeps and more and then rise again (200 stopped radial bands in
        such a plateau, ``docs/what_we_tried.rst``, "Early stopping"). Both
        are far longer than the MLP estimators' 10 epochs: the method needs
        hundreds of sweeps, and its training loss can stay put for a hundred
        and then fall again (``docs/what_we_tried.rst``, "The stopping
        rule").
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
        "Speed").
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
        weights restarts it. With ``deep_training='layerwise'`` the fitted
        lower layers are kept and the last hidden layer's stage continues.
    deep_training : {'layerwise', 'joint'}, default='layerwise'
        How a network of two or more hidden layers is fitted (one hidden
        layer: ignored). ``'layerwise'``: one stage per hidden layer, each a
        one-hidden-layer fit (output refit included) on the features of the
        layers fitted before it, which it then keeps fixed (greedy layer-wise
        training); the first stage runs up to ``max_iter`` sweeps, the others
        half as many, and ``n_iter_`` counts the sweeps of every stage.
        ``'joint'``: Algorithm 1 on all layers at once, as the paper.
        Jointly, the training state fitted the labels while the network's
        own forward pass drifted away from it, and two hidden layers learned
        worse than one (letter 0.943 -> 0.906); layer by layer, (100, 100)
        scores 0.963 there, MLPClassifier 0.961 (three seeds;
        ``docs/results.rst``, "Depth")."""

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
        Number of sweeps run (warm-up included); with ``early_stopping``,
        the number chosen, which the returned network ran on all rows.
    n_unit_refit_passes_ : int
        Passes of the first layer's unit refit run after the sweeps (at
        most ``unit_refit_passes``; 0 where they do not apply), summed over
        the stages of a layer-wise fit, plus the classifier's passes over
        every layer after them (``deep_refit_passes``).
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
        unit of sample weight on the held-out rows) when early stopping:
        these two per sweep of the run that chose ``n_iter_`` (NaN between
        checks), the others of the returned network's fit. Sums over rows
        are weighted by ``sample_weight``.
    validation_scores_ : list of float or None
        Validation score at each check when ``early_stopping`` (every 10
        sweeps after the warm-up).
    best_validation_score_ : float or None
        When ``early_stopping``: the validation score at the check of the
        lowest validation loss, the one that chose ``n_iter_`` (of the
        network fitted without the held-out rows)."""


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
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "init": [StrOptions({"forward", "gaussian"})],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "multipliers": [StrOptions({"all", "output", "bregman"})],
        "balance": ["boolean"],
        "start_fraction": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
        "input_solve_interval": [Interval(Integral, 1, None, closed="left"),
                                 StrOptions({"auto"})],
        "n_polish_iter": [Interval(Integral, 0, None, closed="left")],
        "unit_refit_passes": [Interval(Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "backend": [StrOptions({"serial", "joblib", "mpi", "dask"}), Backend],
        "n_jobs": [None, Integral],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "deep_training": [StrOptions({"layerwise", "joint"})],
    }

    #: ``y`` may have several columns (regression); its values are numbers.
    _multi_output = False
    #: How the stages above the first of a layer-wise fit scale the units
    #: they read (``ADMMSolver``'s ``input_scale``): one scale for all keeps
    #: a unit that barely fires small under the ridge, against overfitting
    #: (docs/what_we_tried.rst, "Depth"). The deep passes take those
    #: layers' ridge in the same coordinates (:mod:`._deep_refit`).
    _upper_input_scale = "uniform"
    #: The ridge grows with the total sample weight up to this many samples,
    #: then stays, as a prior's would: ``alpha`` was chosen on sets of up to
    #: 30,000 training rows, and kept per row on 225,000 it cost radial bands
    #: 6.7 points of test accuracy (docs/what_we_tried.rst, "Large data").
    _ridge_max_samples = 30_000

    @abstractmethod
    def __init__(self, *, hidden_layer_sizes, activation, loss, beta, beta_hidden, gamma,
                 alpha, max_iter, n_warmup_iter, n_polish_iter, unit_refit_passes, tol,
                 init, init_scale,
                 multipliers, balance, start_fraction, input_solve_interval, early_stopping,
                 validation_fraction,
                 n_iter_no_change, backend, n_jobs, dtype, random_state, verbose, warm_start,
                 deep_training):
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
        self.unit_refit_passes = unit_refit_passes
        self.tol = tol
        self.init = init
        self.init_scale = init_scale
        self.multipliers = multipliers
        self.balance = balance
        self.start_fraction = start_fraction
        self.input_solve_interval = input_solve_interval
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.deep_training = deep_training

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. A sparse matrix (any scipy.sparse format, taken
            as CSR) is never densified: the first layer's products and the
            input Gram are formed from its stored entries.
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
        try:
            if len(hidden) > 1 and self.deep_training == "layerwise":
                result = fit_layerwise(self, X, y, sample_weight, hidden, dtype, backend,
                                       targets)
            else:
                result = _Fit(self, hidden, dtype, backend, targets).run(X, y, sample_weight)
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
            # sparse X stays sparse (CSR: the shards take blocks of rows)
            X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32],
                                 accept_sparse="csr", ensure_min_features=1,
                                 multi_output=self._multi_output, y_numeric=self._multi_output)
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                     ensure_non_negative=True,
                                                     allow_all_zero_weights=True)
            info = (X.shape[1], self._target_info(y, sample_weight),
                    X.shape[0] if sample_weight is None else float(np.sum(sample_weight)))
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
        X = validate_data(self, X, reset=False, dtype=np.float64, accept_sparse="csr")
        return forward(X, [c.astype(np.float64) for c in self.coefs_],
                       [b.astype(np.float64) for b in self.intercepts_], self.activation)

    def __getstate__(self):
        # The per-sample ADMM state kept for warm_start is as large as the
        # training data: never pickle it. A copy: from Python 3.11 on,
        # BaseEstimator returns the instance's own __dict__ here, and popping
        # from it would drop the live estimator's state too.
        state = dict(super().__getstate__())
        for key in ("_solver", "_solver_shards", "_train_fingerprint"):
            state.pop(key, None)
        return state

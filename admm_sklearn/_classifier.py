"""ADMMClassifier: the scikit-learn face of the ADMM solver."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._activations import ACTIVATIONS
from ._backends import Backend, make_backend
from ._engine import ADMMSolver, forward
from ._losses import LOSSES, probabilities

#: Sweeps between two validation scores when ``early_stopping``: each
#: score runs the output refit, so scoring every sweep would cost more than
#: the sweeps themselves.
VALIDATION_EVERY = 10

#: Algorithm 1 exactly as published (sections 3-6): Gaussian a/z start,
#: pseudo-inverse weight update, beta=1, gamma=10, warm-up without multiplier
#: updates, then the Bregman multiplier on the loss term only.
#: ``ADMMClassifier(**PAPER_SETTINGS)`` reproduces the paper.
PAPER_SETTINGS = {"init": "gaussian", "loss": "hinge", "alpha": 0.0, "beta": 1.0,
                  "beta_hidden": 1.0, "gamma": 10.0, "n_warmup_iter": 10, "max_iter": 100,
                  "multipliers": "bregman", "n_polish_iter": 0}

_DTYPES = {"float32": np.float32, "float64": np.float64, np.float32: np.float32,
           np.float64: np.float64}


def _has_probabilities(est):
    """``predict_proba`` exists with the log-loss only; say what to do otherwise."""
    if est.loss != "log_loss":
        raise AttributeError(
            f"predict_proba needs loss='log_loss' (this estimator has loss={est.loss!r}, "
            "whose outputs are margins): refit with loss='log_loss', or wrap it in "
            "sklearn.calibration.CalibratedClassifierCV.")
    return True


class ADMMClassifier(ClassifierMixin, BaseEstimator):
    """Feed-forward network classifier trained by ADMM, without gradients.

    Implements Algorithm 1 of Taylor et al., "Training Neural Networks
    Without Gradients: A Scalable ADMM Approach" (ICML 2016): every weight,
    activation and pre-activation update is solved exactly in closed form
    (least squares, a linear solve, entrywise global minimisers) and a
    Bregman multiplier enforces the output constraint. The data can be
    sharded over threads (``backend='joblib'``) or MPI ranks
    (``backend='mpi'``); only small Gram matrices are communicated.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer, as in
        :class:`~sklearn.neural_network.MLPClassifier`.
    activation : {'relu', 'hard_sigmoid', 'identity'}, default='relu'
        Hidden non-linearity. Piecewise linear, so that the output update
        (eq. 7 of the paper) has a closed-form global solution.
    loss : {'log_loss', 'hinge'}, default='log_loss'
        Output loss, one output unit per class, one unit for binary
        problems. ``'log_loss'``: logistic (binary) or multinomial
        cross-entropy, as in MLPClassifier; its prox (the output update) is
        solved by safeguarded Newton steps, the final output refit solves the
        convex log-loss problem on the network's features directly, and
        ``predict_proba`` is available. ``'hinge'``: the separable 0/1 hinge
        of the paper's section 6 (one-vs-rest). On letter recognition (26
        classes) the log-loss gained 11 points of test accuracy over the
        hinge (``docs/what_we_tried.rst``, section 9).
    beta : float, default=0.1
        Weight of the output constraint ``z_L = W_L a_{L-1}`` (eq. 4). With
        the log-loss a small one lets the outputs, and through them the
        hidden layers, move further per sweep (1 -> 0.1: +3.4 points on
        letter recognition at 200 sweeps).
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
        ||W_l||^2`` to the objective (biases are not penalised). ``0`` gives
        the paper's pseudo-inverse update.
    max_iter : int, default=800
        Maximum number of ADMM sweeps, warm-up included. 800 brought every
        set of our suite within 2 points of MLPClassifier (adam); 400 left
        moons 2.3 points short, while Gaussian quantiles loses a little with
        more sweeps (``docs/what_we_tried.rst``, sections 7 and 8). Fewer
        sweeps fit proportionally faster.
        ``early_stopping=True`` picks the sweep on held-out data instead.
    n_warmup_iter : int, default=20
        Sweeps run before the first multiplier update (the paper's "warm
        start", section 6; unrelated to ``warm_start``).
    tol : float, default=1e-4
        Convergence tolerance: training stops when, after the warm-up, a sweep
        has changed no weight matrix by ``tol`` or more (relative Frobenius
        norm; with ``early_stopping``: the validation accuracy has not improved
        by ``tol``) for ``n_iter_no_change`` consecutive sweeps. The objective
        is not used: multiplier steps make it rise as the constraint tightens.
    n_polish_iter : int, default=100
        Sweeps of the output-layer refit run after the ADMM sweeps: the output
        layer is fitted again, by the same closed-form steps, to the
        activations the network itself computes (a convex problem), rather
        than to the training state, whose per-sample slack the network cannot
        reproduce. ``0`` skips it (the paper). With ``loss='log_loss'`` the
        refit is the exact convex solve, run for at most this many passes over
        the data (it stops once the weights settle).
    init : {'forward', 'gaussian'}, default='forward'
        ``'gaussian'`` is the paper's start (i.i.d. N(0, 1) activations and
        outputs); ``'forward'`` runs a forward pass through He-scaled random
        weights, so the state starts consistent with a network.
    init_scale : float, default=1.0
        With ``init='forward'``: the input layer's random start weights are
        He-scaled Gaussians times ``init_scale`` (on standardised inputs).
        0.3 suited the low-dimensional sets of the suite with the hinge loss
        (``docs/what_we_tried.rst``, section 7); the He scale itself did
        better on every harder set (section 9).
    multipliers : {'all', 'output', 'bregman'}, default='all'
        Which constraints carry Lagrange multipliers after the warm-up.
        ``'bregman'`` is the paper (eqs. 5, 8): ``<z_L, lambda>`` on the loss
        term only. Its fixed points are every state where the constraints
        hold, whatever the weights, so the hidden layer stops learning once
        the output residual closes. ``'output'`` makes the same multiplier an
        augmented Lagrangian of ``z_L = W_L a_{L-1}``, so it also steers W_L
        and a_{L-1}. ``'all'`` adds scaled multipliers on every hidden
        constraint (two more arrays of the hidden layers' size): a fixed point
        then satisfies the network exactly, and the per-sample slack that lets
        the training state fit labels the network cannot is priced out.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified)
        and score on it, every 10 sweeps after the warm-up, the network the
        fit would return there (output refit included); stop once the best
        score is ``n_iter_no_change`` sweeps old and return the best network.
    validation_fraction : float, default=0.1
        Share of training data held out when ``early_stopping`` is set.
    n_iter_no_change : int, default=200
        Sweeps without improvement tolerated before stopping (the patience,
        in sweeps: the method needs hundreds, and its validation accuracy
        can stall for a hundred sweeps and then rise again, as on moons, so
        it is far longer than MLPClassifier's 10 epochs).
    backend : {'serial', 'joblib', 'mpi'} or Backend, default='serial'
        Where the data shards live; see :mod:`admm_sklearn.backends`.
    n_jobs : int, default=None
        Shards (threads) of the ``'joblib'`` backend; ``None`` means 1 unless
        in a :func:`joblib.parallel_config` context, ``-1`` all cores.
    dtype : {'float64', 'float32'}, default='float64'
        Floating type of the per-sample state and of the fitted weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the validation split.
    verbose : int, default=0
        Print one line per sweep when positive.
    warm_start : bool, default=False
        Continue from the previous fit: with the same training data the full
        ADMM state is kept, so ``max_iter=10`` twice equals ``max_iter=20``
        once; otherwise a forward pass through the fitted weights restarts it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` has string column names.
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape (fan_in, fan_out), as in MLPClassifier.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` has shape (fan_out,).
    n_iter_ : int
        Number of sweeps run (warm-up included).
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        ``'identity'``: the decision function is the linear output layer.
    loss_ : float
        Objective per sample at the last sweep.
    loss_curve_ : list of float
        Objective (eq. 4 plus ridge) per sample, one entry per sweep.
    history_ : dict of lists
        Per sweep: ``objective``, ``loss`` (hinge of z_L), ``forward_loss``
        (hinge of ``W_L a_{L-1}``), ``residual`` (``||z_L - W_L a_{L-1}||``),
        ``multiplier_term``, ``weight_change`` (the quantity compared with
        ``tol``), ``seconds``, and ``validation_score`` when early stopping.
    validation_scores_ : list of float or None
        Validation accuracy at each check when ``early_stopping`` (every 10
        sweeps after the warm-up; ``history_['validation_score']`` has them
        per sweep, NaN between checks).
    best_validation_score_ : float or None
        Best validation accuracy when ``early_stopping``.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The same network, trained by
        gradients.

    Notes
    -----
    The paper's method exactly as published is
    ``ADMMClassifier(**admm_sklearn.PAPER_SETTINGS)``: Gaussian start,
    hinge loss, ``alpha=0``, ``beta=1``, ``gamma=10``, 10 warm-up sweeps,
    Bregman multiplier. The defaults differ where measurements showed they
    learn better (log-loss with an exact output refit, forward-pass start,
    small ridge, multipliers on every constraint, ``beta=0.1``,
    ``gamma=0.3``, 20 warm-up sweeps, up to 800 sweeps).

    With the hinge loss there is no ``predict_proba`` (it yields margins,
    not probabilities; wrap the estimator in
    :class:`~sklearn.calibration.CalibratedClassifierCV`, or use
    ``loss='log_loss'``). For binary problems ``decision_function`` is the
    output unit minus its threshold (0.5 for the 0/1 hinge, 0 for log-loss
    logits), so positive values mean ``classes_[1]``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from admm_sklearn import ADMMClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), ADMMClassifier(random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "loss": [StrOptions(set(LOSSES))],
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
        "n_polish_iter": [Interval(Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "backend": [StrOptions({"serial", "joblib", "mpi"}), Backend],
        "n_jobs": [None, Integral],
        "dtype": [StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="log_loss",
                 beta=0.1, beta_hidden=0.1, gamma=0.3, alpha=1e-3, max_iter=800,
                 n_warmup_iter=20, n_polish_iter=100, tol=1e-4, init="forward", init_scale=1.0,
                 multipliers="all", early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=200, backend="serial",
                 n_jobs=None, dtype="float64", random_state=None, verbose=0,
                 warm_start=False):
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _hidden_sizes(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes <= 0):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the network to data (X, y) by ADMM sweeps.

        Under ``backend='mpi'`` every rank calls ``fit`` with its own rows;
        all ranks end with the same model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (dense).
        y : array-like of shape (n_samples,)
            Target labels.

        Returns
        -------
        self : ADMMClassifier
            Fitted estimator.
        """
        hidden = self._hidden_sizes()
        dtype = _DTYPES[self.dtype]
        backend = make_backend(self.backend, self.n_jobs)
        reset = not (self.warm_start and hasattr(self, "coefs_"))
        X, y, classes = self._validate_and_agree(X, y, backend, reset, dtype)
        fitted = _Fit(self, hidden, dtype, backend, classes)
        try:
            result = fitted.run(X, y)
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

    def _validate_and_agree(self, X, y, backend, reset, dtype):
        """Validate locally, then agree across processes before any collective."""
        error, info = None, None
        try:
            X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32],
                                 ensure_min_features=1)
            check_classification_targets(y)
            info = (X.shape[1], np.unique(y).tolist())
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
        n_features = {inf[0] for _, inf in gathered}
        if len(n_features) > 1:
            raise ValueError(
                f"Ranks disagree on the number of features: {sorted(n_features)}.")
        classes = np.unique(np.concatenate(
            [np.asarray(inf[1], dtype=object if y.dtype == object else y.dtype)
             for _, inf in gathered]))
        if classes.size < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {classes.size} class.")
        if not reset and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True needs the classes of the previous fit {self.classes_}, "
                f"got {classes}.")
        return X, y, classes

    # ------------------------------------------------------------------
    def decision_function(self, X):
        """Margins of the output layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Output units minus their decision threshold (0.5 for the hinge,
            0 for log-loss logits); for binary problems one column, positive
            for ``classes_[1]``.
        """
        out = self._outputs(X) - LOSSES[self.loss][2]
        return out[:, 0] if out.shape[1] == 1 else out

    @available_if(_has_probabilities)
    def predict_proba(self, X):
        """Class probabilities (``loss='log_loss'`` only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Sigmoid (binary) or softmax of the output layer, columns in the
            order of ``classes_``.
        """
        proba = probabilities(self._outputs(X).astype(np.float64))
        return np.hstack([1.0 - proba, proba]) if proba.shape[1] == 1 else proba

    @available_if(_has_probabilities)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``loss='log_loss'`` only)."""
        return np.log(self.predict_proba(X))

    def _outputs(self, X):
        """The network's output layer on validated ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return forward(X.astype(self.coefs_[0].dtype, copy=False), self.coefs_,
                       self.intercepts_, self.activation)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        outputs = self._outputs(X)  # checks that the estimator is fitted first
        return _labels(self.classes_, outputs, LOSSES[self.loss][2])

    def __getstate__(self):
        # The per-sample ADMM state kept for warm_start is as large as the
        # training data: never pickle it.
        state = super().__getstate__()
        for key in ("_solver", "_solver_shards", "_train_fingerprint"):
            state.pop(key, None)
        return state


class _Fit:
    """One run of the solver for an estimator: data -> fitted attributes."""

    def __init__(self, est, hidden, dtype, backend, classes):
        self.est, self.hidden, self.dtype = est, hidden, dtype
        self.backend, self.classes = backend, classes

    def _targets(self, y):
        lb = LabelBinarizer().fit(self.classes)
        return lb.transform(y).astype(self.dtype)

    def _score(self, weights, X, y):
        """Accuracy on (X, y) summed over all processes."""
        coefs = [W.T for W, _ in weights]
        pred = _labels(self.classes, forward(X, coefs, [b for _, b in weights],
                                             self.est.activation), LOSSES[self.est.loss][2])
        correct, total = self.backend.allreduce([np.array([np.sum(pred == y), len(y)], float)])[0]
        return correct / max(total, 1.0)

    def _refit(self, solver, weights):
        """``weights`` with the output layer refitted on their own features."""
        return weights[:-1] + [solver.polish_output(self.backend, weights,
                                                    self.est.n_polish_iter)]

    def run(self, X, y):
        est, backend = self.est, self.backend
        rng = check_random_state(est.random_state)
        # Every process must draw the same seed (MPI ranks too).
        seed = backend.allgather(int(rng.randint(np.iinfo(np.int32).max)))[0]
        X_val = y_val = None
        if est.early_stopping:
            X, X_val, y, y_val = train_test_split(
                X, y, test_size=est.validation_fraction, random_state=seed, stratify=y)
        Y = self._targets(y)
        sizes = (X.shape[1],) + self.hidden + (Y.shape[1],)

        solver = getattr(est, "_solver", None) if est.warm_start else None
        resume = (solver is not None and solver.layer_sizes == sizes
                  and getattr(est, "_train_fingerprint", None) == _fingerprint(X, y))
        if not resume:
            solver = ADMMSolver(sizes, est.activation, est.beta, est.gamma, est.alpha,
                                self.dtype, est.multipliers, est.beta_hidden, est.loss)
        history = {k: [] for k in ("objective", "loss", "forward_loss", "residual",
                                   "multiplier_term", "weight_change", "seconds")}
        if est.early_stopping:
            history["validation_score"] = []
        prev = est.history_ if resume else None
        if prev is not None:
            history = {k: list(v) for k, v in prev.items()}

        best_score, best_weights, best_sweep, stall, converged = -np.inf, None, 0, 0, False
        last_output = None
        if resume:
            backend.shards = est._solver_shards
        else:
            backend.scatter(X, Y, self.dtype)
        with backend.running():
            if not resume:
                warm = est.warm_start and hasattr(est, "coefs_")
                weights = [(W.T, b) for W, b in zip(est.coefs_, est.intercepts_)] \
                    if warm and [c.shape[1] for c in est.coefs_[:-1]] == list(self.hidden) \
                    else None
                solver.initialize(backend, "forward" if weights else est.init, seed, weights,
                                  est.init_scale)
            for _ in range(est.max_iter):
                previous = [W for W, _ in solver.weights]
                stats = solver.step(backend, solver.n_iter >= est.n_warmup_iter)
                solver.check_finite(stats)
                stats["weight_change"] = _relative_change(previous, solver.weights)
                for k in history:
                    if k != "validation_score":
                        history[k].append(float(stats[k]))
                in_warmup = solver.n_iter <= est.n_warmup_iter
                if est.early_stopping:
                    # Only after the warm-up, every VALIDATION_EVERY sweeps and
                    # at the last one: the network the user would get (output
                    # refit included) scored on the held-out rows.
                    score = np.nan
                    if not in_warmup and (solver.n_iter % VALIDATION_EVERY == 0
                                          or solver.n_iter == est.max_iter):
                        # warm-started from the last check's refit output
                        # layer, near the optimum for slowly moving features
                        refit = self._refit(solver, solver.weights[:-1] + [
                            solver.weights[-1] if last_output is None else last_output])
                        last_output = refit[-1]
                        score = self._score(refit, X_val, y_val)
                        if score > best_score + est.tol or best_weights is None:
                            best_sweep = solver.n_iter
                        if score > best_score:
                            best_score, best_weights = score, refit
                    history["validation_score"].append(score)
                    stall = 0 if best_weights is None else solver.n_iter - best_sweep
                else:
                    # With multiplier steps the objective need not decrease;
                    # ADMM has converged when its iterates stop moving.
                    improved = stats["weight_change"] >= est.tol
                    stall = 0 if (improved or in_warmup) else stall + 1
                if est.verbose:
                    print(f"Iteration {solver.n_iter}, objective = {stats['objective']:.6g}, "
                          f"residual = {stats['residual']:.3g}, time = {stats['seconds']:.3f}s"
                          + (f", validation score = {score:.4f}" if est.early_stopping else ""))
                if stall >= est.n_iter_no_change:
                    converged = True
                    break
            if est.early_stopping and best_weights is not None:
                weights = best_weights
            else:
                weights = self._refit(solver, solver.weights)
        if not converged:
            warnings.warn(
                f"ADMMClassifier: maximum iterations ({est.max_iter}) reached before the "
                "weights stopped changing by tol.", ConvergenceWarning, stacklevel=3)
        total_n = solver.n_samples
        result = {
            "classes_": self.classes,
            "coefs_": [W.T.astype(self.dtype) for W, _ in weights],
            "intercepts_": [b.astype(self.dtype) for _, b in weights],
            "n_iter_": solver.n_iter,
            "n_layers_": len(sizes),
            "n_outputs_": sizes[-1],
            "out_activation_": "identity",
            "loss_curve_": [o / total_n for o in history["objective"]],
            "history_": history,
            "validation_scores_": None if not est.early_stopping else [
                v for v in history["validation_score"] if not np.isnan(v)],
            "best_validation_score_": best_score if est.early_stopping else None,
        }
        result["loss_"] = result["loss_curve_"][-1]
        if est.warm_start:
            result.update(_solver=solver, _solver_shards=backend.shards,
                          _train_fingerprint=_fingerprint(X, y))
        else:
            backend.release()
            result.update(_solver=None, _solver_shards=None, _train_fingerprint=None)
        return result


def _labels(classes, outputs, threshold):
    """Labels from output units: ``threshold`` (one unit) or the largest unit."""
    if outputs.shape[1] == 1:
        return classes[(outputs[:, 0] > threshold).astype(int)]
    return classes[np.argmax(outputs, axis=1)]


def _fingerprint(X, y):
    """Cheap identity of the training rows, to decide whether state can resume."""
    return (X.shape, float(np.sum(X[:: max(1, len(X) // 64)], dtype=np.float64)),
            len(y))


def _relative_change(previous, weights):
    """``max_l ||W_l - W_l_prev|| / ||W_l||``: how far a sweep moved the weights."""
    return max(float(np.linalg.norm(W - P) / max(np.linalg.norm(W), 1e-300))
               for P, (W, _) in zip(previous, weights))

"""ADMMClassifier: the scikit-learn classifier on the ADMM solver."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ._estimator import BaseADMM, document
from ._losses import CLASSIFICATION_LOSSES, LOSSES, label_codes, probabilities

#: ``beta='auto'``: the class probability one output update may reach.
AUTO_BETA_CONFIDENCE = 0.7

#: Algorithm 1 exactly as published (sections 3-6): Gaussian a/z start,
#: pseudo-inverse weight update, beta=1, gamma=10, warm-up without multiplier
#: updates, then the Bregman multiplier on the loss term only.
#: ``ADMMClassifier(**PAPER_SETTINGS)`` reproduces the paper. In float64:
#: its pseudo-inverse weight update (``alpha=0``) on float32 Grams lost up to
#: 52 points (wine 0.956 -> 0.341, three seeds).
PAPER_SETTINGS = {"init": "gaussian", "loss": "hinge", "alpha": 0.0, "beta": 1.0,
                  "beta_hidden": 1.0, "gamma": 10.0, "n_warmup_iter": 10, "max_iter": 100,
                  "multipliers": "bregman", "balance": False, "start_fraction": 1.0,
                  "input_solve_interval": 1,
                  "n_polish_iter": 0, "dtype": "float64", "deep_training": "joint",
                  "tol": None, "unit_refit_passes": 0}


def _has_probabilities(est):
    """``predict_proba`` exists with the log-loss only; say what to do otherwise."""
    if est.loss != "log_loss":
        raise AttributeError(
            f"predict_proba needs loss='log_loss' (this estimator has loss={est.loss!r}, "
            "whose outputs are margins): refit with loss='log_loss', or wrap it in "
            "sklearn.calibration.CalibratedClassifierCV.")
    return True


@document
class ADMMClassifier(ClassifierMixin, BaseADMM):
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
        hinge (``docs/what_we_tried.rst``, "Output layer and loss").
    beta : float or 'auto', default='auto'
        Weight of the output constraint ``z_L = W_L a_{L-1}`` (eq. 4). With
        the log-loss a small one lets the outputs, and through them the
        hidden layers, move further per sweep (1 -> 0.1: +3.4 points on
        letter recognition at 200 sweeps), a large one keeps the outputs'
        per-sample slack from fitting the labels in the network's place.
        ``'auto'``: with the log-loss, ``1 / (2 g)``, ``g = log(7 (K - 1) /
        3)`` the logit margin at which a K-class softmax (K = 2: the
        logistic) gives its class probability 0.7: the prox moves an output
        at most ``1 / (2 beta)`` from the network's, so this is the weight
        at which one update can just make a sample confidently right (0.59
        for two classes, 0.32 for three, 0.16 for ten, 0.12 for 26;
        ``docs/what_we_tried.rst``, "Penalty weights and the ridge"); 0.1 with the hinge.
        The value used is ``beta_``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified)
        and evaluate on it, every 10 sweeps after the warm-up, the network
        the fit would return there (output refit included): its ``loss``
        (weighted by ``sample_weight``) chooses, its accuracy is recorded
        in ``validation_scores_``. Stop once the lowest validation loss is
        ``n_iter_no_change`` sweeps old. That sweep count is the one
        chosen: the network returned is a fit of that many sweeps on all
        the training rows, the held-out ones included, run in full (the
        same network as ``early_stopping=False, tol=None,
        max_iter=n_iter_``), so early stopping costs up to one more fit.
    unit_refit_passes : int, default=100
        After the sweeps and the output refit, the most passes of a block
        coordinate descent on the network itself, as ``ADMMRegressor``'s:
        each pass solves every first-layer unit in turn in closed form on
        a quadratic bound of the penalised log-loss (Boehning's: curvature
        1/2, 1/4 for two classes; the output layer and the other units
        fixed; a step is taken where it lowers the bound), then improves
        the output layer by three majorise-minimise steps. The passes fit
        all training rows but a tenth, chosen by a hash of each row's
        values; the network returned is the pass (or the sweeps' network)
        with the lowest loss on that tenth, and the passes stop once ten
        of them brought no new lowest, once three in a row raised it
        while none has beaten the sweeps' network, once five together
        lowered the objective by under 0.5%, or after
        ``unit_refit_passes``. Their
        ridge is a tenth of ``alpha`` per sample. Three seeds, one hidden
        layer, test accuracy without -> with them: two-arm spirals 0.888
        -> 0.972, radial bands 0.860 -> 0.903, a 2-D checkerboard in 10
        inputs 0.732 -> 0.842, parity 0.899 -> 0.914; the rest of the suite
        within 0.3 points, at up to 2.3 times the fit's time
        (``docs/what_we_tried.rst``, "Depth"). Only with the log-loss, for
        one hidden ReLU layer (or a layer-wise fit's first) on at most 64
        inputs, not mostly zeros, and at least ``n_hidden * (n_features +
        1)`` samples; ``0`` turns them off.
    {shared_parameters}
    deep_refit_passes : int, default=0
        With two hidden layers or more (``deep_training='layerwise'``),
        the most passes of a block coordinate descent over the units of
        *every* hidden layer after the stages, bottom up: each unit solves
        the bound of ``unit_refit_passes`` in closed form with the layers
        above it held in their activity on each row, and a step is taken
        only where, pushed through the real layers above, it lowers the
        bound; the objective (the log-loss plus ``alpha`` per sample times
        the squared weights) never rises. The network returned is that of
        the pass with the most training rows classified right, the stages'
        own unless a pass beats it (the ridge alone can lower the
        objective), so none runs where the stages misclassify under 1% of
        the training weight; they stop after five without a new best, once
        five together lowered the objective by under 0.5%, or after this
        many. The upper layers' ridge is taken on their inputs as their
        stage scaled them. Three seeds, (100, 100), test accuracy without
        -> with 5: a 2-D checkerboard in 10 inputs 0.949 -> 0.969
        (MLPClassifier 0.963), radial bands 0.942 -> 0.949, parity of 3
        of 10 inputs 0.912 -> 0.925, satimage 0.906 -> 0.912; spirals and
        letter unchanged, moons 0.1 point lower; at up to 1.5 times the
        fit's time (20 passes: up to 2.6; ``docs/what_we_tried.rst``,
        "Depth", 12.24). Dense inputs of at most 64 columns; ``0`` (the
        default) turns them off.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    {shared_attributes}

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The same network, trained by
        gradients.
    ADMMRegressor : The same solver for regression.

    Notes
    -----
    The paper's method exactly as published is
    ``ADMMClassifier(**admm_sklearn.PAPER_SETTINGS)``: Gaussian start,
    hinge loss, ``alpha=0``, ``beta=1``, ``gamma=10``, 10 warm-up sweeps,
    Bregman multiplier. The defaults differ where measurements showed they
    learn better (log-loss with an exact output refit, forward-pass start,
    small ridge, multipliers on every constraint, ``beta`` from the number
    of classes, ``gamma=0.3``, 20 warm-up sweeps, up to 800 sweeps, one
    thread per core).

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

    _parameter_constraints = {**BaseADMM._parameter_constraints,
                              "loss": [StrOptions(set(CLASSIFICATION_LOSSES))],
                              "beta": [Interval(Real, 0, None, closed="neither"),
                                       StrOptions({"auto"})],
                              "deep_refit_passes": [Interval(Integral, 0, None, closed="left")]}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="log_loss",
                 beta="auto", beta_hidden=0.1, gamma=0.3, alpha=1e-3, max_iter=800,
                 n_warmup_iter=20, n_polish_iter=200, unit_refit_passes=100, tol=1e-3,
                 init="forward", init_scale=1.0, multipliers="all", balance=True,
                 start_fraction="auto",
                 input_solve_interval="auto", early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change="auto",
                 backend="joblib", n_jobs=-1, dtype="float32", random_state=None, verbose=0,
                 warm_start=False, deep_training="layerwise", deep_refit_passes=0):
        # every argument but the classifier's own, by name, to the shared
        # base (which stores them)
        params = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.deep_refit_passes = params.pop("deep_refit_passes")
        super().__init__(**params)

    def _resolved_beta(self, n_outputs):
        if self.beta != "auto":
            return float(self.beta)
        if self.loss != "log_loss":
            return 0.1
        n_classes = max(2, n_outputs)  # one logistic unit: two classes
        return 0.5 / np.log(AUTO_BETA_CONFIDENCE / (1.0 - AUTO_BETA_CONFIDENCE)
                            * (n_classes - 1))

    def _target_info(self, y, sample_weight):
        check_classification_targets(y)
        return np.unique(y).tolist()

    def _make_targets(self, infos, y, reset):
        classes = np.unique(np.concatenate(
            [np.asarray(info, dtype=object if y.dtype == object else y.dtype)
             for info in infos]))
        if classes.size < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {classes.size} class.")
        if not reset and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True needs the classes of the previous fit {self.classes_}, "
                f"got {classes}.")
        return _LabelTargets(classes, LOSSES[self.loss].threshold)

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
        out = self._outputs(X) - LOSSES[self.loss].threshold
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
        return self.classes_[label_codes(outputs, LOSSES[self.loss].threshold)]


class _LabelTargets:
    """Class labels as 0/1 indicator rows (one column for two classes)."""

    stratify = True

    def __init__(self, classes, threshold):
        self.classes, self.threshold = classes, threshold
        self._binarizer = LabelBinarizer().fit(classes)
        self.n_outputs = 1 if len(classes) == 2 else len(classes)

    def transform(self, y):
        return self._binarizer.transform(y).astype(np.float64)

    def to_raw(self, W, b):
        return W, b

    from_raw = to_raw

    def score_sums(self, outputs, Y, w):
        """``[weight of the correctly predicted rows, total weight]``."""
        truth = label_codes(Y, 0.5)
        correct = label_codes(outputs, self.threshold) == truth
        w = np.ones(len(Y)) if w is None else w
        return np.array([w @ correct, w.sum()], dtype=np.float64)

    @staticmethod
    def score(sums):
        """Accuracy."""
        return sums[0] / max(sums[1], 1e-300)

    def attributes(self):
        return {"classes_": self.classes}


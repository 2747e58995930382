"""ADMMRegressor: the scikit-learn regressor on the ADMM solver."""

from numbers import Integral

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ._estimator import BaseADMM, document
from ._losses import REGRESSION_LOSSES


@document
class ADMMRegressor(RegressorMixin, BaseADMM):
    """Feed-forward network regressor trained by ADMM, without gradients.

    The solver of :class:`ADMMClassifier` (Algorithm 1 of Taylor et al.,
    ICML 2016) with the squared error at the output, where the paper's
    method is most natural: the output update (eq. 5) is then a closed-form
    average, like every other step, and the final output refit is one ridge
    solve on the network's features. Targets are standardised internally
    (mean and standard deviation weighted by ``sample_weight``) so that the
    penalty weights mean the same whatever their units; ``coefs_`` and
    ``intercepts_`` map back to the original units.

    Parameters
    ----------
    loss : {'squared_error'}, default='squared_error'
        Output loss, ``||z - y||^2 / 2`` per sample, as in MLPRegressor
        (first, as there, so that positional arguments mean the same).
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer, as in
        :class:`~sklearn.neural_network.MLPRegressor`.
    activation : {'relu', 'hard_sigmoid', 'identity'}, default='relu'
        Hidden non-linearity. Piecewise linear, so that the output update
        (eq. 7 of the paper) has a closed-form global solution.
    beta : float, default=1.0
        Weight of the output constraint ``z_L = W_L a_{L-1}`` (eq. 4),
        relative to the loss on standardised targets. With ``balance=True``
        (the default), mean test R^2 over two seeds for ``beta`` 1 / 3:
        Friedman #1 0.953 / 0.942, diabetes 0.39 / 0.38 (unbalanced, the
        earlier default 10: 0.953 and 0.12). Balanced units with ``beta=10``
        lost up to 13 points (``docs/what_we_tried.rst``, "Regression"
        and "Balanced units").
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and evaluate
        on it, every 10 sweeps after the warm-up, the network the fit would
        return there (output refit included): its squared error (weighted
        by ``sample_weight``) chooses, its R^2 is recorded in
        ``validation_scores_``. Stop once the lowest validation loss is
        ``n_iter_no_change`` sweeps old. That sweep count is the one
        chosen: the network returned is a fit of that many sweeps on all
        the training rows, the held-out ones included, run in full (the
        same network as ``early_stopping=False, tol=None,
        max_iter=n_iter_``), so early stopping costs up to one more fit.
    unit_refit_passes : int, default=100
        After the sweeps (and the output refit), the most passes of a block
        coordinate descent on the network itself: each pass solves every
        first-layer unit in turn in closed form on the penalised squared
        error (the output layer and the other units fixed, its step's true
        effect measured), then the output layer exactly; the passes stop
        once five of them together lowered that objective by under 0.5%.
        The sweeps' training state fits the targets through per-sample
        slack that the network's forward pass cannot reproduce; these
        passes fit the forward pass itself. Three seeds, test R^2 against
        MLPRegressor (adam) on a standardised target: bike sharing 0.75 ->
        0.87 (MLP 0.88), protein 0.42 -> 0.49 (0.47)
        (``docs/what_we_tried.rst``, "Regression"). Only for one hidden
        ReLU layer (or a layer-wise fit's first) on at most 64 inputs, not
        mostly zeros (text and one-hot codes are not), and at least
        ``n_hidden * (n_features + 1)`` samples; ``0``: none (the paper).
    {shared_parameters}
    deep_refit_passes : int, default=0
        With two hidden layers or more (``deep_training='layerwise'``),
        the most passes of a block coordinate descent over the units of
        *every* hidden layer after the stages, bottom up, as
        ``unit_refit_passes`` does on one layer: each unit solves the
        penalised squared error in closed form with the layers above it
        held in their activity on each row, and a step is taken only where,
        pushed through the real layers above, it lowers the objective (the
        squared error plus ``alpha`` per sample, up to 3,000, times the
        squared weights), which never rises. They stop once five together
        lowered it by under 0.5%, or after this many; the network returned
        is the last pass's. Only on dense inputs of at most 64 columns.

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The same network, trained by
        gradients.
    ADMMClassifier : The same solver for classification.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from admm_sklearn import ADMMRegressor
    >>> X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
    >>> reg = make_pipeline(StandardScaler(), ADMMRegressor(max_iter=200, random_state=0))
    >>> reg.fit(X[:800], y[:800]).score(X[800:], y[800:]) > 0.8
    True
    """

    _parameter_constraints = {**BaseADMM._parameter_constraints,
                              "loss": [StrOptions(set(REGRESSION_LOSSES))],
                              "deep_refit_passes": [Interval(Integral, 0, None, closed="left")]}
    _multi_output = True
    # The regressor underfits where the classifier overfits: one scale for
    # all the units an upper stage reads cost (100, 100) 6.4 points of R^2
    # on bike sharing and 4.9 on protein (docs/what_we_tried.rst, "Depth").
    _upper_input_scale = "per_feature"
    # A squared loss on many rows is held back by a per-row ridge, not
    # fitted too closely: from MLPRegressor's network (bike sharing, R^2
    # 0.874) the sweeps under 30,000 samples' ridge fell to 0.685, where a
    # fit from scratch ends; a prior's total from 3,000 samples on gained
    # up to 7.6 points of R^2 on six real sets, lost none, and leaves small
    # sets (diabetes, concrete) as they were (docs/what_we_tried.rst,
    # "Regression").
    _ridge_max_samples = 3_000

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 beta=1.0, beta_hidden=0.1, gamma=0.3, alpha=1e-3, max_iter=800,
                 n_warmup_iter=20, n_polish_iter=200, unit_refit_passes=100, tol=1e-3,
                 init="forward", init_scale=1.0,
                 multipliers="all", balance=True, start_fraction="auto",
                 input_solve_interval="auto", early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change="auto",
                 backend="joblib", n_jobs=-1, dtype="float32", random_state=None, verbose=0,
                 warm_start=False, deep_training="layerwise", deep_refit_passes=0):
        # every argument but the regressor's own, by name, to the shared
        # base (which stores them)
        params = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.deep_refit_passes = params.pop("deep_refit_passes")
        super().__init__(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _target_info(self, y, sample_weight):
        """Weighted sums ``[sum w, sum w y, sum w y^2]`` per output column.

        Written with array operations only, so that on dask arrays it is a
        lazy reduction (:mod:`admm_sklearn._dask_input` computes it there).
        """
        Y = y[:, None] if y.ndim == 1 else y
        w = 1.0 if sample_weight is None else sample_weight[:, None]
        return np.stack([(w * Y ** 0).sum(axis=0), (w * Y).sum(axis=0),
                         (w * Y ** 2).sum(axis=0)])

    def _make_targets(self, infos, y, reset):
        shapes = {np.shape(info) for info in infos}
        if len(shapes) > 1:
            raise ValueError(f"Ranks disagree on the number of targets: {sorted(shapes)}.")
        total, first, second = np.sum(infos, axis=0)
        if not reset and self.n_outputs_ != len(total):
            raise ValueError(f"warm_start=True needs {self.n_outputs_} target(s) as in the "
                             f"previous fit, got {len(total)}.")
        mean = first / total
        std = np.sqrt(np.maximum(second / total - mean ** 2, 0.0))
        # constant targets keep unit scale (nothing to learn but the mean)
        std[std <= 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0
        return _RealTargets(mean, std)

    def predict(self, X):
        """Predict with the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values; one dimension for a single target, as in
            MLPRegressor.
        """
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out


class _RealTargets:
    """Real targets, standardised column by column with weighted moments."""

    stratify = False

    def __init__(self, mean, std):
        self.mean, self.std = mean, std
        self.n_outputs = len(mean)

    def transform(self, y):
        return (_as_columns(y) - self.mean) / self.std

    def to_raw(self, W, b):
        """The output layer in the user's units: ``y = std * z + mean``."""
        return W * self.std[:, None], b * self.std + self.mean

    def from_raw(self, W, b):
        return W / self.std[:, None], (b - self.mean) / self.std

    @staticmethod
    def score_sums(outputs, Y, w):
        """Per column ``[sum w r^2, sum w, sum w y, sum w y^2]`` (``r`` the
        residual), in standardised units: R^2 is the same in either."""
        w = np.ones(len(Y)) if w is None else w
        return np.stack([w @ np.square(Y - outputs), np.full(Y.shape[1], w.sum()), w @ Y,
                         w @ np.square(Y)])

    @staticmethod
    def score(sums):
        """R^2 averaged over the outputs (scikit-learn's ``uniform_average``)."""
        residual, total, first, second = sums
        spread = second - first ** 2 / np.maximum(total, 1e-300)
        r2 = np.where(spread > 0, 1.0 - residual / np.where(spread > 0, spread, 1.0),
                      np.where(residual > 0, 0.0, 1.0))
        return float(np.mean(r2))

    @staticmethod
    def attributes():
        return {}


def _as_columns(y):
    """``y`` as a float64 matrix with one column per target."""
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(-1, 1) if y.ndim == 1 else y

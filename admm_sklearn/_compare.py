"""``python -m admm_sklearn compare``: ADMM against the MLP estimators, same data.

Every model is ``make_pipeline(StandardScaler(), model)`` scored by the same
k-fold split (stratified for classification); the table reports the test
score (accuracy, or R^2 for regression; mean and std over folds) and fit
time, with logistic or ridge regression as the linear floor. Time to a
target score is read off one more fit on the first fold, scored every
tenth of its iterations (:func:`accuracy_curve`); those (seconds, score)
points are also what ``--plot`` draws. The task follows the target
(``--task auto``): real-valued targets are regression.
"""

import copy
import time
import warnings

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target

from ._classifier import PAPER_SETTINGS, ADMMClassifier
from ._datasets import DATASETS, REGRESSION_DATASETS, load_dataset
from ._estimator import BaseADMM
from ._regressor import ADMMRegressor


def task_of(y, dataset=None):
    """``'regression'`` for a regression set of :data:`DATASETS` or real-valued
    targets (scikit-learn's ``type_of_target``), else ``'classification'``."""
    if dataset in REGRESSION_DATASETS:
        return "regression"
    kind = type_of_target(y)
    return "regression" if kind in ("continuous", "continuous-multioutput") \
        else "classification"


def build_models(hidden, backend=None, n_jobs=None, seed=0, verbose=0,
                 task="classification"):
    """The compared models, keyed by the name printed in the table.

    ``backend`` and ``n_jobs``: ``None`` keeps the ADMM estimators' defaults.
    """
    where = {k: v for k, v in (("backend", backend), ("n_jobs", n_jobs)) if v is not None}
    if task == "regression":
        return {
            "ADMMRegressor": ADMMRegressor(hidden_layer_sizes=hidden, random_state=seed,
                                           verbose=verbose, **where),
            "MLPRegressor (adam)": MLPRegressor(hidden_layer_sizes=hidden, solver="adam",
                                                random_state=seed),
            # what a careful user fits: on unscaled targets adam's 200
            # epochs may not even reach the target's scale
            "MLPRegressor (adam; y scaled)": TransformedTargetRegressor(
                MLPRegressor(hidden_layer_sizes=hidden, solver="adam", random_state=seed),
                transformer=StandardScaler()),
            "MLPRegressor (lbfgs)": MLPRegressor(hidden_layer_sizes=hidden, solver="lbfgs",
                                                 random_state=seed),
            "Ridge": Ridge(),
        }
    return {
        "ADMMClassifier": ADMMClassifier(hidden, random_state=seed, verbose=verbose, **where),
        "ADMMClassifier (paper)": ADMMClassifier(hidden, random_state=seed, verbose=verbose,
                                                 **where, **PAPER_SETTINGS),
        "MLPClassifier (adam)": MLPClassifier(hidden, solver="adam", random_state=seed),
        "MLPClassifier (lbfgs)": MLPClassifier(hidden, solver="lbfgs", random_state=seed),
        "LogisticRegression": LogisticRegression(max_iter=1000),
    }


def accuracy_curve(model, X_train, y_train, X_test, y_test, n_points=10, max_steps=None):
    """Training and test score against fit time, from one fit scored as it goes.

    The fit runs ``max_steps`` iterations (default: the model's ``max_iter``:
    ADMM sweeps, MLP epochs, solver iterations) in ``n_points`` chunks and
    scores the model after each chunk, so the whole curve costs about one
    fit. The ADMM estimators run one fit that hands the network it would
    return (output refit included; its time counts) to a scorer every chunk
    (:class:`_SweepScorer`); stochastic MLPs continue through
    ``partial_fit`` (Adam's moments kept); other models (lbfgs, logistic
    regression) through ``warm_start``, which restarts their solver's memory
    at each chunk.
    Features are standardised on the training part, as in every comparison.
    The score is the model's own (accuracy, or R^2 for regressors).

    Returns
    -------
    curve : list of (steps, seconds, train_score, test_score)
        ``seconds`` is the cumulative fit time, scoring excluded.
    """
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model = clone(model)
    iterative = model.get_params().get("max_iter") is not None
    # a direct solver (ridge regression's, say) is one step: a one-point curve
    total = int(max_steps or model.get_params()["max_iter"]) if iterative else 1
    chunk = max(1, -(-total // n_points))
    if isinstance(model, BaseADMM):
        return _SweepScorer(model, chunk, total).curve(X_train, y_train, X_test, y_test)
    incremental = hasattr(model, "partial_fit") and model.get_params().get("solver") in (
        "adam", "sgd")
    if iterative and not incremental:
        model.set_params(warm_start=True, max_iter=chunk)
    extra = {"classes": np.unique(y_train)} if is_classifier(model) else {}
    curve, seconds, steps = [], 0.0, 0
    while steps < total:
        n = min(chunk, total - steps)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if incremental:
                for _ in range(n):
                    model.partial_fit(X_train, y_train, **extra)
            elif iterative:
                model.set_params(max_iter=n).fit(X_train, y_train)
            else:
                model.fit(X_train, y_train)
        seconds += time.perf_counter() - start
        steps += n
        curve.append((steps, seconds, float(model.score(X_train, y_train)),
                      float(model.score(X_test, y_test))))
    return curve


class _SweepScorer:
    """One ADMM fit of ``total`` sweeps, scored every ``every`` sweeps.

    Set as the fit's ``_sweep_monitor``, it receives the network the fit
    would return at that sweep (output refit included, whose time counts as
    fit time) and scores it; scoring time is left out. One fit, not chunks
    of warm-started ones: a ``start_fraction`` below 1 makes the first half
    of a fit unlike the first half of a longer one.
    """

    def __init__(self, model, every, total):
        self.model, self.every, self.total = model.set_params(max_iter=total), every, total
        self.points, self.scoring, self.start = [], 0.0, None

    def wants(self, sweep):
        return sweep % self.every == 0 or sweep == self.total

    def __call__(self, sweep, network):
        now = time.perf_counter()
        scored = copy.copy(self.model)
        for name, value in network.items():
            setattr(scored, name, value)
        self._score(sweep, now, scored)

    def _score(self, sweep, now, fitted):
        self.points.append((sweep, now - self.start - self.scoring,
                            float(fitted.score(*self.train)), float(fitted.score(*self.test))))
        self.scoring += time.perf_counter() - now

    def curve(self, X_train, y_train, X_test, y_test):
        self.train, self.test = (X_train, y_train), (X_test, y_test)
        self.model._sweep_monitor = self
        self.start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.model.fit(X_train, y_train)
        finally:
            del self.model._sweep_monitor
        if not self.points or self.points[-1][0] != self.model.n_iter_:  # converged early
            self._score(self.model.n_iter_, time.perf_counter(), self.model)
        return self.points


def time_to(curve, target):
    """Fit seconds of the first point of ``curve`` whose test score reaches
    ``target``, or ``None``."""
    return next((seconds for _, seconds, _, test in curve if test >= target), None)


def compare(X, y, hidden=(100,), folds=5, backend=None, n_jobs=None, seed=0,
            target=0.95, verbose=1, task="classification"):
    """Cross-validate each model of :func:`build_models`; return rows of results."""
    splitter = StratifiedKFold if task == "classification" else KFold
    cv = splitter(folds, shuffle=True, random_state=seed)
    train, test = next(cv.split(X, y))
    rows = []
    for name, model in build_models(hidden, backend, n_jobs, seed,
                                    verbose=int(verbose > 1), task=task).items():
        if verbose:
            print(f"  {name}: {folds}-fold cross-validation, then time to {target:.3f} ...",
                  flush=True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = cross_validate(make_pipeline(StandardScaler(), model), X, y, cv=cv)
            curve = accuracy_curve(model, X[train], y[train], X[test], y[test])
        rows.append({
            "model": name,
            "score_mean": float(np.mean(res["test_score"])),
            "score_std": float(np.std(res["test_score"])),
            # the median fold: the first fit of a process also loads
            # numba's cache (0.3-0.5 s, once), which a mean would lay on
            # whichever ADMM row comes first
            "fit_seconds": float(np.median(res["fit_time"])),
            "seconds_to_target": time_to(curve, target),
            "curve": curve,
            "total_seconds": time.perf_counter() - start,
        })
    return rows


def format_table(rows, target, metric="accuracy"):
    head = (f"{'model':<26} {metric:>17} {'median fit (s)':>15} "
            f"{'time to ' + format(target, '.3f') + ' (s)':>20}")
    lines = [head, "-" * len(head)]
    for r in rows:
        reached = "not reached" if r["seconds_to_target"] is None \
            else f"{r['seconds_to_target']:.3f}"
        lines.append(f"{r['model']:<26} {r['score_mean']:>8.4f} +- {r['score_std']:.4f}"
                     f" {r['fit_seconds']:>15.3f} {reached:>20}")
    return "\n".join(lines)


def _plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SystemExit("--plot needs matplotlib: pip install 'admm-sklearn[plot]'") from exc
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        _, seconds, _, accuracy = zip(*r["curve"])
        ax.plot(seconds, accuracy, "o-", label=r["model"])
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s), one fit scored as it goes, first fold")
    ax.set_ylabel("test score (accuracy or R^2)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


def add_arguments(p):
    """The ``compare`` command's options."""
    p.add_argument("--dataset", default="breast_cancer",
                   help=f"one of {', '.join(sorted(DATASETS))}, or a .csv/.npz path")
    p.add_argument("--hidden", default="100",
                   help="hidden layer sizes, comma separated (default: 100)")
    p.add_argument("--backend", default=None, choices=["serial", "joblib", "mpi"],
                   help="default: the estimators' own (joblib, one thread per core)")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="default: the estimators' own (-1, all cores)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--task", default="auto", choices=["auto", "classification", "regression"],
                   help="auto (default): regression for real-valued targets")
    p.add_argument("--target", type=float, default=None,
                   help="score whose time to reach is reported (default: 0.95 accuracy, "
                        "0.8 R^2)")
    p.add_argument("--plot", default=None, help="write accuracy vs time to this PNG")
    p.add_argument("--verbose", action="store_true",
                   help="also print one line per ADMM sweep of every fit")


def run_command(args):
    """``python -m admm_sklearn compare ...``: print the table; 0."""
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    X, y = load_dataset(args.dataset)
    task = task_of(y, args.dataset) if args.task == "auto" else args.task
    regression = task == "regression"
    target = args.target if args.target is not None else 0.8 if regression else 0.95
    what = "real-valued target" if regression else f"{len(np.unique(y))} classes"
    print(f"dataset {args.dataset}: {X.shape[0]} samples, {X.shape[1]} features, "
          f"{what} ({task}); hidden layers {hidden}; {args.folds}-fold CV")
    rows = compare(X, y, hidden, args.folds, args.backend, args.n_jobs, args.seed, target,
                   verbose=2 if args.verbose else 1, task=task)
    print()
    metric = "R^2" if regression else "accuracy"
    print(format_table(rows, target, metric))
    mlps = [r for r in rows if r["model"].startswith("MLP")]
    ours = rows[0]
    gap = ours["score_mean"] - max(r["score_mean"] for r in mlps)
    slower = ours["fit_seconds"] / min(r["fit_seconds"] for r in mlps)
    gap_text = f"{gap:+.3f} R^2" if regression else f"{100 * gap:+.2f} points of accuracy"
    print(f"\n{ours['model']} vs best {mlps[0]['model'].split()[0]}: {gap_text}, "
          f"{slower:.2f}x the median fit time of the faster MLP.")
    if args.plot:
        _plot(rows, args.plot)
        print(f"plot written to {args.plot}")
    return 0

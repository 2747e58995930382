"""``python -m admm_sklearn compare``: ADMM against MLPClassifier, same data.

Every model is ``make_pipeline(StandardScaler(), model)`` scored by the same
stratified k-fold split; the table reports test accuracy (mean and std over
folds) and fit time, with logistic regression as the linear floor. Time to a
target accuracy is read off one more fit on the first fold, scored every
tenth of its iterations (:func:`accuracy_curve`); those (seconds, accuracy)
points are also what ``--plot`` draws.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._classifier import PAPER_SETTINGS, ADMMClassifier
from ._datasets import DATASETS, load_dataset


def build_models(hidden, backend="serial", n_jobs=None, seed=0, verbose=0):
    """The compared models, keyed by the name printed in the table."""
    return {
        "ADMMClassifier": ADMMClassifier(hidden, backend=backend, n_jobs=n_jobs,
                                         random_state=seed, verbose=verbose),
        "ADMMClassifier (paper)": ADMMClassifier(hidden, backend=backend, n_jobs=n_jobs,
                                                 random_state=seed, verbose=verbose,
                                                 **PAPER_SETTINGS),
        "MLPClassifier (adam)": MLPClassifier(hidden, solver="adam", random_state=seed),
        "MLPClassifier (lbfgs)": MLPClassifier(hidden, solver="lbfgs", random_state=seed),
        "LogisticRegression": LogisticRegression(max_iter=1000),
    }


def accuracy_curve(model, X_train, y_train, X_test, y_test, n_points=10, max_steps=None):
    """Training and test accuracy against fit time, from one fit scored as it goes.

    The fit runs ``max_steps`` iterations (default: the model's ``max_iter``:
    ADMM sweeps, MLP epochs, solver iterations) in ``n_points`` chunks and
    scores the model after each chunk, so the whole curve costs about one
    fit. ADMMClassifier continues through ``warm_start`` (with the same
    data it keeps its full state, so chunks of k sweeps equal one fit; each
    point is the network the user would get, output refit included, and its
    time includes that refit); stochastic MLPs through ``partial_fit`` (Adam's
    moments kept); other models (lbfgs, logistic regression) through
    ``warm_start``, which restarts their solver's memory at each chunk.
    Features are standardised on the training part, as in every comparison.

    Returns
    -------
    curve : list of (steps, seconds, train_accuracy, test_accuracy)
        ``seconds`` is the cumulative fit time, scoring excluded.
    """
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model = clone(model)
    total = int(max_steps or model.get_params()["max_iter"])
    chunk = max(1, -(-total // n_points))
    incremental = hasattr(model, "partial_fit") and model.get_params().get("solver") in (
        "adam", "sgd")
    if not incremental:
        model.set_params(warm_start=True, max_iter=chunk)
    classes = np.unique(y_train)
    curve, seconds, steps = [], 0.0, 0
    while steps < total:
        n = min(chunk, total - steps)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if incremental:
                for _ in range(n):
                    model.partial_fit(X_train, y_train, classes=classes)
            else:
                model.set_params(max_iter=n).fit(X_train, y_train)
        seconds += time.perf_counter() - start
        steps += n
        curve.append((steps, seconds, float(model.score(X_train, y_train)),
                      float(model.score(X_test, y_test))))
    return curve


def time_to(curve, target):
    """Fit seconds of the first point of ``curve`` whose test accuracy reaches
    ``target``, or ``None``."""
    return next((seconds for _, seconds, _, test in curve if test >= target), None)


def compare(X, y, hidden=(100,), folds=5, backend="serial", n_jobs=None, seed=0,
            target=0.95, verbose=1):
    """Cross-validate each model of :func:`build_models`; return rows of results."""
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    train, test = next(cv.split(X, y))
    rows = []
    for name, model in build_models(hidden, backend, n_jobs, seed,
                                    verbose=int(verbose > 1)).items():
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
            "accuracy_mean": float(np.mean(res["test_score"])),
            "accuracy_std": float(np.std(res["test_score"])),
            "fit_seconds": float(np.mean(res["fit_time"])),
            "seconds_to_target": time_to(curve, target),
            "curve": curve,
            "total_seconds": time.perf_counter() - start,
        })
    return rows


def format_table(rows, target):
    head = (f"{'model':<26} {'accuracy':>17} {'fit time (s)':>13} "
            f"{'time to ' + format(target, '.3f') + ' (s)':>20}")
    lines = [head, "-" * len(head)]
    for r in rows:
        reached = "not reached" if r["seconds_to_target"] is None \
            else f"{r['seconds_to_target']:.3f}"
        lines.append(f"{r['model']:<26} {r['accuracy_mean']:>8.4f} +- {r['accuracy_std']:.4f}"
                     f" {r['fit_seconds']:>13.3f} {reached:>20}")
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
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m admm_sklearn")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare", help="cross-validate ADMMClassifier against MLPClassifier")
    p.add_argument("--dataset", default="breast_cancer",
                   help=f"one of {', '.join(sorted(DATASETS))}, or a .csv/.npz path")
    p.add_argument("--hidden", default="100",
                   help="hidden layer sizes, comma separated (default: 100)")
    p.add_argument("--backend", default="serial", choices=["serial", "joblib", "mpi"])
    p.add_argument("--n-jobs", type=int, default=None)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=0.95,
                   help="accuracy whose time to reach is reported (default: 0.95)")
    p.add_argument("--plot", default=None, help="write accuracy vs time to this PNG")
    p.add_argument("--verbose", action="store_true",
                   help="also print one line per ADMM sweep of every fit")
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    X, y = load_dataset(args.dataset)
    print(f"dataset {args.dataset}: {X.shape[0]} samples, {X.shape[1]} features, "
          f"{len(np.unique(y))} classes; hidden layers {hidden}; {args.folds}-fold CV")
    rows = compare(X, y, hidden, args.folds, args.backend, args.n_jobs, args.seed, args.target,
                   verbose=2 if args.verbose else 1)
    print()
    print(format_table(rows, args.target))
    mlps = [r for r in rows if r["model"].startswith("MLP")]
    ours = rows[0]
    gap = 100 * (ours["accuracy_mean"] - max(r["accuracy_mean"] for r in mlps))
    slower = ours["fit_seconds"] / min(r["fit_seconds"] for r in mlps)
    print(f"\nADMMClassifier vs best MLPClassifier: {gap:+.2f} points of accuracy, "
          f"{slower:.2f}x the fit time of the faster MLP.")
    if args.plot:
        _plot(rows, args.plot)
        print(f"plot written to {args.plot}")
    return 0

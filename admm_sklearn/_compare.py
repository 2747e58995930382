"""``python -m admm_sklearn compare``: ADMM against MLPClassifier, same data.

Every model is ``make_pipeline(StandardScaler(), model)`` scored by the same
stratified k-fold split; the table reports test accuracy (mean and std over
folds) and fit time, with logistic regression as the linear floor.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._classifier import ADMMClassifier
from ._datasets import DATASETS, load_dataset


def build_models(hidden, backend="serial", n_jobs=None, seed=0):
    """The compared models, keyed by the name printed in the table."""
    return {
        "ADMMClassifier": ADMMClassifier(hidden, backend=backend, n_jobs=n_jobs,
                                         random_state=seed),
        "ADMMClassifier (paper)": ADMMClassifier(hidden, init="gaussian", alpha=0.0,
                                                 backend=backend, n_jobs=n_jobs,
                                                 random_state=seed),
        "MLPClassifier (adam)": MLPClassifier(hidden, solver="adam", random_state=seed),
        "MLPClassifier (lbfgs)": MLPClassifier(hidden, solver="lbfgs", random_state=seed),
        "LogisticRegression": LogisticRegression(max_iter=1000),
    }


def compare(X, y, hidden=(100,), folds=5, backend="serial", n_jobs=None, seed=0,
            verbose=True):
    """Cross-validate each model of :func:`build_models`; return rows of results."""
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    rows = []
    for name, model in build_models(hidden, backend, n_jobs, seed).items():
        if verbose:
            print(f"  fitting {name} on {folds} folds ...", flush=True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = cross_validate(make_pipeline(StandardScaler(), model), X, y, cv=cv)
        rows.append({
            "model": name,
            "accuracy_mean": float(np.mean(res["test_score"])),
            "accuracy_std": float(np.std(res["test_score"])),
            "fit_seconds": float(np.mean(res["fit_time"])),
            "total_seconds": time.perf_counter() - start,
        })
    return rows


def format_table(rows):
    head = f"{'model':<26} {'accuracy':>17} {'fit time (s)':>13}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<26} {r['accuracy_mean']:>8.4f} +- {r['accuracy_std']:.4f}"
                     f" {r['fit_seconds']:>13.3f}")
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
        ax.errorbar(r["fit_seconds"], r["accuracy_mean"], yerr=r["accuracy_std"], fmt="o",
                    label=r["model"])
    ax.set_xscale("log")
    ax.set_xlabel("fit time per fold (s)")
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
    p.add_argument("--plot", default=None, help="write accuracy vs time to this PNG")
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    X, y = load_dataset(args.dataset)
    print(f"dataset {args.dataset}: {X.shape[0]} samples, {X.shape[1]} features, "
          f"{len(np.unique(y))} classes; hidden layers {hidden}; {args.folds}-fold CV")
    rows = compare(X, y, hidden, args.folds, args.backend, args.n_jobs, args.seed)
    print()
    print(format_table(rows))
    best_mlp = max(r["accuracy_mean"] for r in rows if r["model"].startswith("MLP"))
    ours = rows[0]["accuracy_mean"]
    print(f"\nADMMClassifier vs best MLPClassifier: {100 * (ours - best_mlp):+.2f} points "
          f"of accuracy, {rows[0]['fit_seconds'] / min(r['fit_seconds'] for r in rows if r['model'].startswith('MLP')):.2f}x "
          "the fit time of the faster MLP.")
    if args.plot:
        _plot(rows, args.plot)
        print(f"plot written to {args.plot}")
    return 0

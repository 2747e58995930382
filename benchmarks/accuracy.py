"""Accuracy suite: ADMM (defaults, paper mode, candidates) against
MLPClassifier (adam, lbfgs) and logistic regression, same splits.

    python benchmarks/accuracy.py --quick                 # small sets, 2 seeds
    python benchmarks/accuracy.py --seeds 5               # whole suite
    python benchmarks/accuracy.py --candidate "gamma=100,n_warmup_iter=20"
    python benchmarks/accuracy.py --quick --curves        # + time-to-accuracy
    python benchmarks/accuracy.py --holdout --seeds 6     # sets outside the suite
    python benchmarks/accuracy.py --hard --seeds 3        # the hard tier
    python benchmarks/accuracy.py --regression --seeds 3  # ADMMRegressor
    python benchmarks/accuracy.py --regression --real     # ... on real regression data

Each (dataset, seed) is a 75/25 stratified split (seeded), features
standardised on the training part; one small untimed fit of each estimator
first loads the compiled kernels (:func:`warm_up`). Prints mean test and
training accuracy per model and dataset (an optimisation gap and a
generalisation gap look different there), mean fit time, and writes every fit
to JSON. With ``--curves``, the first seed of each dataset also runs one more
fit of every model scored ten times as it goes
(:func:`admm_sklearn._compare.accuracy_curve`, to the model's own
``max_iter``); the table then gives each model's time to come within one point
of MLPClassifier (adam)'s final accuracy on that split.

``--regression``: ADMMRegressor against MLPRegressor (adam, lbfgs; adam
also on a standardised target, ``TransformedTargetRegressor``, as a careful
user fits it) and ridge regression on diabetes and Friedman #1 (20,000 rows,
noise 1.0); with ``--real``, on the six real regression sets of the shared
data folder instead (at most 20,000 rows each). The score is then R^2 (the
JSON key stays ``test_accuracy``), the splits plain (not stratified) 75/25.

The hard tier (``--hard``) is reported apart from the suite: letter
recognition (real; ``../shared/data/letter.npz``, skipped with a message if
absent), radial bands, two-arm spirals in noise dimensions, parity of 3 of 10
coordinates, and 10-class digits. ``--large``: two more sets of 300,000
rows (radial bands, three noisy classes) beside the suite's 400k one.
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn.datasets as skd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import train_test_split
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from admm_sklearn import ADMMClassifier, ADMMRegressor  # noqa: E402
from admm_sklearn._compare import accuracy_curve, build_models, task_of, time_to  # noqa: E402
from admm_sklearn._datasets import load_dataset  # noqa: E402

QUICK = ["breast_cancer", "digits_0_vs_2", "wine", "moons", "circles", "gaussian_quantiles"]
FULL = QUICK + ["digits", "classification_40k", "classification_400k"]
REGRESSION = ["diabetes", "friedman1"]
#: Regression sets not used to choose ADMMRegressor's defaults
#: (``--regression --holdout``).
REGRESSION_HOLDOUT = {
    "friedman2": lambda: skd.make_friedman2(5000, noise=10.0, random_state=1),
    "friedman3": lambda: skd.make_friedman3(5000, noise=0.1, random_state=1),
    "sine_of_sum_20d": lambda: _sine_of_sum(),
}
#: Sets outside the suite (``--holdout``), first run (2026-11-24) after the
#: defaults of that day were chosen: a check that they generalise beyond it.
HOLDOUT = {
    "iris": lambda: skd.load_iris(return_X_y=True),
    "hastie_10_2": lambda: skd.make_hastie_10_2(4000, random_state=1),
    "classification_20d": lambda: skd.make_classification(
        5000, n_features=20, n_informative=10, n_clusters_per_class=3, random_state=1),
    "moons_2d": lambda: skd.make_moons(3000, noise=0.3, random_state=1),
    "circles_2d": lambda: skd.make_circles(3000, noise=0.2, factor=0.5, random_state=1),
}

LETTER = Path(__file__).resolve().parents[2] / "shared" / "data" / "letter.npz"
SHARED = LETTER.parent
#: Real regression sets of the shared data folder (``--regression --real``),
#: at most 20,000 rows each (a seeded sample of the larger ones).
REGRESSION_REAL = ("bike_sharing_hour", "protein_casp", "wine_quality_all", "kin8nm",
                   "concrete", "197_cpu_act")


def _letter():
    if not LETTER.exists():
        return None
    with np.load(LETTER) as data:
        return data["X"].astype(np.float64), data["y"]


def _radial_bands(n=10_000, d=8, frequency=3.0, seed=0):
    """label = [sin(frequency * r) > 0], r the norm of the first 3 of d Gaussians."""
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X, (np.sin(frequency * np.linalg.norm(X[:, :3], axis=1)) > 0).astype(int)


def _spirals(n=6000, turns=1.5, noise=0.035, n_noise=8, seed=0):
    """Two interleaved arms in 2-D plus ``n_noise`` Gaussian dimensions, rotated."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n // 2)) * 2 * np.pi * turns
    arm = np.c_[t * np.cos(t), t * np.sin(t)] / (2 * np.pi * turns)
    X2 = np.r_[arm, -arm] + rng.normal(0, noise, (2 * (n // 2), 2))
    X = np.hstack([X2, rng.standard_normal((len(X2), n_noise))])
    Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1],) * 2))
    return X @ Q, np.repeat([0, 1], n // 2)


def _sine_of_sum(n=8000, d=20, seed=1):
    """y = sin(sum of the first 4 of d Gaussians) + 0.5 x_5 x_6 + noise 0.1."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X[:, :4].sum(axis=1)) + 0.5 * X[:, 4] * X[:, 5]
    return X, y + 0.1 * rng.standard_normal(n)


def _parity(n=6000, d=10, seed=0):
    """label = sign of the product of the first 3 of d Gaussian coordinates."""
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X, (np.prod(X[:, :3], axis=1) > 0).astype(int)


def _checkerboard(n=20_000, d=10, cells=4, seed=0):
    """label = colour of a ``cells`` x ``cells`` checkerboard in the first 2
    of ``d`` uniform coordinates (the rest carry nothing)."""
    X = np.random.default_rng(seed).uniform(0.0, 1.0, (n, d))
    return X, (np.floor(cells * X[:, 0]) + np.floor(cells * X[:, 1])).astype(int) % 2


#: The hard tier (``--hard``): non-linear, many-class or real data on which
#: the earlier defaults underfit (issue 12).
HARD = {
    "letter": _letter,
    "radial_bands": _radial_bands,
    "spirals": _spirals,
    "parity_3_of_10": _parity,
    "digits_10": lambda: skd.load_digits(return_X_y=True),
}


#: Sets outside the tiers, by name only (``--datasets``): a probe of depth
#: that no default was chosen on (a 4 x 4 checkerboard needs two layers'
#: worth of regions, and 8 of its 10 inputs are noise).
PROBES = {
    "checkerboard_2_of_10": _checkerboard,
}


def _three_classes(n=300_000):
    """Three classes, 12 informative of 20 features, 5% of the labels random."""
    return skd.make_classification(n_samples=n, n_features=20, n_informative=12,
                                   n_redundant=2, n_classes=3, flip_y=0.05, class_sep=1.0,
                                   random_state=1)


#: Large sets beside the suite's 400k one (``--large``; 225,000 training
#: rows each), on which the ridge's cap at 30,000 samples was checked
#: (docs/what_we_tried.rst, "Large data").
LARGE = {
    "radial_bands_300k": lambda: _radial_bands(n=300_000, seed=1),
    "three_classes_300k": _three_classes,
}


def _texts(name):
    """``(texts, labels)`` of a text corpus of the shared data folder, or ``None``."""
    path = SHARED / f"{name}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=True) as data:
        return data["texts"], data["y"]


def _shared(name):
    path = SHARED / f"{name}.npz"
    return load_dataset(str(path)) if path.exists() else None


def _one_hot(n=20_000, n_columns=8, levels=30, seed=0):
    """Integer categories; the label needs level effects of three columns and
    one interaction (one-hot input: 240 columns, 8 stored entries per row)."""
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, levels, size=(n, n_columns))
    effects = rng.normal(size=(3, levels))
    score = effects[0, cats[:, 0]] + effects[1, cats[:, 1]] + effects[2, cats[:, 2]]
    score += 1.5 * ((cats[:, 3] % 2) == (cats[:, 4] % 2))
    return cats, (score + 0.3 * rng.normal(size=n) > np.median(score)).astype(int)


#: The wide and sparse tier (``--wide``): text through TfidfVectorizer,
#: one-hot categories through ColumnTransformer (both sparse), a dense set
#: with more features than training rows, one of the paper's SVHN shape
#: (24,000 x 648, two classes of three clusters each), and the wide real
#: image sets.
WIDE = {
    "sms_spam_tfidf": lambda: _texts("sms_spam_text"),
    "ag_news_tfidf": lambda: _texts("ag_news_test_text"),
    "one_hot_8x30": _one_hot,
    "wide_3000": lambda: skd.make_classification(4000, 3000, n_informative=60,
                                                 random_state=0),
    "svhn_shape_648": lambda: skd.make_classification(
        24_000, 648, n_informative=64, n_redundant=64, n_classes=2,
        n_clusters_per_class=3, class_sep=1.5, random_state=0),
    "usps": lambda: _shared("usps"),
    "mnist_test10k": lambda: _shared("mnist_test10k"),
}
#: How a set reaches the model (StandardScaler for every set not listed).
PREPROCESS = {
    "sms_spam_tfidf": lambda: TfidfVectorizer(min_df=2),
    "ag_news_tfidf": lambda: TfidfVectorizer(min_df=2),
    "one_hot_8x30": lambda: ColumnTransformer([("onehot", OneHotEncoder(), slice(0, 8))]),
}


def load(name):
    """``(X, y)`` of a suite, holdout, hard-tier or large set; ``None`` if its
    file is missing."""
    for table in (HOLDOUT, HARD, LARGE, REGRESSION_HOLDOUT, WIDE, PROBES):
        if name in table:
            return table[name]()
    if name in REGRESSION_REAL:
        path = SHARED / f"{name}.npz"
        if not path.exists():
            return None
        X, y = load_dataset(str(path))
        rows = np.random.default_rng(0).permutation(len(X))[:20_000]
        return X[np.sort(rows)], y[np.sort(rows)].astype(np.float64)
    return load_dataset(name)


def standardised_split(X, y, seed, stratify=True):
    """``(X_tr, X_te, y_tr, y_te)``: the harness's 75/25 split (stratified by
    ``y`` unless ``stratify=False``) with ``X`` standardised on the training
    rows, for the scripts that fit on arrays rather than a Pipeline."""
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed,
                                              stratify=y if stratify else None)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def load_regression_split(name, seed=0):
    """:func:`standardised_split` of the regression set ``name`` (unstratified),
    or ``None``, said on stdout, when its file is missing."""
    data = load(name)
    if data is None:
        print(f"skipped: {name} is missing from the shared data folder")
        return None
    return standardised_split(*data, seed, stratify=False)


def parse_candidate(text):
    params = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        params[key.strip()] = eval(value, {})  # numbers and tuples from the command line
    return params


def machine():
    """The processor, core count and library versions: results here move with
    the machine's BLAS kernels (docs/what_we_tried.rst 12.21), so every row
    records where it was measured."""
    import scipy
    import sklearn

    import admm_sklearn
    try:
        import numba
    except ImportError:  # optional to the package: the NumPy paths run
        numba = None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            "numba": numba.__version__ if numba else "absent",
            "admm_sklearn": admm_sklearn.__version__}


def warm_up():
    """One small untimed fit of each estimator, so that no timed fit pays a
    process's one-time loading of the compiled kernels (numba's cache and
    typing context: 0.3-0.5 s, which doubled the first small fit of a table
    before this warm-up: breast cancer at (100, 100), seed 0, 2.0 s against
    1.05 and 1.20 s for seeds 1 and 2)."""
    X, y = skd.make_classification(300, 10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ADMMClassifier(max_iter=40, random_state=0).fit(X, y)
        ADMMRegressor(max_iter=40, random_state=0).fit(X, y.astype(float))


def run(datasets, seeds, hidden, candidates, out, baselines=True, curves=False):
    rows, where = [], machine()
    print("measured on " + ", ".join(f"{k} {v}" for k, v in where.items()), flush=True)
    warm_up()
    for name in datasets:
        data = load(name)
        if data is None:
            print(f"{name}: skipped, its file in {SHARED} is missing (the shared data folder)")
            continue
        X, y = data
        task = "regression" if name in REGRESSION_REAL else task_of(y, name)
        admm = ADMMRegressor if task == "regression" else ADMMClassifier
        for seed in seeds:
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=0.25, stratify=y if task == "classification" else None,
                random_state=seed)
            models = {k: m for k, m in build_models(hidden, seed=seed, task=task).items()
                      if baselines is True or k in baselines}
            for label, params in candidates.items():
                models[label] = admm(**{"hidden_layer_sizes": hidden, "random_state": seed,
                                        **params})
            for model_name, model in models.items():
                pipe = make_pipeline(PREPROCESS.get(name, StandardScaler)(), clone(model))
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    pipe.fit(X_tr, y_tr)
                seconds = time.perf_counter() - start
                acc, train_acc = pipe.score(X_te, y_te), pipe.score(X_tr, y_tr)
                row_extra = probability_scores(pipe, X_te, y_te) if task != "regression" \
                    else {}
                finite = all(np.all(np.isfinite(c)) for c in getattr(pipe[-1], "coefs_", []))
                row = {"dataset": name, "seed": seed, "model": model_name,
                       "test_accuracy": acc, "train_accuracy": train_acc,
                       "seconds": seconds, "finite": finite, **row_extra, "machine": where}
                if curves and seed == seeds[0]:
                    row["curve"] = accuracy_curve(model, X_tr, y_tr, X_te, y_te)
                rows.append(row)
                print(f"{name:<20} seed {seed} {model_name:<28} {acc:.4f} "
                      f"(train {train_acc:.4f}) {seconds:7.2f}s", flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(rows, indent=1))
    return rows


def probability_scores(pipe, X, y):
    """Test log-loss and Brier score of a classifier with ``predict_proba``
    (``{}`` without it: the hinge, say)."""
    if not hasattr(pipe, "predict_proba"):
        return {}
    proba = pipe.predict_proba(X)
    labels = pipe.classes_
    if proba.shape[1] == 2:
        brier = brier_score_loss(y == labels[1], proba[:, 1])
    else:
        brier = brier_score_loss(y, proba, labels=labels)
    return {"test_log_loss": log_loss(y, proba, labels=labels), "test_brier": brier}


def summary(rows):
    models = list(dict.fromkeys(r["model"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    for key, title, fmt in (("test_accuracy", "mean test score (accuracy; R^2 for regression)",
                             ".4f"),
                            ("train_accuracy", "mean training score", ".4f"),
                            ("test_log_loss", "mean test log-loss (classifiers with "
                                              "predict_proba)", ".4f"),
                            ("test_brier", "mean test Brier score", ".4f"),
                            ("seconds", "mean fit seconds", ".2f")):
        if not any(key in r for r in rows):
            continue
        print(f"\n{title} over seeds")
        short = [m.replace("Classifier", "").replace("Regressor", "")[:16] for m in models]
        print(f"{'dataset':<20}" + "".join(f"{m:>17}" for m in short))
        for d in datasets:
            values = [[r[key] for r in rows if r["dataset"] == d and r["model"] == m
                       and key in r] for m in models]
            cells = [format(np.mean(v), fmt) if v else "-" for v in values]
            print(f"{d:<20}" + "".join(f"{c:>17}" for c in cells))


def time_to_accuracy(rows):
    """Seconds each model's curve needs to reach MLP (adam)'s test accuracy,
    and to come within 1 point of it."""
    with_curves = [r for r in rows if "curve" in r]
    if not with_curves:
        return
    print("\nseconds to MLPClassifier (adam)'s test accuracy and to within 1 point "
          "of it, first seed (one fit scored ten times; '-' = not reached)")
    for d in dict.fromkeys(r["dataset"] for r in with_curves):
        here = [r for r in with_curves if r["dataset"] == d]
        ref = [r["test_accuracy"] for r in here if r["model"] == "MLPClassifier (adam)"]
        if not ref:
            continue
        cells = []
        for r in here:
            reached = [time_to(r["curve"], t) for t in (ref[0], ref[0] - 0.01)]
            cells.append(f"{r['model'][:22]}: " + " / ".join(
                "-" if t is None else f"{t:.2f}" for t in reached))
        print(f"{d:<20} target {ref[0]:.3f}   " + "   ".join(cells))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--holdout", action="store_true",
                        help="the sets outside the suite (HOLDOUT) instead")
    parser.add_argument("--hard", action="store_true",
                        help="the hard tier (HARD) instead")
    parser.add_argument("--wide", action="store_true",
                        help="the wide and sparse tier (WIDE) instead")
    parser.add_argument("--large", action="store_true",
                        help="the large sets (LARGE) instead")
    parser.add_argument("--regression", action="store_true",
                        help="the regression sets (REGRESSION) instead")
    parser.add_argument("--real", action="store_true",
                        help="with --regression: the real sets (REGRESSION_REAL)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed .. first-seed + seeds - 1 (to add seeds to a run)")
    parser.add_argument("--datasets", default=None, help="comma separated")
    parser.add_argument("--hidden", default="100")
    parser.add_argument("--candidate", action="append", default=[],
                        help="extra ADMMClassifier parameters, e.g. 'gamma=100,alpha=1e-2'")
    parser.add_argument("--only-candidates", action="store_true",
                        help="skip the baselines (defaults, paper, MLP, logistic)")
    parser.add_argument("--baselines", default=None,
                        help="keep only these baselines, comma separated, e.g. "
                             "'ADMMClassifier,MLPClassifier (adam)'")
    parser.add_argument("--json", default="benchmarks/results/accuracy.json")
    parser.add_argument("--curves", action="store_true",
                        help="also time-to-accuracy curves on the first seed")
    args = parser.parse_args()
    datasets = (args.datasets.split(",") if args.datasets
                else list(REGRESSION_HOLDOUT) if args.regression and args.holdout
                else list(REGRESSION_REAL) if args.regression and args.real
                else list(HOLDOUT) if args.holdout else list(HARD) if args.hard
                else list(LARGE) if args.large else list(WIDE) if args.wide
                else REGRESSION if args.regression else QUICK if args.quick else FULL)
    n_seeds = args.seeds or (2 if args.quick else 5)
    seeds = range(args.first_seed, args.first_seed + n_seeds)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    candidates = {f"ADMM {c}": parse_candidate(c) for c in args.candidate}
    rows = run(datasets, seeds, hidden, candidates, args.json,
               baselines=(() if args.only_candidates else args.baselines.split(",")
                          if args.baselines else True), curves=args.curves)
    summary(rows)
    time_to_accuracy(rows)


if __name__ == "__main__":
    main()

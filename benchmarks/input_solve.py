"""The layer-1 solve, direct against iterative (conjugate gradients), on wide inputs.

For each set, one ADMMClassifier fit (defaults, seed 0, 75/25 stratified
split) with the input Gram factorised once (``direct``) and by conjugate
gradients without the Gram (``iterative``); test and training accuracy,
fit time, the mean number of Gram products per sweep (iterative), and
which of the two ``auto`` (the default) chooses for the set::

    python benchmarks/input_solve.py --json benchmarks/results/input_solve.json

Sets: the two text corpora (TfidfVectorizer, min_df=2) and the one-hot set
of the wide tier (``benchmarks/accuracy.py --wide``), and sparse synthetic
sets of growing width (``sparse_<d>``: 20,000 x d, 20 stored entries per
row, a label from 40 of the columns) to find where the paths cross.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import admm_sklearn._engine as engine
from admm_sklearn import ADMMClassifier, _input_solve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import PREPROCESS, load  # noqa: E402


def sparse_synthetic(d, n=20_000, per_row=20, seed=0):
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, d, size=(n, per_row))
    X = sp.csr_matrix((rng.uniform(0.5, 1.5, n * per_row), cols.ravel(),
                       np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    X.sum_duplicates()
    coef = np.zeros(d)
    coef[rng.choice(d, 40, replace=False)] = rng.normal(size=40) * 3
    score = X @ coef
    return X, (score > np.median(score)).astype(int)


class _Recorder:
    """Forces the layer-1 solve and keeps what each fit made."""

    def __init__(self, mode):
        self.mode, self.made = mode, []

    def __call__(self, backend, n_outputs, solve="auto", dtype=np.float64):
        made = _input_solve.make_input_solve(backend, n_outputs, self.mode, dtype)
        self.made.append(made)
        return made


def run(name, X, y, mode):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pipe = make_pipeline(PREPROCESS[name]()) if name in PREPROCESS else None
    if pipe is not None:
        X_tr, X_te = pipe.fit_transform(X_tr), pipe.transform(X_te)
    recorder = _Recorder(mode)
    engine.make_input_solve = recorder
    try:
        model = ADMMClassifier(random_state=0)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
    finally:
        engine.make_input_solve = _input_solve.make_input_solve
    made = recorder.made[-1]
    products = getattr(made, "products", [])
    stored = X_tr.nnz if sp.issparse(X_tr) else X_tr.size
    auto = "direct" if _input_solve.prefers_direct(X_tr.shape[0], X_tr.shape[1], stored,
                                                   100) else "iterative"
    return {"dataset": name, "mode": mode, "auto_chooses": auto,
            "n_features": X_tr.shape[1], "n_rows": X_tr.shape[0],
            "stored_per_row": stored / X_tr.shape[0],
            "test_accuracy": model.score(X_te, y_te), "train_accuracy": model.score(X_tr, y_tr),
            "seconds": seconds, "n_iter": model.n_iter_,
            "products_per_solve": float(np.mean(products)) if products else None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets",
                        default="sms_spam_tfidf,ag_news_tfidf,one_hot_8x30,"
                                "sparse_2000,sparse_10000,sparse_50000")
    parser.add_argument("--modes", default="direct,iterative")
    parser.add_argument("--json", default="benchmarks/results/input_solve.json")
    args = parser.parse_args()
    rows = []
    for name in args.datasets.split(","):
        data = (sparse_synthetic(int(name.split("_")[1])) if name.startswith("sparse_")
                else load(name))
        if data is None:
            print(f"{name}: skipped, its file in the shared data folder is missing")
            continue
        for mode in args.modes.split(","):
            d = int(name.split("_")[1]) if name.startswith("sparse_") else None
            if mode == "direct" and d is not None and 8.0 * d * d > 2 ** 31:
                print(f"{name:<16} {mode:<10} skipped: its Gram would take {8 * d * d / 2**30:.0f} GiB")
                continue
            row = run(name, *data, mode)
            rows.append(row)
            per = row["products_per_solve"]
            print(f"{name:<16} {mode:<10} auto: {row['auto_chooses']:<10} d={row['n_features']:<6} "
                  f"test {row['test_accuracy']:.4f} (train {row['train_accuracy']:.4f}) "
                  f"{row['seconds']:7.1f} s, {row['n_iter']} sweeps"
                  + (f", {per:.1f} products a solve" if per else ""), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

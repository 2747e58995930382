"""Sparse text input: TfidfVectorizer + ADMMClassifier, MLPClassifier and
LogisticRegression on the SMS spam corpus of the shared data folder (one
75/25 stratified split, seed 0)::

    python benchmarks/sparse_text.py --json benchmarks/results/sparse_text.json

A first measurement of the wide, sparse regime (the input Gram is d x d).
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from admm_sklearn import ADMMClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms_spam_text.npz"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/sparse_text.json")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is missing (the shared data folder)")
        return
    with np.load(DATA, allow_pickle=True) as data:
        texts, y = data["texts"], data["y"]
    X_tr, X_te, y_tr, y_te = train_test_split(texts, y, test_size=0.25, stratify=y,
                                              random_state=0)
    rows = []
    for name, model in [("ADMMClassifier", ADMMClassifier(random_state=0)),
                        ("MLPClassifier (adam)", MLPClassifier(random_state=0)),
                        ("LogisticRegression", LogisticRegression(max_iter=1000))]:
        pipe = make_pipeline(TfidfVectorizer(min_df=args.min_df), model)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
        row = {"model": name, "test_accuracy": pipe.score(X_te, y_te),
               "train_accuracy": pipe.score(X_tr, y_tr), "seconds": seconds,
               "n_features": len(pipe[0].vocabulary_)}
        rows.append(row)
        print(f"{name:<22} test {row['test_accuracy']:.4f} (train {row['train_accuracy']:.4f})"
              f" {seconds:6.1f} s, {row['n_features']} features", flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

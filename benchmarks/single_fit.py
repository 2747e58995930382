"""One ADMMClassifier fit on one split of the accuracy harness: train and
test accuracy and fit seconds. The one-off measurements of
docs/what_we_tried.rst, "Penalty weights and the ridge", were run this way:

    python benchmarks/single_fit.py letter max_iter=200 beta=0.3
    python benchmarks/single_fit.py radial_bands "loss='hinge'" gamma=1.0

Parameters are ``name=value`` with Python literals for values; the split is
the harness's (75/25 stratified, ``random_state`` = ``--seed``, features
standardised on the training part).
"""

import argparse
import ast
import sys
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402

from admm_sklearn import ADMMClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("params", nargs="*", help="name=value (Python literal)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.params)}
    data = load(args.dataset)
    if data is None:
        raise SystemExit(f"{args.dataset}: its data file is missing (../shared/data)")
    X_tr, X_te, y_tr, y_te = standardised_split(*data, args.seed)
    clf = ADMMClassifier(**{"random_state": args.seed, **params})
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    print(f"{args.dataset} {params}: train {clf.score(X_tr, y_tr):.4f} "
          f"test {clf.score(X_te, y_te):.4f} {seconds:.1f}s n_iter {clf.n_iter_}")


if __name__ == "__main__":
    main()

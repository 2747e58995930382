"""Does ADMMRegressor hold a good network? Its sweeps started from MLPRegressor's.

Seed 0, 75/25 split, standardised inputs, a real regression set of the
shared data folder (at most 20,000 rows, as in the harness). MLPRegressor
(adam) is fitted on the standardised target; its weights (mapped to the
target's units) start ``ADMMRegressor(warm_start=True)`` fits of 20 to 800
sweeps, for the defaults and each variant. If the sweeps fall from MLP's
network to where a fit from a random start ends, the fixed point of the
penalised objective is the limit, not the path to it. Last, MLPRegressor
with the ridge that ADMM's ``alpha`` amounts to in a mean-loss objective
(``alpha_mlp = 2 alpha min(n, 30000)``, the ridge per row as it was
before 2026-12-04): what adam reaches under that ridge. Prints a table, writes JSON::

    python benchmarks/regression_from_mlp.py --dataset bike_sharing_hour \\
        --json benchmarks/results/regression_from_mlp_bike.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor

from admm_sklearn import ADMMRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load_regression_split  # noqa: E402


class PerRowRidge(ADMMRegressor):
    """The regressor as it was before 2026-12-04: the ridge per row up to
    30,000 rows (the classifier's), 0.006 times the rows' count at 13,000."""

    _ridge_max_samples = 30_000


VARIANTS = [("defaults", ADMMRegressor, {}),
            ("ridge per row", PerRowRidge, {}),
            ("ridge per row, no multipliers", PerRowRidge, {"n_warmup_iter": 1000}),
            ("ridge per row, alpha=1e-4", PerRowRidge, {"alpha": 1e-4}),
            ("ridge per row, alpha=1e-6", PerRowRidge, {"alpha": 1e-6})]
SWEEPS = (20, 100, 400, 800)
MLP_RIDGES = (1e-3, 3e-4, 1e-4, 1e-5)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="bike_sharing_hour")
    parser.add_argument("--json", default="benchmarks/results/regression_from_mlp.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    split = load_regression_split(args.dataset)
    if split is None:
        return
    X_tr, X_te, y_tr, y_te = split
    mean, std = y_tr.mean(), y_tr.std()
    rows = []

    def mlp_fit(alpha):
        mlp = MLPRegressor(random_state=0, alpha=alpha).fit(X_tr, (y_tr - mean) / std)
        scores = [r2_score(t, mlp.predict(Z) * std + mean)
                  for Z, t in ((X_te, y_te), (X_tr, y_tr))]
        return mlp, scores

    mlp, (test, train) = mlp_fit(1e-4)
    print(f"MLPRegressor (adam; y scaled)         test {test:.4f} (train {train:.4f})")
    rows.append({"model": "MLPRegressor", "test_r2": test, "train_r2": train})
    for label, cls, params in VARIANTS:
        for n_sweeps in SWEEPS:
            reg = cls(random_state=0, warm_start=True, max_iter=n_sweeps, **params)
            # MLP's network in the target's units, as a fitted estimator holds it
            reg.coefs_ = [c.copy() for c in mlp.coefs_[:-1]] + [mlp.coefs_[-1] * std]
            reg.intercepts_ = ([c.copy() for c in mlp.intercepts_[:-1]]
                               + [mlp.intercepts_[-1] * std + mean])
            reg.n_outputs_ = 1
            start = time.perf_counter()
            reg.fit(X_tr, y_tr)
            row = {"model": f"ADMM from MLP, {label}", "sweeps": n_sweeps,
                   "test_r2": reg.score(X_te, y_te), "train_r2": reg.score(X_tr, y_tr),
                   "seconds": time.perf_counter() - start}
            rows.append(row)
            print(f"ADMM from MLP, {label:<30} {n_sweeps:4d} sweeps  "
                  f"test {row['test_r2']:.4f} (train {row['train_r2']:.4f})", flush=True)
    n_ridge = min(len(y_tr), PerRowRidge._ridge_max_samples)
    for alpha in MLP_RIDGES:
        _, (test, train) = mlp_fit(2.0 * alpha * n_ridge)
        rows.append({"model": "MLPRegressor, ADMM's ridge", "admm_alpha": alpha,
                     "test_r2": test, "train_r2": train})
        print(f"MLPRegressor with ADMM's ridge alpha={alpha:g} (alpha_mlp "
              f"{2.0 * alpha * n_ridge:.3g})  test {test:.4f} (train {train:.4f})", flush=True)
    Path(args.json).write_text(json.dumps({"dataset": args.dataset, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

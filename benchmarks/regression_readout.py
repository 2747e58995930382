"""Where ADMMRegressor's underfitting comes from: its hidden layer or its readout?

Seed 0, 75/25 split, standardised inputs, a real regression set of the
shared data folder (at most 20,000 rows, as in the harness). For
ADMMRegressor (defaults, and with one parameter changed at a time) and for
MLPRegressor (adam) on the standardised target, the network's own R^2 and
that of a ridge regression (``alpha=1e-3``) fitted on its hidden layer's
features; and of 100 random ReLU features. Prints a table, writes JSON::

    python benchmarks/regression_readout.py --dataset bike_sharing_hour \\
        --json benchmarks/results/regression_readout_bike.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load_regression_split  # noqa: E402

CANDIDATES = [{}, {"balance": False}, {"beta": 10.0}, {"gamma": 1.0}, {"beta_hidden": 1.0},
              {"alpha": 1e-5}, {"max_iter": 2000}]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="bike_sharing_hour")
    parser.add_argument("--json", default="benchmarks/results/regression_readout.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    split = load_regression_split(args.dataset)
    if split is None:
        return
    X_tr, X_te, y_tr, y_te = split
    target = StandardScaler().fit(y_tr[:, None])
    t_tr, t_te = (target.transform(v[:, None]).ravel() for v in (y_tr, y_te))
    rows = []

    def readout(label, F_tr, F_te, network=None, seconds=None):
        ridge = Ridge(alpha=1e-3).fit(F_tr, t_tr)
        row = {"model": label, "network_test_r2": None if network is None else network[0],
               "network_train_r2": None if network is None else network[1],
               "readout_test_r2": r2_score(t_te, ridge.predict(F_te)),
               "readout_train_r2": r2_score(t_tr, ridge.predict(F_tr)), "seconds": seconds}
        rows.append(row)
        net = ("" if network is None
               else f"network {network[0]:.4f} (train {network[1]:.4f}), ")
        print(f"{label:<34} {net}ridge readout of its hidden layer "
              f"{row['readout_test_r2']:.4f} (train {row['readout_train_r2']:.4f})", flush=True)

    def hidden(model, Z):
        return np.maximum(Z @ model.coefs_[0] + model.intercepts_[0], 0)

    for params in CANDIDATES:
        start = time.perf_counter()
        model = ADMMRegressor(random_state=0, **params).fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
        readout(f"ADMMRegressor {params or 'defaults'}", hidden(model, X_tr), hidden(model, X_te),
                (model.score(X_te, y_te), model.score(X_tr, y_tr)), seconds)
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((X_tr.shape[1], 100)) / np.sqrt(X_tr.shape[1]), rng.normal(0, 0.5, 100)
    readout("100 random ReLU features", np.maximum(X_tr @ W + b, 0), np.maximum(X_te @ W + b, 0))
    start = time.perf_counter()
    mlp = MLPRegressor(random_state=0).fit(X_tr, t_tr)
    readout("MLPRegressor (adam; y scaled)", hidden(mlp, X_tr), hidden(mlp, X_te),
            (r2_score(t_te, mlp.predict(X_te)), r2_score(t_tr, mlp.predict(X_tr))),
            time.perf_counter() - start)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

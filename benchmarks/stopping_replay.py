"""Stopping rules replayed on recorded fits: accuracy given up against sweeps saved.

Each set and seed is fitted once with the training-loss checks on but never
stopping (``n_iter_no_change`` huge), recording the loss of every check
(``history_["network_loss"]``) and the test accuracy of the network the fit
would return every 20 sweeps. A check never changes the fit, so any rule of
the form "stop once the lowest loss has not fallen by ``tol`` for ``P``
sweeps (and, if growing, for as long as it took to reach it)" can then be
replayed exactly, offline, without refitting::

    python benchmarks/stopping_replay.py --seeds 3 \\
        --json benchmarks/results/stopping_replay.json

prints, per rule, the mean change of test accuracy against the full 800
sweeps (points) and the mean sweep at which each set stops.
"""

import argparse
import copy
import itertools
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load  # noqa: E402

from admm_sklearn import ADMMClassifier  # noqa: E402
from admm_sklearn._stopping import EVERY_TRAINING  # noqa: E402

SETS = ["breast_cancer", "digits_0_vs_2", "wine", "moons", "circles", "gaussian_quantiles",
        "digits", "radial_bands", "spirals", "parity_3_of_10", "letter"]
RULES = list(itertools.product([1e-4, 3e-4, 1e-3], [100, 150, 200], [False, True]))


class _Recorder:
    """Scores the network a fit would return every EVERY_TRAINING sweeps."""

    def __init__(self, model, test):
        self.model, self.test, self.points = model, test, {}

    def wants(self, sweep):
        return sweep % EVERY_TRAINING == 0

    def __call__(self, sweep, network):
        fitted = copy.copy(self.model)
        for name, value in network.items():
            setattr(fitted, name, value)
        self.points[sweep] = float(fitted.score(*self.test))


def record(name, seed):
    X, y = load(name)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    model = ADMMClassifier(random_state=seed, n_iter_no_change=10**9)
    model._sweep_monitor = _Recorder(model, (scaler.transform(X_te), y_te))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(scaler.transform(X_tr), y_tr)
    return {"losses": model.history_["network_loss"], "test": model._sweep_monitor.points}


def stop_sweep(losses, tol, patience, growing):
    """Where the rule ends a fit whose checks scored ``losses``."""
    best_loss, best_sweep = np.inf, None
    for sweep, loss in enumerate(losses, start=1):
        if not np.isnan(loss):
            if best_sweep is None or loss < best_loss - tol:
                best_sweep = sweep
            best_loss = min(best_loss, loss)
        wait = max(patience, best_sweep or 0) if growing else patience
        if best_sweep is not None and sweep - best_sweep >= wait:
            return sweep
    return len(losses)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--json", default="benchmarks/results/stopping_replay.json")
    args = parser.parse_args()
    fits = {}
    for name in args.datasets.split(","):
        for seed in range(args.seeds):
            fits[f"{name}/{seed}"] = record(name, seed)
            print(f"recorded {name} seed {seed}", flush=True)
    names = list(dict.fromkeys(k.split("/")[0] for k in fits))
    table = []
    print(f"\n{'rule':<30}{'worst':>7}" + "".join(f"{n[:12]:>14}" for n in names))
    for tol, patience, growing in RULES:
        row = {"tol": tol, "patience": patience, "growing": growing, "sets": {}}
        for name in names:
            change, stops = [], []
            for key, fit in fits.items():
                if key.split("/")[0] != name:
                    continue
                sweep = stop_sweep(fit["losses"], tol, patience, growing)
                scored = max(s for s in map(int, fit["test"]) if s <= sweep)
                change.append(fit["test"][scored] - fit["test"][max(map(int, fit["test"]))])
                stops.append(sweep)
            row["sets"][name] = (100 * float(np.mean(change)), float(np.mean(stops)))
        table.append(row)
        worst = min(c for c, _ in row["sets"].values())
        label = f"tol {tol:g} P {patience}" + (" growing" if growing else "")
        print(f"{label:<30}{worst:>+7.2f}" + "".join(
            f"{c:>+7.2f}/{s:<6.0f}" for c, s in row["sets"].values()))
    Path(args.json).write_text(json.dumps({"fits": fits, "rules": table}))


if __name__ == "__main__":
    main()

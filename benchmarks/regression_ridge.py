"""ADMMRegressor's ridge on real sets: where it stops growing, and schedules.

75/25 splits, standardised inputs, at most 20,000 rows per set (as in the
harness), (100,), test and training R^2 averaged over the seeds. Two
experiments, each a line per setting and set:

* ``--caps 3000,1000,300``: the number of samples past which the ridge
  stops growing (``ADMMRegressor._ridge_max_samples``; ``none``: never).
* ``--schedules 1e-3:1e-4:400,...``: the ridge per sample falls
  geometrically from the first value to the second over the given number
  of sweeps, then stays, with no cap (strong early for the path from a
  random start, weak late for the fixed point).
* ``--cap-schedules 30000:1000:400,...``: the ridge is ``alpha`` per
  sample up to a cap that falls geometrically from the first count to the
  second over the given number of sweeps.

Both schedules reach every layer: layer 1's direct solve, which factorises
its Gram once for a fit's constant ridge, is refactorised here whenever
the ridge changes. (A first run of the per-sample schedules without that
kept layer 1 at its first sweep's ridge: only the layers above followed.)

::

    python benchmarks/regression_ridge.py --caps 3000,1000,300 \\
        --datasets bike_sharing_hour,protein_casp,wine_quality_all,kin8nm \\
        --seeds 0,1 --json benchmarks/results/regression_ridge_caps.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from admm_sklearn import ADMMRegressor, _engine, _input_solve
from admm_sklearn._updates import GramFactor, solve_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402


def geometric(start, end, n_sweeps, sweep):
    """``start`` to ``end`` geometrically over ``n_sweeps``, then ``end``."""
    return start * (end / start) ** min(sweep / max(n_sweeps, 1), 1.0)


def scheduled_ridge(start, end, n_sweeps):
    """An ``ADMMSolver._ridge`` whose per-sample weight goes from ``start``
    to ``end`` geometrically over ``n_sweeps`` sweeps, uncapped."""
    def ridge(solver):
        return geometric(start, end, n_sweeps, solver.n_iter) * solver.n_samples
    return ridge


def scheduled_cap(start, end, n_sweeps):
    """An ``ADMMSolver._ridge``: ``alpha`` per sample up to a cap that goes
    from ``start`` to ``end`` samples geometrically over ``n_sweeps``."""
    def ridge(solver):
        return solver.alpha * min(solver.n_samples,
                                  geometric(start, end, n_sweeps, solver.n_iter))
    return ridge


def refactorising_solve(self, cross, ridge, previous=None):
    """``DirectInputSolve.solve`` for a ridge that changes during the fit:
    keeps the Gram, factorises it again whenever the ridge moves."""
    ridge = ridge * self.ridge_factor
    if getattr(self, "_kept_gram", None) is None:
        self._kept_gram, self._factor_ridge = self.coordinates.gram(self._gram), None
    if self._factor_ridge != ridge:
        self._factor, self._factor_ridge = GramFactor(self._kept_gram, ridge), ridge
    return solve_weights(self.coordinates.cross(cross), None, ridge, factor=self._factor)


def run(label, datasets, seeds, rows):
    for name in datasets:
        data = load(name)
        if data is None:
            print(f"{name}: skipped, missing from the shared data folder")
            continue
        X, y = data
        test, train, begin = [], [], time.perf_counter()
        for seed in seeds:
            X_tr, X_te, y_tr, y_te = standardised_split(X, y, seed, stratify=False)
            reg = ADMMRegressor(random_state=seed).fit(X_tr, y_tr)
            test.append(reg.score(X_te, y_te))
            train.append(reg.score(X_tr, y_tr))
        rows.append({"setting": label, "dataset": name, "seeds": seeds, "test_r2": test,
                     "train_r2": train, "seconds": time.perf_counter() - begin})
        print(f"{label:<28} {name:<18} test {np.mean(test):.4f} (train {np.mean(train):.4f})"
              f"  seeds: {' '.join(f'{v:.3f}' for v in test)}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--caps", default="")
    parser.add_argument("--schedules", default="")
    parser.add_argument("--cap-schedules", default="")
    parser.add_argument("--datasets", default="bike_sharing_hour,protein_casp")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--json", default="benchmarks/results/regression_ridge.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    datasets = args.datasets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    defaults = (ADMMRegressor._ridge_max_samples, _engine.ADMMSolver._ridge,
                _input_solve.DirectInputSolve.solve)
    try:
        for cap in filter(None, args.caps.split(",")):
            ADMMRegressor._ridge_max_samples = None if cap == "none" else int(cap)
            run(f"ridge capped at {cap}", datasets, seeds, rows)
        ADMMRegressor._ridge_max_samples = defaults[0]
        _input_solve.DirectInputSolve.solve = refactorising_solve
        for schedule in filter(None, args.schedules.split(",")):
            start, end, n_sweeps = schedule.split(":")
            _engine.ADMMSolver._ridge = scheduled_ridge(float(start), float(end), int(n_sweeps))
            run(f"ridge {start} -> {end} / {n_sweeps}", datasets, seeds, rows)
        for schedule in filter(None, args.cap_schedules.split(",")):
            start, end, n_sweeps = schedule.split(":")
            _engine.ADMMSolver._ridge = scheduled_cap(float(start), float(end), int(n_sweeps))
            run(f"cap {start} -> {end} / {n_sweeps}", datasets, seeds, rows)
    finally:
        (ADMMRegressor._ridge_max_samples, _engine.ADMMSolver._ridge,
         _input_solve.DirectInputSolve.solve) = defaults
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

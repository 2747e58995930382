"""Why an upper stage generalises worse than MLPClassifier's on the same
features: the features, the start, or the optimiser?

For each seed: a (100,) first layer fitted by MLPClassifier (adam) and by
ADMMClassifier (defaults) on the standardised inputs; on its features
``relu(X W_1 + b_1)`` (one scale, as the layer-wise fit gives its upper
stages) a second stage of 100 units. Every ADMM fit on the features is
solved as the layer-wise fit solves an upper stage (one scale for all its
inputs, no fan-in ridge); the first layers are fitted as the package fits
a one-layer network (its unit passes under ``LOG_LOSS_RIDGE``; since
2026-12-08 a deep fit's first stage uses ``FEATURE_STAGE_LOG_LOSS_RIDGE``
instead, so this first layer is the one-layer fit's, not the deep fit's).
The second stages:

* ``logistic``: LogisticRegression on the features (no hidden layer);
* ``admm``: ADMMClassifier, 400 sweeps (an upper stage's budget), no unit
  passes (an upper stage has none);
* ``passes from k``: the unit passes (exact block steps on the log-loss's
  quadratic bound, ``admm_sklearn/_unit_refit.py``) run on the state of an
  ADMM stage after ``k`` sweeps, the package's limits lifted for this probe
  (at most 64 inputs, as many samples as weights, a held-out tenth), with
  ``LOG_LOSS_RIDGE`` 1;
* ``lbfgs from k``: MLPClassifier (lbfgs, alpha 1e-4, up to 2,000
  iterations) started from the same ADMM stage's network after ``k`` sweeps;
* ``mlp adam`` / ``mlp lbfgs``: MLPClassifier from its own start.

Prints test (training) accuracy and writes them as JSON::

    python benchmarks/depth_stage_optimiser.py --datasets parity_3_of_10 --seeds 3 \\
        --json benchmarks/results/depth_stage_optimiser.json
"""

import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402

import admm_sklearn._fit as _fit  # noqa: E402
import admm_sklearn._unit_refit as _unit_refit  # noqa: E402
from admm_sklearn import ADMMClassifier  # noqa: E402


@contextlib.contextmanager
def _second_stage():
    """Within it, every ADMM fit is solved as a layer-wise fit's upper stage
    is (one scale for all its inputs, no fan-in ridge: ``_Fit._new_solver``
    with layers below it), and its unit passes, where asked for, run on any
    one-hidden-layer fit, on all rows, with ``LOG_LOSS_RIDGE`` 1. The first
    layers are fitted outside it, as the package fits them."""
    kept = (_fit._Fit._new_solver, _fit.unit_refit_applies, _unit_refit.HOLDOUT,
            _unit_refit.LOG_LOSS_RIDGE)
    new_solver = kept[0]

    def upper(self, sizes):
        frozen, self.frozen = self.frozen, [None]
        try:
            return new_solver(self, sizes)
        finally:
            self.frozen = frozen

    _fit._Fit._new_solver = upper
    _fit.unit_refit_applies = (lambda solver, n_passes, frozen: n_passes > 0
                               and solver.n_layers == 2)
    _unit_refit.HOLDOUT = {"squared_error": 0.0, "log_loss": 0.0}
    _unit_refit.LOG_LOSS_RIDGE = 1.0
    try:
        yield
    finally:
        (_fit._Fit._new_solver, _fit.unit_refit_applies, _unit_refit.HOLDOUT,
         _unit_refit.LOG_LOSS_RIDGE) = kept


def _lbfgs_from(stage, F_tr, y_tr):
    """MLPClassifier (lbfgs) continued from ``stage``'s network."""
    mlp = MLPClassifier(solver="lbfgs", max_iter=1, random_state=0).fit(F_tr, y_tr)
    mlp.coefs_ = [np.array(c, dtype=float) for c in stage.coefs_]
    mlp.intercepts_ = [np.array(b, dtype=float) for b in stage.intercepts_]
    return mlp.set_params(warm_start=True, max_iter=2000).fit(F_tr, y_tr)


def second_stages(F_tr, y_tr, seed):
    """Every second stage of the module docstring, by name."""
    fits = {"logistic": LogisticRegression(max_iter=2000).fit(F_tr, y_tr)}
    for k in (1, 100, 400):
        stage = ADMMClassifier(random_state=seed + 1, max_iter=k,
                               unit_refit_passes=0).fit(F_tr, y_tr)
        if k == 400:
            fits["admm"] = stage
        fits[f"lbfgs from {k}"] = _lbfgs_from(stage, F_tr, y_tr)
        if k < 400:
            fits[f"passes from {k}"] = ADMMClassifier(
                random_state=seed + 1, max_iter=k, unit_refit_passes=300).fit(F_tr, y_tr)
    fits["mlp adam"] = MLPClassifier(random_state=seed + 1).fit(F_tr, y_tr)
    fits["mlp lbfgs"] = MLPClassifier(solver="lbfgs", max_iter=2000,
                                      random_state=seed + 1).fit(F_tr, y_tr)
    return fits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="parity_3_of_10")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", default="benchmarks/results/depth_stage_optimiser.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for name in args.datasets.split(","):
        X, y = load(name)
        for seed in range(args.seeds):
            X_tr, X_te, y_tr, y_te = standardised_split(X, y, seed)
            first = {"mlp": MLPClassifier(random_state=seed).fit(X_tr, y_tr),
                     "admm": ADMMClassifier(random_state=seed).fit(X_tr, y_tr)}
            for source, layer in first.items():
                F_tr, F_te = (np.maximum(Z @ layer.coefs_[0] + layer.intercepts_[0], 0.0)
                              for Z in (X_tr, X_te))
                scale = np.sqrt(np.mean(np.sum(F_tr ** 2, axis=1)) / F_tr.shape[1])
                F_tr, F_te = F_tr / scale, F_te / scale
                with _second_stage():
                    stages = second_stages(F_tr, y_tr, seed)
                for stage, model in stages.items():
                    row = {"dataset": name, "seed": seed, "first_layer": source,
                           "second_stage": stage, "test": model.score(F_te, y_te),
                           "train": model.score(F_tr, y_tr)}
                    rows.append(row)
                    print(f"{name} seed {seed} first layer {source:<5} {stage:<16} "
                          f"{row['test']:.4f} ({row['train']:.4f})", flush=True)
    print("\nmean test (training) accuracy over seeds")
    for name in dict.fromkeys(r["dataset"] for r in rows):
        for source in ("mlp", "admm"):
            for stage in dict.fromkeys(r["second_stage"] for r in rows):
                sel = [r for r in rows if (r["dataset"], r["first_layer"], r["second_stage"])
                       == (name, source, stage)]
                print(f"{name:<16} {source:<5} {stage:<16} "
                      f"{np.mean([r['test'] for r in sel]):.4f} "
                      f"({np.mean([r['train'] for r in sel]):.4f})")
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

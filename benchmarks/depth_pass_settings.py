"""The unit passes in a layer-wise fit: on the upper stages too, and with
other settings on the first stage (a probe: it patches the package).

Variants (``--variants``, comma-separated):

* ``main``: the package as it is (passes on the first stage only, a tenth
  of the rows held out, ``FEATURE_STAGE_LOG_LOSS_RIDGE`` 0.3, none on the
  upper stages; before version 0.1.0's change of 2026-12-08 the first
  stage's ridge was ``LOG_LOSS_RIDGE``'s 0.1, the variant ``first 0.1
  held`` now);
* ``upper``: also passes on every upper stage, on all rows, with the
  network's own ridge (``beta`` times the solver's), skipped where the
  stage misclassifies under 1% of its training rows, and kept only where
  they raise its training accuracy;
* ``first R``: the first stage's passes on all rows (none held out) with
  the ridge ``R`` (``first R held``: with the package's held-out share
  kept); ``upper first R`` both;
* ``es`` (with any of the above): every upper stage picks its number of
  sweeps by ``early_stopping`` (a run on nine tenths of the rows scored on
  the tenth held out, then that many sweeps on all of them), the first
  stage as the package fits it (other words in a variant's name are
  ignored: ``plain first 0.3`` is ``first 0.3``).

Prints test (training) accuracy per fit and the means, writes JSON::

    python benchmarks/depth_pass_settings.py --hidden 100,100 --seeds 3 \\
        --datasets parity_3_of_10,spirals --variants "main,upper,upper first 1" \\
        --json benchmarks/results/depth_pass_settings.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402

import admm_sklearn._fit as _fit  # noqa: E402
import admm_sklearn._unit_refit as _unit_refit  # noqa: E402
from admm_sklearn import ADMMClassifier  # noqa: E402

ALL_ROWS = {"squared_error": 0.0, "log_loss": 0.0}
#: Training error under which an upper stage's passes do not run (the deep
#: passes' MIN_TRAINING_ERROR).
MIN_TRAINING_ERROR = 0.01
SETTINGS = {}  # the variant being fitted: {"upper": bool, "first": ridge or None}


def _with(holdout, ridge, run):
    """``run()`` with the passes' held-out share and ridge (of a network
    returned and of a first stage's features alike) set."""
    names = "HOLDOUT", "LOG_LOSS_RIDGE", "FEATURE_STAGE_LOG_LOSS_RIDGE"
    kept = [getattr(_unit_refit, name) for name in names]
    for name, value in zip(names, (holdout, ridge, ridge)):
        setattr(_unit_refit, name, value)
    try:
        return run()
    finally:
        for name, value in zip(names, kept):
            setattr(_unit_refit, name, value)


def _training_accuracy(backend, weights):
    """The stage network's accuracy on its (serial or joblib) shards."""
    (W1, b1), (W2, b2) = weights
    right = total = 0
    for shard in backend.shards:
        out = np.maximum(np.asarray(shard.x, dtype=float) @ W1.T + b1, 0.0) @ W2.T + b2
        Y = np.asarray(shard.y)
        ok = (out[:, 0] > 0) == (Y[:, 0] > 0.5) if Y.shape[1] == 1 else (
            out.argmax(axis=1) == Y.argmax(axis=1))
        right, total = right + int(ok.sum()), total + ok.size
    return right / total


def _patch():
    refine, applies, run = _fit._Fit._refine_units, _fit.unit_refit_applies, _fit._Fit.run

    def patched_run(self, *args, **kwargs):
        if not (self.frozen and SETTINGS.get("es")):
            return run(self, *args, **kwargs)
        kept, self.est.early_stopping = self.est.early_stopping, True
        try:
            result = run(self, *args, **kwargs)
        finally:
            self.est.early_stopping = kept
        # the first stage's history has no validation columns to merge with
        result["history_"] = {k: v for k, v in result["history_"].items()
                              if not k.startswith("validation_")}
        result["validation_scores_"] = None
        return result

    def patched_applies(solver, n_passes, frozen):
        if frozen and SETTINGS.get("upper"):
            return n_passes > 0 and solver.n_layers == 2 and solver.activation == "relu"
        return applies(solver, n_passes, frozen)

    def patched_refine(self, solver, weights):
        if not self.frozen:
            if SETTINGS.get("first") is None:
                return refine(self, solver, weights)
            holdout = _unit_refit.HOLDOUT if SETTINGS.get("held") else ALL_ROWS
            return _with(holdout, SETTINGS["first"], lambda: refine(self, solver, weights))
        # an upper stage: patched_applies let it in only with "upper"
        before = _training_accuracy(self.backend, weights)
        if 1.0 - before < MIN_TRAINING_ERROR:
            return weights
        refit = _with(ALL_ROWS, solver.beta,
                      lambda: _unit_refit.UnitRefit(solver, self.backend, weights))
        after = refit.run(self.est.unit_refit_passes)
        self.n_unit_refit_passes = refit.n_passes
        return after if _training_accuracy(self.backend, after) > before else weights

    _fit.unit_refit_applies, _fit._Fit._refine_units = patched_applies, patched_refine
    _fit._Fit.run = patched_run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="parity_3_of_10,spirals")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hidden", default="100,100")
    parser.add_argument("--variants", default="main,upper,upper first 1")
    parser.add_argument("--unit-refit-passes", type=int, default=None,
                        help="the estimators' unit_refit_passes (default: theirs)")
    parser.add_argument("--json", default="benchmarks/results/depth_pass_settings.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    _patch()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    variants = args.variants.split(",")
    rows = []
    for name in args.datasets.split(","):
        X, y = load(name)
        for seed in range(args.seeds):
            X_tr, X_te, y_tr, y_te = standardised_split(X, y, seed)
            for variant in variants:
                words = variant.split()
                SETTINGS.clear()
                SETTINGS.update(upper="upper" in words, held="held" in words, es="es" in words,
                                first=(float(words[words.index("first") + 1])
                                       if "first" in words else None))
                start = time.perf_counter()
                passes = ({} if args.unit_refit_passes is None
                          else {"unit_refit_passes": args.unit_refit_passes})
                model = ADMMClassifier(hidden_layer_sizes=hidden, random_state=seed,
                                       **passes).fit(X_tr, y_tr)
                row = {"dataset": name, "seed": seed, "variant": variant,
                       "test": model.score(X_te, y_te), "train": model.score(X_tr, y_tr),
                       "seconds": time.perf_counter() - start,
                       "passes": model.n_unit_refit_passes_, "sweeps": model.n_iter_}
                rows.append(row)
                print(f"{name[-24:]:<24} seed {seed} {variant:<16} {row['test']:.4f} "
                      f"({row['train']:.4f}) {row['passes']:4d} passes {row['seconds']:6.1f} s",
                      flush=True)
    print(f"\nmean test (training) accuracy, {args.seeds} seeds, {hidden}")
    for name in dict.fromkeys(r["dataset"] for r in rows):
        cells = []
        for variant in variants:
            sel = [r for r in rows if r["dataset"] == name and r["variant"] == variant]
            cells.append(f"{variant}: {np.mean([r['test'] for r in sel]):.4f} "
                         f"({np.mean([r['train'] for r in sel]):.4f})")
        print(f"{name[-24:]:<24} " + "   ".join(cells))
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""Joint sweeps at depth with every penalty weight grown during the fit.

A research probe for the depth issue (``docs/what_we_tried.rst``, "Depth"):
``deep_training='joint'`` with ``beta``, ``beta_hidden`` and ``gamma`` all
multiplied by ``s_t = s_0 (s_1 / s_0)^(t / max_iter)`` before sweep ``t``.
Scaling every penalty by one factor leaves the weight solves unchanged (the
ridge scales with ``beta_l``) and only weighs the loss against the
constraints: a small ``s`` lets the state follow the labels, a growing one
pulls it onto the network (the continuation of public reproductions of the
paper, which start the penalties near 1e-8 and grow them x1.05 per
update). The factor is applied by wrapping ``ADMMSolver.step``, so the
package itself is untouched. ``tol=None``: every fit runs ``max_iter``
sweeps. Seed per run, 75/25 stratified split, standardised inputs::

    python benchmarks/depth_penalty_homotopy.py --datasets parity_3_of_10 \\
        --schedules 1:1,1e-4:0.1 --json benchmarks/results/depth_penalty_homotopy.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

from admm_sklearn import ADMMClassifier
from admm_sklearn._engine import ADMMSolver

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402

_STEP = ADMMSolver.step


def scaled_step(s0, s1, n_sweeps):
    """``ADMMSolver.step`` with the penalties scaled by ``s_t`` first."""
    rate = (s1 / s0) ** (1.0 / n_sweeps)

    def step(self, backend, update_multipliers=True):
        if not hasattr(self, "_unscaled"):
            self._unscaled = (self.beta, self.beta_hidden, self.gamma)
        s = s0 * rate ** self.n_iter
        self.beta, self.beta_hidden, self.gamma = (v * s for v in self._unscaled)
        return _STEP(self, backend, update_multipliers)
    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="parity_3_of_10")
    parser.add_argument("--hidden", default="100,100")
    parser.add_argument("--schedules", default="1:1,1e-4:0.1",
                        help="comma-separated s0:s1 pairs")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--max-iter", type=int, default=800)
    parser.add_argument("--json", default="benchmarks/results/depth_penalty_homotopy.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    rows = []
    for name in args.datasets.split(","):
        X, y = load(name)
        for seed in (int(s) for s in args.seeds.split(",")):
            X_tr, X_te, y_tr, y_te = standardised_split(X, y, seed)
            for schedule in args.schedules.split(","):
                s0, s1 = (float(v) for v in schedule.split(":"))
                ADMMSolver.step = scaled_step(s0, s1, args.max_iter)
                try:
                    start = time.perf_counter()
                    clf = ADMMClassifier(hidden_layer_sizes=hidden, deep_training="joint",
                                         tol=None, max_iter=args.max_iter,
                                         random_state=seed).fit(X_tr, y_tr)
                    seconds = time.perf_counter() - start
                finally:
                    ADMMSolver.step = _STEP
                row = {"dataset": name, "seed": seed, "hidden": hidden, "s0": s0, "s1": s1,
                       "test_accuracy": clf.score(X_te, y_te),
                       "train_accuracy": clf.score(X_tr, y_tr), "seconds": seconds}
                rows.append(row)
                print(f"{name:<22} seed {seed} {hidden} s {s0:g} -> {s1:g}: test "
                      f"{row['test_accuracy']:.4f} (train {row['train_accuracy']:.4f}) "
                      f"{seconds:.1f}s", flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

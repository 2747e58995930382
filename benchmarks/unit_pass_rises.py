"""The unit passes' early end on a rising held-out loss, against the patience alone.

The classifier's unit passes (``admm_sklearn/_unit_refit.py``) return the
pass with the lowest held-out loss and end after ``PATIENCE`` passes
without a new lowest. Where they fit the labels' noise from the first pass
on, the held-out loss rises every pass and those passes are wasted; the
rule ``RISES`` ends them once that many passes in a row raised it while
none has beaten the sweeps' network. Each set and seed is fitted twice in
the same process, with the rule off and on, one after the other; the
networks are compared (identical unless the rule changed the pass
returned) and the fit times reported (median over ``--repeats``)::

    python benchmarks/unit_pass_rises.py --seeds 0,1,2 \\
        --json benchmarks/results/unit_pass_rises.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import SHARED, load, machine, standardised_split  # noqa: E402

from admm_sklearn import ADMMClassifier  # noqa: E402
from admm_sklearn import _unit_refit  # noqa: E402

SETS = ["moons", "circles", "gaussian_quantiles", "radial_bands", "spirals", "parity_3_of_10",
        "checkerboard_2_of_10", "letter", "classification_40k", f"{SHARED}/satimage.npz",
        f"{SHARED}/pendigits.npz", f"{SHARED}/credit_default_taiwan.npz"]


def fit(X, y, hidden, seed, rises):
    _unit_refit.RISES = rises
    start = time.perf_counter()
    est = ADMMClassifier(hidden_layer_sizes=hidden, random_state=seed).fit(X, y)
    return est, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default=",".join(SETS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--hidden", default="100")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    hidden = tuple(int(h) for h in args.hidden.split(","))
    rises = _unit_refit.RISES
    rows = []
    print("measured on " + ", ".join(f"{k} {v}" for k, v in machine().items()))
    print(f"hidden {hidden}, RISES {rises} against off")
    print(f"{'dataset':24s} seed  passes off/on  same network  test off/on      seconds off/on")
    for name in args.datasets.split(","):
        data = load(name)
        if data is None:
            print(f"skipped: {name} is missing")
            continue
        for seed in map(int, args.seeds.split(",")):
            X_tr, X_te, y_tr, y_te = standardised_split(*data, seed)
            times = {"off": [], "on": []}
            for _ in range(args.repeats):
                for key, value in (("off", 10 ** 9), ("on", rises)):
                    est, seconds = fit(X_tr, y_tr, hidden, seed, value)
                    times[key].append(seconds)
                    if key == "off":
                        off = est
            on = est
            same = all(np.array_equal(a, b) for a, b in zip(off.coefs_ + off.intercepts_,
                                                            on.coefs_ + on.intercepts_))
            row = dict(dataset=name, seed=seed, hidden=list(hidden),
                       passes_off=off.n_unit_refit_passes_, passes_on=on.n_unit_refit_passes_,
                       same_network=same, test_off=off.score(X_te, y_te),
                       test_on=on.score(X_te, y_te), train_off=off.score(X_tr, y_tr),
                       train_on=on.score(X_tr, y_tr),
                       seconds_off=float(np.median(times["off"])),
                       seconds_on=float(np.median(times["on"])))
            rows.append(row)
            print(f"{Path(name).stem[-24:]:24s} {seed:4d}  {row['passes_off']:6d} /"
                  f"{row['passes_on']:3d}  {str(same):12s}  "
                  f"{row['test_off']:.4f} / {row['test_on']:.4f}"
                  f"  {row['seconds_off']:6.2f} / {row['seconds_on']:6.2f}", flush=True)
    _unit_refit.RISES = rises
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

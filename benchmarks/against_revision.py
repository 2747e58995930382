"""Fit times and networks of the working tree against an earlier revision.

Each (data set, seed) is fitted by both versions of the package, each fit
in a fresh process (one after the other, alternating, ``--repeats`` times),
on the same split: a change meant to speed the package up without changing
what it computes shows here as the same network (a digest of the fitted
weights) in less time. The revision is exported with ``git archive`` into
a temporary folder; every version is warmed up once first, so that numba's
compilation is not timed::

    python benchmarks/against_revision.py --revision HEAD --repeats 3 \\
        --classification spirals,parity_3_of_10 --regression friedman1 \\
        --json benchmarks/results/against_revision.json

``--hidden 100,100`` fits that depth instead of one hidden layer. The first
fit of a process also loads numba's cache and typing context (0.3-0.5 s),
which swamps fits of a few hundred rows: ``--warm`` times a second,
identical fit in each process instead.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(args):
    """One fit with the package found first on ``sys.path``; prints JSON."""
    warnings.filterwarnings("ignore")
    # an editable install maps the package to its checkout whatever the path;
    # imported before the harness, which puts this checkout first on the path
    sys.meta_path = [f for f in sys.meta_path if "__editable__" not in f.__module__]
    import admm_sklearn
    from sklearn.base import clone

    sys.path.insert(0, str(HERE))
    from accuracy import load, load_regression_split, standardised_split

    hidden = tuple(int(h) for h in args.hidden.split(","))
    if args.task == "regression":
        Xtr, Xte, ytr, yte = load_regression_split(args.dataset, args.seed)
        est = admm_sklearn.ADMMRegressor(hidden_layer_sizes=hidden, random_state=args.seed)
    else:
        X, y = load(args.dataset)
        Xtr, Xte, ytr, yte = standardised_split(X, y, args.seed)
        est = admm_sklearn.ADMMClassifier(hidden_layer_sizes=hidden, random_state=args.seed)
    if args.warm:  # the same fit, untimed: loads what the timed one needs
        clone(est).fit(Xtr, ytr)
    start = time.perf_counter()
    est.fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes()
                                     for w in est.coefs_ + est.intercepts_)).hexdigest()
    print(json.dumps({"seconds": seconds, "test": est.score(Xte, yte),
                      "train": est.score(Xtr, ytr), "digest": digest[:16],
                      "package": str(Path(admm_sklearn.__file__).parent.parent)}))


def run_child(source, task, dataset, seed, hidden, warm=False):
    env = dict(os.environ, PYTHONPATH=str(source))
    out = subprocess.run([sys.executable, __file__, "--child", "--task", task, "--dataset",
                          dataset, "--seed", str(seed), "--hidden", hidden]
                         + (["--warm"] if warm else []),
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["package"]) == Path(source), result["package"]
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--revision", default="HEAD")
    p.add_argument("--classification", default="spirals,parity_3_of_10")
    p.add_argument("--regression", default="friedman1")
    p.add_argument("--seeds", default="0")
    p.add_argument("--hidden", default="100")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    p.add_argument("--warm", action="store_true",
                   help="time a second identical fit in each process (small sets)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--task", help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    sys.path.insert(0, str(HERE))
    from accuracy import machine

    cases = [("classification", d) for d in args.classification.split(",") if d]
    cases += [("regression", d) for d in args.regression.split(",") if d]
    seeds = [int(s) for s in args.seeds.split(",")]
    commit = subprocess.run(["git", "rev-parse", "--short", args.revision], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        versions = {commit: Path(old), "working tree": ROOT}
        print("measured on " + ", ".join(f"{k} {v}" for k, v in machine().items()))
        print(f"hidden ({args.hidden}), {args.repeats} repeats, median fit seconds"
              + (", each the second fit of its process" if args.warm else ""))
        print(f"{'data set':22s} seed  {commit + ' s':>10s}  {'tree s':>8s}  ratio  "
              "same network  test (train)")
        for name, source in versions.items():  # compile each version's kernels once
            run_child(source, cases[0][0], cases[0][1], seeds[0], args.hidden)
        for task, dataset in cases:
            for seed in seeds:
                runs = {name: [] for name in versions}
                for _ in range(args.repeats):
                    for name, source in versions.items():
                        runs[name].append(run_child(source, task, dataset, seed, args.hidden,
                                                    args.warm))
                old_s, new_s = (float(np.median([r["seconds"] for r in runs[n]]))
                                for n in versions)
                old_r, new_r = runs[commit][0], runs["working tree"][0]
                same = old_r["digest"] == new_r["digest"]
                rows.append({"dataset": dataset, "task": task, "seed": seed,
                             "hidden": args.hidden, "revision": commit, "warm": args.warm,
                             "seconds_revision": old_s, "seconds_tree": new_s,
                             "same_network": same, "revision_fit": old_r, "tree_fit": new_r})
                print(f"{dataset[-22:]:22s} {seed:4d}  {old_s:10.2f}  {new_s:8.2f}  "
                      f"{new_s / old_s:5.2f}  {'yes' if same else 'no':12s}  "
                      f"{old_r['test']:.4f} ({old_r['train']:.4f}) / "
                      f"{new_r['test']:.4f} ({new_r['train']:.4f})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

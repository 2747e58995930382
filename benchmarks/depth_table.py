"""The depth tier's table, from accuracy-harness result files (no fit runs here).

    python benchmarks/depth_table.py \
        --one benchmarks/results/accuracy_newton_refit_3seeds.json \
              benchmarks/results/depth_100_real_3seeds.json \
        --deep benchmarks/results/depth_100_100_3seeds.json

For every data set of the ``--deep`` file: mean test (training) accuracy of
ADMMClassifier and MLPClassifier (adam) at that depth, ADMM's gap to MLP and
to ADMM with one hidden layer (from the ``--one`` files, same seeds and
splits), and the ratio of mean fit times, ADMM over MLP, of the same run.
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

ADMM, MLP = "ADMMClassifier", "MLPClassifier (adam)"


def means(paths):
    """``{(dataset, model): (test, train, seconds, n_seeds)}`` over the files' rows."""
    rows = defaultdict(list)
    for path in paths:
        for row in json.loads(Path(path).read_text()):
            rows[Path(row["dataset"]).stem, row["model"]].append(row)
    return {key: (np.mean([r["test_accuracy"] for r in rs]),
                  np.mean([r["train_accuracy"] for r in rs]),
                  np.mean([r["seconds"] for r in rs]), len(rs))
            for key, rs in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", nargs="+", required=True)
    parser.add_argument("--deep", required=True)
    args = parser.parse_args(argv)
    one, deep = means(args.one), means([args.deep])
    print(f"{'dataset':<20}{'ADMM (100,)':>16}{'ADMM deep':>16}{'MLP deep':>16}"
          f"{'to MLP':>8}{'to (100,)':>10}{'time ratio':>11}")
    for name in dict.fromkeys(d for d, _ in deep):
        a, m, o = deep.get((name, ADMM)), deep.get((name, MLP)), one.get((name, ADMM))
        if a is None or m is None:
            continue
        cell = (lambda v: f"{v[0]:.3f} ({v[1]:.3f})")
        print(f"{name:<20}{cell(o) if o else '-':>16}{cell(a):>16}{cell(m):>16}"
              f"{100 * (a[0] - m[0]):>+8.1f}"
              f"{(format(100 * (a[0] - o[0]), '+.1f') if o else '-'):>10}"
              f"{a[2] / m[2]:>10.2f}x")


if __name__ == "__main__":
    main()

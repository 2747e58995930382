"""Which half of a layer-by-layer (100, 100) network falls short: its frozen
first layer or the second stage fitted on it?

Seed 0, 75/25 stratified split, standardised inputs. Fits a (100,)
ADMMClassifier and a (100,) MLPClassifier (adam) on the inputs, then, on the
first layer features ``relu(X W_1 + b_1)`` of each, a second stage: a (100,)
ADMMClassifier (400 sweeps, as the layer-wise fit's upper stages run) and a
(100,) MLPClassifier. Prints test and training accuracy of each pairing and
writes them as JSON::

    python benchmarks/depth_stage_readout.py --datasets spirals,parity_3_of_10 \\
        --json benchmarks/results/depth_stage_readout.json
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from admm_sklearn import ADMMClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="spirals,parity_3_of_10")
    parser.add_argument("--json", default="benchmarks/results/depth_stage_readout.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    for name in args.datasets.split(","):
        X, y = load(name)
        X_tr, X_te, y_tr, y_te = standardised_split(X, y, 0)
        first = {"admm": ADMMClassifier(random_state=0).fit(X_tr, y_tr),
                 "mlp": MLPClassifier(random_state=0).fit(X_tr, y_tr)}
        for source, model in first.items():
            rows.append({"dataset": name, "first_layer": source, "second_stage": None,
                         "test_accuracy": model.score(X_te, y_te),
                         "train_accuracy": model.score(X_tr, y_tr)})
            F_tr, F_te = (np.maximum(Z @ model.coefs_[0] + model.intercepts_[0], 0)
                          for Z in (X_tr, X_te))
            for top in ("admm", "mlp"):
                stage = (ADMMClassifier(random_state=1, max_iter=400) if top == "admm"
                         else MLPClassifier(random_state=1)).fit(F_tr, y_tr)
                rows.append({"dataset": name, "first_layer": source, "second_stage": top,
                             "test_accuracy": stage.score(F_te, y_te),
                             "train_accuracy": stage.score(F_tr, y_tr)})
        for row in rows[-6:]:
            print(f"{name:<16} first layer {row['first_layer']:<5} second stage "
                  f"{str(row['second_stage']):<5} test {row['test_accuracy']:.4f} "
                  f"(train {row['train_accuracy']:.4f})", flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

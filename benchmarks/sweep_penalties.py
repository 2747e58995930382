"""The beta / gamma / alpha sweep quoted in docs/what_we_tried.rst, "Penalty weights and the ridge".

    python benchmarks/sweep_penalties.py [config ...]

Prints ``dataset config train_accuracy test_accuracy seconds`` per line and
writes benchmarks/results/sweep_penalties.json.
"""

import json
import os
import sys
import time
import warnings
from pathlib import Path

from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from admm_sklearn import ADMMClassifier  # noqa: E402
from admm_sklearn._datasets import load_dataset  # noqa: E402


def admm(**kw):
    # Pinned to the defaults of the time the sweep was made (the paper's
    # gamma and warm-up), so the command reproduces the table it fed.
    params = {"gamma": 10.0, "n_warmup_iter": 10, "max_iter": 60, **kw}
    return lambda: ADMMClassifier((300,), random_state=0, **params)


CONFIGS = {
    "lr": lambda: LogisticRegression(max_iter=1000),
    "mlp": lambda: MLPClassifier((300,), max_iter=50, random_state=0),
    "def": admm(),
    "g1": admm(gamma=1),
    "b10": admm(beta=10),
    "g1b10": admm(gamma=1, beta=10),
    "a0": admm(alpha=0),
    "a1e-2": admm(alpha=1e-2),
    "g1a1e-2": admm(gamma=1, alpha=1e-2),
    "g30": admm(gamma=30),
    "g100": admm(gamma=100),
    "g100a1e-2": admm(gamma=100, alpha=1e-2),
    "g100a1e-4": admm(gamma=100, alpha=1e-4),
    "g100w20": admm(gamma=100, n_warmup_iter=20),
}


def main(names):
    sets = {"cls10k": make_classification(
        n_samples=10000, n_features=28, n_informative=20, n_redundant=4, flip_y=0.1,
        class_sep=0.8, random_state=0)}
    for name in ("moons", "circles", "breast_cancer"):
        sets[name] = load_dataset(name)
    rows = []
    for ds, (X, y) in sets.items():
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=0)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        for name in names:
            model = CONFIGS[name]()
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_tr, y_tr)
            row = {"dataset": ds, "config": name, "train": model.score(X_tr, y_tr),
                   "test": model.score(X_te, y_te), "seconds": time.perf_counter() - start}
            rows.append(row)
            print(f"{ds} {name} {row['train']:.4f} {row['test']:.4f} {row['seconds']:.1f}",
                  flush=True)
    out = Path(os.environ.get("SWEEP_JSON", "benchmarks/results/sweep_penalties.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:] or list(CONFIGS))

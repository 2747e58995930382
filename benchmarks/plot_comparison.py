"""The documentation's landing picture: test accuracy and fit time of
ADMMClassifier against MLPClassifier (adam), from an accuracy-harness
result file (no fit is run here).

    python benchmarks/plot_comparison.py \
        benchmarks/results/accuracy_newton_refit_3seeds.json docs/_static/comparison.png

Means over the seeds in the file, one hidden layer of 100 units.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

MODELS = {"ADMMClassifier": "ADMMClassifier (defaults)",
          "MLPClassifier (adam)": "MLPClassifier (adam)"}


def main(source, target):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = defaultdict(list)
    for row in json.loads(Path(source).read_text()):
        if row["model"] in MODELS:
            runs[row["dataset"], row["model"]].append(row)
    datasets = sorted({d for d, _ in runs}, key=lambda d: np.mean(
        [r["test_accuracy"] for r in runs[d, "MLPClassifier (adam)"]]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    y = np.arange(len(datasets))
    for k, (model, label) in enumerate(MODELS.items()):
        acc = [np.mean([r["test_accuracy"] for r in runs[d, model]]) for d in datasets]
        sec = [np.mean([r["seconds"] for r in runs[d, model]]) for d in datasets]
        left.barh(y + (k - 0.5) * 0.38, acc, height=0.38, label=label)
        right.barh(y + (k - 0.5) * 0.38, sec, height=0.38, label=label)
    left.set_yticks(y, datasets)
    left.set_xlim(0.75, 1.0)
    left.set_xlabel("test accuracy (mean over seeds)")
    right.set_xscale("log")
    right.set_xlabel("fit time (s, 2 cores, log scale)")
    left.legend(loc="lower right", fontsize=8)
    fig.suptitle("One hidden layer of 100 units, defaults, 75/25 splits", fontsize=10)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""
ADMM against MLPClassifier
==========================

Cross-validated accuracy of ADMMClassifier and MLPClassifier (same hidden
layer) on noisy two-moons data, then test accuracy against fit time as the
iteration budget grows, on the same axes.
"""

import time
import warnings

import numpy as np
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMClassifier

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = make_moons(1000, noise=0.25, random_state=0)
models = {"ADMMClassifier": lambda it: ADMMClassifier((50,), max_iter=it, random_state=0),
          "MLPClassifier (adam)": lambda it: MLPClassifier((50,), max_iter=it, random_state=0)}
for name, make in models.items():
    scores = cross_val_score(make_pipeline(StandardScaler(), make(100)), X, y, cv=5)
    print(f"{name:<22} 5-fold accuracy {scores.mean():.4f} +- {scores.std():.4f}")

X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
curves = {}
for name, make in models.items():
    points = []
    for budget in (2, 5, 10, 20, 40, 80):
        pipe = make_pipeline(StandardScaler(), make(budget))
        start = time.perf_counter()
        pipe.fit(X_train, y_train)
        points.append((time.perf_counter() - start, pipe.score(X_test, y_test)))
    curves[name] = np.array(points)
    print(name, "(seconds, accuracy):", np.round(curves[name], 3).tolist())

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in curves.items():
        ax.plot(pts[:, 0], pts[:, 1], "o-", label=name)
    ax.set(xscale="log", xlabel="fit time (s)", ylabel="test accuracy")
    ax.legend()
    plt.show()

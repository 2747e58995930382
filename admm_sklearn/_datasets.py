"""Datasets that need no download: scikit-learn's bundled sets, seeded
synthetic sets that need non-linear features (classification, and two
regression sets), and user files.

Shared by ``python -m admm_sklearn compare`` and ``benchmarks/``.
"""

import numpy as np
from sklearn import datasets as skd


def _digits_0_vs_2():
    X, y = skd.load_digits(return_X_y=True)
    keep = (y == 0) | (y == 2)  # the paper's SVHN task was 0 vs 2
    return X[keep], y[keep]


def _embedded(X2, y, n_noise, seed):
    """2-D problem plus ``n_noise`` pure-noise dimensions, then a random rotation."""
    rng = np.random.default_rng(seed)
    X = np.hstack([X2, rng.standard_normal((len(X2), n_noise))])
    Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1], X.shape[1])))
    return X @ Q, y


def _classification(n_samples):
    return skd.make_classification(
        n_samples=n_samples, n_features=28, n_informative=20, n_redundant=4,
        flip_y=0.1, class_sep=0.8, random_state=0)


#: name -> loader returning (X, y); all deterministic.
DATASETS = {
    "breast_cancer": lambda: skd.load_breast_cancer(return_X_y=True),
    "digits": lambda: skd.load_digits(return_X_y=True),
    "digits_0_vs_2": _digits_0_vs_2,
    "wine": lambda: skd.load_wine(return_X_y=True),
    "moons": lambda: _embedded(*skd.make_moons(4000, noise=0.25, random_state=0), 8, 0),
    "circles": lambda: _embedded(
        *skd.make_circles(4000, noise=0.1, factor=0.5, random_state=0), 8, 1),
    "gaussian_quantiles": lambda: skd.make_gaussian_quantiles(
        n_samples=4000, n_features=6, n_classes=2, random_state=0),
    "classification_40k": lambda: _classification(40_000),
    "classification_400k": lambda: _classification(400_000),
    # regression (real-valued targets)
    "diabetes": lambda: skd.load_diabetes(return_X_y=True),
    "friedman1": lambda: skd.make_friedman1(n_samples=20_000, noise=1.0, random_state=0),
}


#: The regression sets of :data:`DATASETS` (diabetes's targets are whole
#: numbers, so they cannot be told from class labels by their values).
REGRESSION_DATASETS = ("diabetes", "friedman1")


def load_dataset(name, label_column=-1):
    """``(X, y)`` for a name of :data:`DATASETS` or a path to .csv / .npz.

    A ``.npz`` file must hold arrays ``X`` and ``y``; a ``.csv`` file is read
    as numbers with a header row, its label in ``label_column``.
    """
    if name in DATASETS:
        return DATASETS[name]()
    if name.endswith(".npz"):
        with np.load(name) as data:
            return data["X"], data["y"]
    if name.endswith(".csv"):
        table = np.genfromtxt(name, delimiter=",", skip_header=1, dtype=float)
        y = table[:, label_column]
        X = np.delete(table, label_column % table.shape[1], axis=1)
        return X, y
    raise ValueError(
        f"unknown dataset {name!r}: use one of {sorted(DATASETS)} or a .csv/.npz path")

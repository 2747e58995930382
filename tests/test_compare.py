"""The README's main job: ``python -m admm_sklearn compare``."""

import numpy as np
import pytest

from admm_sklearn._cli import main
from admm_sklearn._datasets import DATASETS, load_dataset


def test_compare_prints_table_for_every_model(capsys, tmp_path):
    X, y = load_dataset("moons")
    path = tmp_path / "moons.csv"
    np.savetxt(path, np.column_stack([X[:300], y[:300]]), delimiter=",", header="a,b,c",
               comments="")
    assert main(["compare", "--dataset", str(path), "--folds", "2", "--hidden", "8",
                 "--target", "0.8"]) == 0
    out = capsys.readouterr().out
    for name in ("ADMMClassifier", "ADMMClassifier (paper)", "MLPClassifier (adam)",
                 "MLPClassifier (lbfgs)", "LogisticRegression", "time to 0.800"):
        assert name in out
    assert "points of accuracy" in out


def test_compare_verbose_shows_admm_progress(capsys):
    assert main(["compare", "--dataset", "wine", "--folds", "2", "--hidden", "4",
                 "--verbose"]) == 0
    assert "Iteration 1, objective" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(set(DATASETS) - {"classification_400k"}))
def test_bundled_and_generated_datasets_load(name):
    X, y = load_dataset(name)
    assert X.ndim == 2 and len(X) == len(y) and len(np.unique(y)) >= 2


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("mnist")


def test_accuracy_curve_is_one_fit_scored_as_it_goes():
    """The curve reaches the model's own max_iter, and its last point is the
    score of one plain fit (ADMM: that fit, scored as it goes; also when its
    first sweeps see a subset of the rows)."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from admm_sklearn import ADMMClassifier
    from admm_sklearn._compare import accuracy_curve, time_to

    X, y = load_dataset("moons")
    X_tr, X_te, y_tr, y_te = train_test_split(X[:600], y[:600], random_state=0)
    model = ADMMClassifier((16,), max_iter=40, n_warmup_iter=5, random_state=0)
    curve = accuracy_curve(model, X_tr, y_tr, X_te, y_te, n_points=4)
    assert [step for step, *_ in curve] == [10, 20, 30, 40]
    seconds = [t for _, t, _, _ in curve]
    assert seconds == sorted(seconds)
    plain = make_pipeline(StandardScaler(), model).fit(X_tr, y_tr)
    assert curve[-1][3] == plain.score(X_te, y_te)
    assert curve[-1][2] == plain.score(X_tr, y_tr)
    assert time_to(curve, 2.0) is None and time_to(curve, 0.0) == seconds[0]
    subset = clone(model).set_params(start_fraction=0.5)
    curve = accuracy_curve(subset, X_tr, y_tr, X_te, y_te, n_points=4)
    assert curve[-1][3] == make_pipeline(StandardScaler(), subset).fit(X_tr, y_tr).score(
        X_te, y_te)

    mlp = MLPClassifier((8,), max_iter=6, random_state=0)
    assert [s for s, *_ in accuracy_curve(mlp, X_tr, y_tr, X_te, y_te, n_points=3)] == [2, 4, 6]


def test_compare_detects_regression_from_the_target(capsys, tmp_path):
    X, y = load_dataset("friedman1")
    path = tmp_path / "friedman.csv"
    np.savetxt(path, np.column_stack([X[:300], y[:300]]), delimiter=",",
               header=",".join("abcdefghijk"), comments="")
    assert main(["compare", "--dataset", str(path), "--folds", "2", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    for name in ("(regression)", "ADMMRegressor", "MLPRegressor (adam)",
                 "MLPRegressor (lbfgs)", "Ridge", "time to 0.800", "R^2"):
        assert name in out
    # a named regression set whose targets are whole numbers is regression too
    assert main(["compare", "--dataset", "diabetes", "--folds", "2", "--hidden", "4"]) == 0
    assert "(regression)" in capsys.readouterr().out

"""The README's main job: ``python -m admm_sklearn compare``."""

import numpy as np
import pytest

from admm_sklearn._compare import main
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

"""Short check of an installed wheel, run from outside the checkout so that
``import admm_sklearn`` finds the installed package, not the source tree: a
file missing from the package fails here."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import admm_sklearn
from admm_sklearn import ADMMClassifier, ADMMRegressor, PAPER_SETTINGS, plan

warnings.simplefilter("ignore")  # short fits: ConvergenceWarning expected
assert "site-packages" in Path(admm_sklearn.__file__).parts, admm_sklearn.__file__
rng = np.random.default_rng(0)
X = rng.standard_normal((200, 4))
y = (X[:, 0] * X[:, 1] > 0).astype(int)
clf = ADMMClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0,
                     backend="serial").fit(X, y)
assert clf.predict(X).shape == (200,) and clf.predict_proba(X).shape == (200, 2)
X_sparse = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))  # kept sparse by the shards
sparse_fit = ADMMClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X_sparse, y)
assert sparse_fit.predict(X_sparse).shape == (200,)
paper = ADMMClassifier(hidden_layer_sizes=(16,), random_state=0,
                       **{**PAPER_SETTINGS, "max_iter": 20}).fit(X, y)
assert paper.predict(X).shape == (200,)
reg = ADMMRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, X[:, 0] ** 2)
assert np.isfinite(reg.score(X, X[:, 0] ** 2))
assert plan(10_000, 4, hidden=(16,), ranks=2) is not None
for command in ("compare", "plan"):
    subprocess.run([sys.executable, "-m", "admm_sklearn", command, "--help"], check=True,
                   stdout=subprocess.DEVNULL)
print(f"wheel check passed: admm_sklearn {admm_sklearn.__version__} from {admm_sklearn.__file__}")

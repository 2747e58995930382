"""
Probabilities and sample weights
================================

With ``loss='log_loss'`` (the default) ADMMClassifier's outputs are logits of
a logistic (binary) or softmax (multi-class) output layer, so it has
``predict_proba``: it works with ``scoring='neg_log_loss'``, soft voting,
stacking and calibration plots like MLPClassifier. This example compares
log-loss, Brier score and a reliability curve with MLPClassifier on an
imbalanced problem, and then uses ``sample_weight`` to weigh the rare class
up, which trades precision for recall on it.
"""

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.datasets import make_classification
from sklearn.metrics import brier_score_loss, log_loss, recall_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from admm_sklearn import ADMMClassifier

X, y = make_classification(n_samples=2000, n_features=12, n_informative=6, weights=[0.9],
                           class_sep=0.8, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
models = {"ADMMClassifier": ADMMClassifier(random_state=0),
          "MLPClassifier": MLPClassifier(random_state=0, max_iter=500)}
proba = {}
for name, model in models.items():
    pipe = make_pipeline(StandardScaler(), model).fit(X_train, y_train)
    proba[name] = pipe.predict_proba(X_test)[:, 1]
    print(f"{name:<15} accuracy {pipe.score(X_test, y_test):.4f}  "
          f"log-loss {log_loss(y_test, proba[name]):.4f}  "
          f"Brier {brier_score_loss(y_test, proba[name]):.4f}  "
          f"recall of the rare class {recall_score(y_test, pipe.predict(X_test)):.3f}")

# Weigh each class by its inverse frequency: the rare class counts as much
# as the common one. Integer weights would equal repeating rows.
weights = compute_sample_weight("balanced", y_train)
balanced = make_pipeline(StandardScaler(), ADMMClassifier(random_state=0))
balanced.fit(X_train, y_train, admmclassifier__sample_weight=weights)
print(f"{'ADMM, balanced':<15} accuracy {balanced.score(X_test, y_test):.4f}  "
      f"recall of the rare class {recall_score(y_test, balanced.predict(X_test)):.3f}")

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, p in proba.items():
        observed, predicted = calibration_curve(y_test, p, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, "o-", label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="mean predicted probability", ylabel="observed frequency",
           title="reliability on the test rows")
    ax.legend(fontsize="small")
    fig.tight_layout()
    plt.show()
print("share of positive predictions:", np.mean(balanced.predict(X_test)))

"""
Basic fit
=========

Train ADMMClassifier in a Pipeline on the breast-cancer data, compare it with
MLPClassifier, and plot the ADMM objective and output-constraint residual per
sweep (needs the ``[plot]`` extra for the figure; the numbers print without).
"""

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMClassifier

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)
admm = make_pipeline(StandardScaler(), ADMMClassifier(random_state=0)).fit(X_train, y_train)
mlp = make_pipeline(StandardScaler(), MLPClassifier(random_state=0, max_iter=500))
mlp.fit(X_train, y_train)
print(f"ADMMClassifier test accuracy {admm.score(X_test, y_test):.4f} "
      f"after {admm[-1].n_iter_} sweeps")
print(f"MLPClassifier  test accuracy {mlp.score(X_test, y_test):.4f}")

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    history = admm[-1].history_
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.semilogy(history["objective"])
    ax1.set(xlabel="sweep", ylabel="objective (eq. 4)")
    ax2.semilogy(history["residual"])
    ax2.set(xlabel="sweep", ylabel="||z_L - W_L a_{L-1}||")
    fig.tight_layout()
    plt.show()

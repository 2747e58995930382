"""
Pipeline and GridSearchCV
=========================

Tune ``beta_hidden``, ``gamma`` and the hidden layer size of ADMMClassifier inside a
scikit-learn Pipeline, exactly as for any other estimator.
"""

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMClassifier

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
pipe = Pipeline([("scale", StandardScaler()),
                 ("admm", ADMMClassifier(max_iter=30, random_state=0))])
grid = {"admm__beta_hidden": [0.1, 1.0], "admm__gamma": [1.0, 10.0],
        "admm__hidden_layer_sizes": [(20,), (50,)]}
search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy {search.best_score_:.4f}, "
      f"test accuracy {search.score(X_test, y_test):.4f}")

"""
Regression with ADMMRegressor
=============================

Fit ADMMRegressor beside MLPRegressor and ridge regression on Friedman's
non-linear benchmark function, with the same pipeline and the same split.
With the squared error every step of the ADMM sweep is closed form,
the output update included, and the final output layer is one ridge solve
on the network's features. Targets are standardised inside the estimator,
so they can come in any units. The figure (``[plot]`` extra) shows
predicted against true values on the test rows.
"""

import time

from sklearn.datasets import make_friedman1
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import ADMMRegressor

X, y = make_friedman1(n_samples=4000, noise=1.0, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
models = {
    "ADMMRegressor": ADMMRegressor(random_state=0),
    "MLPRegressor (adam)": MLPRegressor(random_state=0, max_iter=500),
    "Ridge": Ridge(),
}
fitted = {}
for name, model in models.items():
    pipe = make_pipeline(StandardScaler(), model)
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    fitted[name] = pipe
    print(f"{name:<20} test R^2 {pipe.score(X_test, y_test):.4f} "
          f"(train {pipe.score(X_train, y_train):.4f}), fit {seconds:.2f} s")

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, pipe in fitted.items():
        ax.plot(y_test, pipe.predict(X_test), ".", alpha=0.3, label=name)
    ax.plot([y.min(), y.max()], [y.min(), y.max()], "k-", lw=1)
    ax.set(xlabel="true value", ylabel="prediction", title="Friedman #1, test rows")
    ax.legend(fontsize="small")
    fig.tight_layout()
    plt.show()

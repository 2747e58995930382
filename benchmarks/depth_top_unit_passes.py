"""Unit passes on the log-loss for the top hidden layer of a fitted classifier.

A research probe for the depth issue (``docs/what_we_tried.rst``, "Depth"):
the regressor's unit passes (:mod:`admm_sklearn._unit_refit`) carried over
to the log-loss, in plain NumPy, on the top hidden layer of a default
``ADMMClassifier`` (layer by layer at depth), the layers below held. With
the features ``a`` below it (centred; one scale for all at depth, per column
at one layer, as the upper stages' and first stage's solves see them) and
``p_n = softmax(f_n) - y_n`` (the sigmoid for two classes), unit ``j``'s
step ``s`` minimises Boehning's quadratic bound of the log-loss (curvature
1/2, 1/4 for the sigmoid) over its active rows ``S_j``::

    (kappa ||v_j||^2 sum_{S_j} a~ a~^T + 2 c I) s = -sum_{S_j} (p_n . v_j) a~_n - 2 c theta_j

its true change of the penalised log-loss is measured at 1, 1/2, 1/4 and
1/8 of it and the best kept if it lowers it; after each pass the output
layer takes up to five majorised Newton steps. ``c = lam * n``. Seed 0,
75/25 stratified split, standardised inputs::

    python benchmarks/depth_top_unit_passes.py --datasets parity_3_of_10 \\
        --json benchmarks/results/depth_top_unit_passes.json

``--second-stage`` (with ``--hidden 100``): on the features of the refined
layer, a second stage as a layer-wise fit would add, fitted by
``ADMMClassifier`` (400 sweeps, seed 1; then the same passes on it) and by
``MLPClassifier`` (adam, seed 1).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import expit, log_expit, logsumexp, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from admm_sklearn import ADMMClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402

STEP_SCALES = (1.0, 0.5, 0.25, 0.125)


class TopLayer:
    """The top hidden layer and output layer of ``clf`` on fixed features."""

    def __init__(self, clf, X, y, lam):
        self.clf, self.classes = clf, clf.classes_
        A = self.features(X)
        self.mu = A.mean(0)
        self.sd = (A.std(0) if len(clf.coefs_) == 2
                   else np.full(A.shape[1], A.std()))
        self.sd[self.sd == 0] = 1.0
        self.A = self.coordinates(A)
        W, b = clf.coefs_[-2], clf.intercepts_[-2]
        self.theta = np.vstack([W * self.sd[:, None], b + self.mu @ W]).T
        self.V, self.c0 = clf.coefs_[-1].T.copy(), clf.intercepts_[-1].copy()
        self.binary = self.V.shape[0] == 1
        self.Y = ((y == self.classes[1])[:, None] if self.binary
                  else y[:, None] == self.classes[None, :]).astype(float)
        self.kappa = 0.25 if self.binary else 0.5
        self.c = lam * len(X)
        self.Z = self.A @ self.theta.T
        self.F = np.maximum(self.Z, 0) @ self.V.T + self.c0

    def features(self, X):
        for W, b in zip(self.clf.coefs_[:-2], self.clf.intercepts_[:-2]):
            X = np.maximum(X @ W + b, 0)
        return X

    def coordinates(self, A):
        return np.hstack([(A - self.mu) / self.sd, np.ones((len(A), 1))])

    def loss(self, F):
        if self.binary:
            Y = self.Y
            return -(Y * log_expit(F) + (1 - Y) * log_expit(-F)).sum()
        return (logsumexp(F, axis=1) - (F * self.Y).sum(1)).sum()

    def objective(self, F=None, theta=None, V=None):
        F = self.F if F is None else F
        theta = self.theta if theta is None else theta
        V = self.V if V is None else V
        return self.loss(F) + self.c * ((theta ** 2).sum() + (V ** 2).sum())

    def residual(self, F, rows=slice(None)):
        return (expit(F) if self.binary else softmax(F, axis=1)) - self.Y[rows]

    def unit_pass(self):
        A, d1 = self.A, self.A.shape[1]
        for j in range(len(self.theta)):
            v = self.V[:, j]
            if not v.any():
                continue
            active = self.Z[:, j] > 0
            As = A[active]
            G = self.kappa * (v @ v) * (As.T @ As) + 2 * self.c * np.eye(d1)
            rhs = -(As.T @ (self.residual(self.F[active], active) @ v)) - 2 * self.c * self.theta[j]
            step = np.linalg.solve(G, rhs)
            best = (self.objective(), None)
            old = np.maximum(self.Z[:, j], 0)
            for scale in STEP_SCALES:
                theta = self.theta.copy()
                theta[j] += scale * step
                z = A @ theta[j]
                F = self.F + np.outer(np.maximum(z, 0) - old, v)
                J = self.objective(F, theta)
                if J < best[0]:
                    best = (J, (theta, z, F))
            if best[1] is not None:
                self.theta, self.Z[:, j], self.F = best[1]
        self.refit_output()

    def refit_output(self, n_steps=5):
        H = np.hstack([np.maximum(self.Z, 0), np.ones((len(self.Z), 1))])
        n_units = H.shape[1] - 1
        ridge = 2 * self.c * np.diag(np.r_[np.ones(n_units), 0.0])
        M = self.kappa * H.T @ H + ridge
        for _ in range(n_steps):
            Wo = np.hstack([self.V, self.c0[:, None]])
            grad = H.T @ self.residual(self.F) + ridge @ Wo.T
            new = Wo - np.linalg.solve(M, grad).T
            F = H @ new.T
            if self.objective(F, V=new[:, :n_units]) >= self.objective():
                break
            self.V, self.c0, self.F = new[:, :n_units].copy(), new[:, n_units].copy(), F

    def hidden_layer(self, X):
        """The refined top hidden layer's units on ``X``."""
        return np.maximum(self.coordinates(self.features(X)) @ self.theta.T, 0)

    def score(self, X, y):
        F = self.hidden_layer(X) @ self.V.T + self.c0
        pred = (F[:, 0] > 0).astype(int) if self.binary else F.argmax(1)
        return float(np.mean(self.classes[pred] == y))


def second_stage(top, X_tr, X_te, y_tr, y_te, args):
    """Test and training accuracy of second stages on ``top``'s features."""
    F_tr, F_te = top.hidden_layer(X_tr), top.hidden_layer(X_te)
    admm = ADMMClassifier(random_state=1, max_iter=400).fit(F_tr, y_tr)
    refined = TopLayer(admm, F_tr, y_tr, args.lam)
    for _ in range(args.passes):
        refined.unit_pass()
    mlp = MLPClassifier(random_state=1).fit(F_tr, y_tr)
    return {"admm": {"test": admm.score(F_te, y_te), "train": admm.score(F_tr, y_tr)},
            "admm_passes": {"test": refined.score(F_te, y_te),
                            "train": refined.score(F_tr, y_tr)},
            "mlp": {"test": mlp.score(F_te, y_te), "train": mlp.score(F_tr, y_tr)}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="parity_3_of_10,spirals,radial_bands")
    parser.add_argument("--hidden", default="100,100")
    parser.add_argument("--lam", type=float, default=1e-3)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--second-stage", action="store_true")
    parser.add_argument("--json", default="benchmarks/results/depth_top_unit_passes.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    rows = []
    for name in args.datasets.split(","):
        X, y = load(name)
        X_tr, X_te, y_tr, y_te = standardised_split(X, y, 0)
        start = time.perf_counter()
        clf = ADMMClassifier(hidden_layer_sizes=hidden, random_state=0).fit(X_tr, y_tr)
        fit_seconds = time.perf_counter() - start
        top = TopLayer(clf, X_tr, y_tr, args.lam)
        row = {"dataset": name, "hidden": hidden, "lam": args.lam,
               "fit": {"test": clf.score(X_te, y_te), "train": clf.score(X_tr, y_tr),
                       "seconds": fit_seconds}, "passes": []}
        start = time.perf_counter()
        for p in range(1, args.passes + 1):
            top.unit_pass()
            if p % 5 == 0 or p == args.passes:
                row["passes"].append({"pass": p, "test": top.score(X_te, y_te),
                                      "train": top.score(X_tr, y_tr),
                                      "objective_per_row": top.objective() / len(X_tr),
                                      "seconds": time.perf_counter() - start})
        if args.second_stage:
            row["second_stage"] = second_stage(top, X_tr, X_te, y_tr, y_te, args)
        rows.append(row)
        last = row["passes"][-1]
        print(f"{name:<16} {hidden} default fit {row['fit']['test']:.4f} "
              f"(train {row['fit']['train']:.4f}) {fit_seconds:.1f}s; after "
              f"{last['pass']} passes {last['test']:.4f} (train {last['train']:.4f}) "
              f"+{last['seconds']:.1f}s", flush=True)
        for stage, scores in row.get("second_stage", {}).items():
            print(f"{'':<16} second stage {stage:<12} {scores['test']:.4f} "
                  f"(train {scores['train']:.4f})", flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

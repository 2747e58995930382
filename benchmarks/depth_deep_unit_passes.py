"""Probe: unit passes on *every* hidden layer of a deep network (NumPy).

The package's unit passes (``admm_sklearn/_unit_refit.py``) refit the units
of the only (or first-stage) hidden layer against Boehning's quadratic bound
of the log-loss. Here the same block solve is applied to a unit of *any*
hidden layer, with the layers above it held: with their activity patterns
held too, the network's outputs move linearly in the unit's activation,
``f_n += g_n delta_n``, where ``g_n = W_L^T D_L ... W_{l+1}^T D_{l+1}
W_{l+1}[j]`` is row ``n``'s own direction (the upper layers' active units
on that row). The bound's minimiser over the unit's ``[u_j; b_j]`` solves

    (kappa sum_S w_n |g_n|^2 x~_n x~_n^T + 2 c I) s
        = sum_S w_n (r_n . g_n) x~_n - 2 c [u_j; b_j]

(``S`` the unit's active rows, ``x~`` its inputs with a one), one Gram
reduction as every weight update. Each tried scale of the step is then
pushed through the real upper layers (their units may switch), and the
bound at the real new outputs is compared: the bound lies above the
log-loss and touches it at the current network, so a step that lowers it
lowers ``J`` (majorise-minimise). ``J`` never rises, so the network cannot
drift from a layer-wise start as the joint sweeps do.

A tenth of the training rows is held out of ``J`` and picks the pass kept,
as in the package. Starts from the package's default layer-wise fit.

    python benchmarks/depth_deep_unit_passes.py --datasets parity_3_of_10 \
        --seeds 0 --hidden 100,100 --passes 30 --json out.json
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load  # noqa: E402

from admm_sklearn import ADMMClassifier  # noqa: E402

STEP_SCALES = np.array([1.0, 0.5, 0.25, 0.125])


def softmax_residual(Y, F):
    if F.shape[1] == 1:
        return Y - 1.0 / (1.0 + np.exp(-F))
    P = np.exp(F - F.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return Y - P


def log_loss(Y, F, w):
    if F.shape[1] == 1:
        return float(w @ (np.logaddexp(0.0, F[:, 0]) - Y[:, 0] * F[:, 0]))
    m = F.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(F - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(w @ (lse - (Y * F).sum(axis=1)))


class DeepPasses:
    """The network ``Ws, bs`` (sklearn's ``coefs_`` / ``intercepts_``) on
    inputs ``X``, with the passes' state (every layer's pre-activations)."""

    def __init__(self, Ws, bs, X, Y, w, w_held, c, layers):
        self.W = [W.astype(np.float64).copy() for W in Ws]
        self.b = [b.astype(np.float64).copy() for b in bs]
        self.X, self.Y, self.w, self.w_held, self.c = X, Y, w, w_held, c
        self.kappa = 0.25 if Y.shape[1] == 1 else 0.5
        self.L = len(self.W) - 1  # hidden layers
        self.layers = layers  # hidden layers refitted, 1-based
        self.forward()

    def forward(self):
        self.A = [self.X]
        self.Z = [None]
        for l in range(self.L):
            z = self.A[-1] @ self.W[l] + self.b[l]
            self.Z.append(z)
            self.A.append(np.maximum(z, 0.0))
        self.F = self.A[-1] @ self.W[-1] + self.b[-1]
        self.R = softmax_residual(self.Y, self.F)

    def J(self):
        return (log_loss(self.Y, self.F, self.w)
                + self.c * sum(float(np.sum(W ** 2)) + float(np.sum(b ** 2))
                               for W, b in zip(self.W, self.b)))

    def held_loss(self):
        return log_loss(self.Y, self.F, self.w_held)

    def _direction(self, l, j):
        """g_n for unit j of hidden layer l (1-based), upper patterns held."""
        if l == self.L:
            return np.broadcast_to(self.W[l][j], (self.X.shape[0], self.W[l].shape[1]))
        g = (self.Z[l + 1] > 0) * self.W[l][j]
        for m in range(l + 1, self.L):
            g = (self.Z[m + 1] > 0) * (g @ self.W[m])
        return g @ self.W[self.L]

    def _propagate(self, l, j, a_new, rows):
        """Outputs on ``rows`` with unit j of layer l at ``a_new`` (and the
        upper layers' pre-activations, for a commit)."""
        delta = a_new[rows] - self.A[l][rows, j]
        zs = []
        a = None
        for m in range(l, self.L):
            if m == l:
                z = self.Z[m + 1][rows] + np.outer(delta, self.W[m][j])
            else:
                z = a @ self.W[m] + self.b[m]
            zs.append(z)
            a = np.maximum(z, 0.0)
        if l == self.L:
            F = self.F[rows] + np.outer(delta, self.W[self.L][j])
        else:
            F = a @ self.W[self.L] + self.b[self.L]
        return zs, F

    def unit(self, l, j):
        X1 = np.column_stack([self.A[l - 1], np.ones(self.X.shape[0])])
        z = self.Z[l][:, j]
        S = z > 0
        g = self._direction(l, j)[S]
        xs, w, r = X1[S], self.w[S], self.R[S]
        theta = np.append(self.W[l - 1][:, j], self.b[l - 1][j])
        gg = np.einsum("nk,nk->n", g, g)
        rg = np.einsum("nk,nk->n", r, g)
        system = self.kappa * (xs.T @ (xs * (w * gg)[:, None]))
        system[np.diag_indices_from(system)] += 2.0 * self.c
        rhs = xs.T @ (w * rg) - 2.0 * self.c * theta
        try:
            s = np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:
            return False
        dz = X1 @ s
        best, best_change, best_state = None, 0.0, None
        for t in STEP_SCALES:
            z_new = z + t * dz
            a_new = np.maximum(z_new, 0.0)
            rows = np.flatnonzero(a_new != self.A[l][:, j])
            zs, F = self._propagate(l, j, a_new, rows)
            dF = F - self.F[rows]
            change = float(self.w[rows] @ (-np.einsum("nk,nk->n", self.R[rows], dF)
                                           + 0.5 * self.kappa * np.einsum("nk,nk->n", dF, dF)))
            change += self.c * (2.0 * t * (theta @ s) + t * t * (s @ s))
            if change < best_change:
                best, best_change, best_state = t, change, (z_new, a_new, rows, zs, F)
        if best is None or best_change > -1e-10 * abs(self.J()):
            return False
        z_new, a_new, rows, zs, F = best_state
        self.W[l - 1][:, j] += best * s[:-1]
        self.b[l - 1][j] += best * s[-1]
        self.Z[l][:, j] = z_new
        self.A[l][:, j] = a_new
        for k, zz in enumerate(zs):
            m = l + 1 + k
            self.Z[m][rows] = zz
            self.A[m][rows] = np.maximum(zz, 0.0)
        self.F[rows] = F
        self.R[rows] = softmax_residual(self.Y[rows], F)
        return True

    def output(self, steps=3):
        A1 = np.column_stack([self.A[-1], np.ones(self.X.shape[0])])
        gram = A1.T @ (A1 * self.w[:, None])
        gram[np.diag_indices_from(gram)] += 2.0 * self.c / self.kappa
        for _ in range(steps):
            T = self.F + self.R / self.kappa
            Wb = np.linalg.solve(gram, A1.T @ (T * self.w[:, None]))
            self.W[-1], self.b[-1] = Wb[:-1], Wb[-1]
            self.F = self.A[-1] @ self.W[-1] + self.b[-1]
            self.R = softmax_residual(self.Y, self.F)

    def one_pass(self):
        taken = 0
        for l in self.layers:
            for j in range(self.W[l - 1].shape[1]):
                taken += self.unit(l, j)
        self.output()
        return taken

    def predict_scores(self, X):
        a = X
        for l in range(self.L):
            a = np.maximum(a @ self.W[l] + self.b[l], 0.0)
        return a @ self.W[-1] + self.b[-1]


def accuracy(scores, y, classes):
    pred = classes[(scores[:, 0] > 0).astype(int)] if scores.shape[1] == 1 \
        else classes[np.argmax(scores, axis=1)]
    return float(np.mean(pred == y))


def run(name, seed, hidden, passes, lam, layers, patience, stages_without_held=False):
    X, y = load(name)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    sc = StandardScaler().fit(X_tr)
    X_tr, X_te = sc.transform(X_tr), sc.transform(X_te)
    held = np.random.default_rng(seed).random(len(y_tr)) < 0.1
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = ADMMClassifier(hidden_layer_sizes=hidden, random_state=seed).fit(
            X_tr, y_tr, sample_weight=(~held).astype(float) if stages_without_held else None)
    fit_s = time.perf_counter() - start
    classes = est.classes_
    Y = (y_tr[:, None] == classes[None, :]).astype(float)
    if len(classes) == 2:
        Y = Y[:, 1:]
    w, w_held = (~held).astype(float), held.astype(float)
    c = lam * w.sum()
    dp = DeepPasses(est.coefs_, est.intercepts_, X_tr, Y, w, w_held, c, layers)
    assert np.allclose(dp.F, est.decision_function(X_tr).reshape(dp.F.shape), atol=1e-6)
    rec = {"dataset": name, "seed": seed, "hidden": hidden, "lam": lam, "layers": layers,
           "stages_without_held": stages_without_held,
           "fit_seconds": fit_s,
           "start": {"test": est.score(X_te, y_te), "train": est.score(X_tr, y_tr)},
           "passes": []}
    print(f"{name} seed {seed} {hidden} layers {layers} lam {lam}: fit {fit_s:.1f}s "
          f"test {rec['start']['test']:.4f} train {rec['start']['train']:.4f}", flush=True)
    best = (dp.held_loss(), 0, rec["start"]["test"], rec["start"]["train"])
    rec["start"]["held_out_accuracy"] = accuracy(dp.F[held], y_tr[held], classes)
    print(f"  held-out accuracy at the start {rec['start']['held_out_accuracy']:.4f}")
    t0 = time.perf_counter()
    for p in range(1, passes + 1):
        taken = dp.one_pass()
        te = accuracy(dp.predict_scores(X_te), y_te, classes)
        tr = accuracy(dp.F, y_tr, classes)
        h = dp.held_loss()
        ha = accuracy(dp.F[held], y_tr[held], classes)
        rec["passes"].append({"pass": p, "test": te, "train": tr, "held_out_loss": h,
                              "held_out_accuracy": ha,
                              "J": dp.J(), "steps": taken,
                              "seconds": time.perf_counter() - t0})
        print(f"  pass {p:3d} steps {taken:4d} J {dp.J():10.2f} held {h:8.2f} "
              f"held acc {ha:.4f} test {te:.4f} train {tr:.4f} "
              f"{time.perf_counter() - t0:6.1f}s", flush=True)
        if h < best[0]:
            best = (h, p, te, tr)
        if p - best[1] >= patience:
            break
    rec["chosen"] = {"pass": best[1], "test": best[2], "train": best[3]}
    print(f"  chosen pass {best[1]}: test {best[2]:.4f} train {best[3]:.4f}", flush=True)
    return rec


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="parity_3_of_10")
    p.add_argument("--seeds", default="0")
    p.add_argument("--hidden", default="100,100")
    p.add_argument("--passes", type=int, default=30)
    p.add_argument("--lam", type=float, default=1e-4)
    p.add_argument("--layers", default="all", help="hidden layers refitted: 'all' or e.g. '1'")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--stages-without-held", action="store_true",
                   help="fit the stages with zero weight on the held-out tenth too")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    hidden = tuple(int(h) for h in a.hidden.split(","))
    layers = list(range(1, len(hidden) + 1)) if a.layers == "all" \
        else [int(v) for v in a.layers.split(",")]
    recs = [run(name, int(s), hidden, a.passes, a.lam, layers, a.patience,
                a.stages_without_held)
            for name in a.datasets.split(",") for s in a.seeds.split(",")]
    if a.json:
        Path(a.json).write_text(json.dumps(recs, indent=1))


if __name__ == "__main__":
    main()

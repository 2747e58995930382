"""ADMMRegressor fitted to K ramp encodings of the target (a failed idea).

With one output, the hidden layer of a regressor receives a rank-one
signal from the output constraint. This script splits the standardised
target at its K-quantiles ``q_k`` into ramps ``t_k = clip(y - q_k, 0,
q_{k+1} - q_k)`` (``y = q_0 + sum_k t_k``), fits a K-output regressor to
them (each scaled to unit variance) and predicts the sum, which is again
one linear readout of the last hidden layer. K=1: the plain regressor.
Prints test and training R^2 per seed and their means::

    python benchmarks/regression_ramp_targets.py 0 bike_sharing_hour 100 8

(arguments: seeds, sets, hidden sizes, K, then estimator parameters
``NAME=VALUE``). See docs/what_we_tried.rst, "Regression".
"""
import sys, time, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import numpy as np
from sklearn.metrics import r2_score
from accuracy import load, standardised_split
from admm_sklearn import ADMMRegressor
if len(sys.argv) < 5:
    sys.exit(__doc__)
seeds = [int(s) for s in sys.argv[1].split(",")]; names = sys.argv[2].split(",")
hidden = tuple(int(h) for h in sys.argv[3].split(",")); K = int(sys.argv[4])
kw = {k: eval(v) for k, v in (a.split("=") for a in sys.argv[5:])}
warnings.simplefilter("ignore")
def encode(y, q):
    T = np.stack([np.clip(y - q[k], 0, q[k + 1] - q[k]) for k in range(len(q) - 1)], 1)
    return T
for name in names:
    res = []
    for seed in seeds:
        X, y = load(name)
        Xtr, Xte, ytr, yte = standardised_split(X, y, seed, stratify=False)
        m, s = ytr.mean(), ytr.std(); ztr = (ytr - m) / s
        t = time.perf_counter()
        if K <= 1:
            reg = ADMMRegressor(hidden_layer_sizes=hidden, random_state=seed, **kw).fit(Xtr, ztr)
            pred = lambda A: reg.predict(A) * s + m
        else:
            q = np.quantile(ztr, np.linspace(0, 1, K + 1)); q[0] -= 1e-9; q[-1] += 1e-9
            T = encode(ztr, q)
            Ts = T.std(0) + 1e-12
            reg = ADMMRegressor(hidden_layer_sizes=hidden, random_state=seed, **kw).fit(Xtr, T / Ts)
            pred = lambda A: ((reg.predict(A) * Ts).sum(1) + q[0]) * s + m
        t = time.perf_counter() - t
        r = (r2_score(yte, pred(Xte)), r2_score(ytr, pred(Xtr))); res.append(r)
        print(f"{name:18s} seed {seed} K {K} {kw} test {r[0]:.4f} train {r[1]:.4f} {t:.1f}s", flush=True)
    mm = np.mean(res, 0); print(f"MEAN {name} K {K} {kw} test {mm[0]:.4f} train {mm[1]:.4f}", flush=True)

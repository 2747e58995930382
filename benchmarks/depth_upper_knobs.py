"""The upper stages of a layer-wise fit with other penalties (not the defaults).

Fits ``ADMMClassifier`` of the given hidden sizes on each set and seed (75/25
stratified split, standardised inputs) with the stages above the first
changed: ``alpha=F`` multiplies their ridge by F, ``gamma=G`` and
``beta_hidden=B`` set those penalties, ``upper=S`` sets the share of
``max_iter`` they run (``_layerwise.UPPER_STAGE_SWEEPS``), ``est_NAME=V``
passes an estimator parameter. Prints test and training accuracy per seed
and their means::

    python benchmarks/depth_upper_knobs.py 0,1,2 moons,spirals,parity_3_of_10 100,100 alpha=10

See docs/what_we_tried.rst, "Depth".
"""
import sys, time, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import numpy as np
from accuracy import load, standardised_split
from admm_sklearn import ADMMClassifier, _layerwise, _fit
if len(sys.argv) < 4:
    sys.exit(__doc__)
seeds = [int(s) for s in sys.argv[1].split(",")]; names = sys.argv[2].split(",")
hidden = tuple(int(h) for h in sys.argv[3].split(","))
kv = dict(a.split("=") for a in sys.argv[4:])
est_kw = {k[4:]: eval(v) for k, v in kv.items() if k.startswith("est_")}
if "upper" in kv: _layerwise.UPPER_STAGE_SWEEPS = float(kv["upper"])
orig_new = _fit._Fit._new_solver
def new_solver(self, sizes):
    s = orig_new(self, sizes)
    if self.frozen:
        if "alpha" in kv: s.alpha = s.alpha * float(kv["alpha"])
        if "gamma" in kv: s.gamma = float(kv["gamma"])
        if "beta_hidden" in kv: s.beta_hidden = float(kv["beta_hidden"])
    return s
_fit._Fit._new_solver = new_solver
warnings.simplefilter("ignore")
tag = " ".join(sys.argv[4:]) or "base"
for name in names:
    accs = []
    for seed in seeds:
        X, y = load(name)
        Xtr, Xte, ytr, yte = standardised_split(X, y, seed)
        clf = ADMMClassifier(random_state=seed, hidden_layer_sizes=hidden, **est_kw)
        t = time.perf_counter(); clf.fit(Xtr, ytr); t = time.perf_counter() - t
        te, tr = clf.score(Xte, yte), clf.score(Xtr, ytr); accs.append((te, tr))
        print(f"{name:14s} seed {seed} {tag:30s} sweeps {clf.n_iter_:4d} test {te:.4f} train {tr:.4f} {t:.1f}s", flush=True)
    m = np.mean(accs, axis=0)
    print(f"MEAN {name:14s} {tag:30s} test {m[0]:.4f} train {m[1]:.4f}", flush=True)

"""The upper stages of a layer-wise fit with other input coordinates (a lead).

Patches the first-layer solve that every upper stage makes (it is the one
made without a fan-in ridge) so that its features are centred and divided
by one scale for all (``uniform``, as sparse data get) instead of one per
feature, or given a fan-in ridge (``fanN``: ``max(1, d / N)``; ``ufanN``:
both), then fits ``ADMMClassifier`` on each set, seed given, and prints test
and training accuracy::

    python benchmarks/depth_upper_coordinates.py uniform 0 spirals,parity_3_of_10 100,100

(``base`` for the defaults, which give the upper stages ``uniform``
since 2026-12-04; ``perfeature`` for one scale per feature, the default
before.) See docs/what_we_tried.rst, "Depth".
"""
import sys, time, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import numpy as np
from accuracy import load, standardised_split
from admm_sklearn import ADMMClassifier, _engine, _input_solve
if len(sys.argv) < 4:
    sys.exit(__doc__)
mode = sys.argv[1]; seed = int(sys.argv[2]); names = sys.argv[3].split(",")
hidden = tuple(int(h) for h in sys.argv[4].split(",")) if len(sys.argv) > 4 else (100, 100)
orig = _input_solve.make_input_solve
def patched(backend, n_outputs, solve="auto", dtype=np.float64, fan_in=None,
            uniform_scale=False):
    if mode == "perfeature":  # the upper stages as before uniform_scale
        uniform_scale = False
    made = orig(backend, n_outputs, solve, dtype, fan_in, uniform_scale)
    if fan_in is None and mode != "base":  # an upper stage
        c = made.coordinates
        if mode == "uniform":
            made.coordinates = _input_solve.InputCoordinates(c.n, c.colsum, c.sqsum, uniform=True)
        elif mode.startswith("fan"):
            made.ridge_factor = max(1.0, c.colsum.shape[0] / float(mode[3:]))
        elif mode.startswith("ufan"):
            made.coordinates = _input_solve.InputCoordinates(c.n, c.colsum, c.sqsum, uniform=True)
            made.ridge_factor = max(1.0, c.colsum.shape[0] / float(mode[4:]))
    return made
_engine.make_input_solve = patched
warnings.simplefilter("ignore")
for name in names:
    X, y = load(name)
    Xtr, Xte, ytr, yte = standardised_split(X, y, seed)
    clf = ADMMClassifier(random_state=seed, hidden_layer_sizes=hidden)
    t = time.perf_counter(); clf.fit(Xtr, ytr); t = time.perf_counter() - t
    print(f"{name:22s} {mode:8s} seed {seed} {hidden} sweeps {clf.n_iter_:4d} test {clf.score(Xte, yte):.4f} train {clf.score(Xtr, ytr):.4f} {t:.1f}s", flush=True)

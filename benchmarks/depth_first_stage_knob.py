"""Probe: a (100, 100) layer-wise fit whose first stage alone takes another value of one knob.

The upper stage keeps the defaults. Three seeds, the harness's splits;
prints the mean test and training accuracy per set::

    python benchmarks/depth_first_stage_knob.py init_scale 0.3 \\
        moons,radial_bands,parity_3_of_10

(``docs/what_we_tried.rst``, "Depth", 12.26).
"""

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import load, standardised_split  # noqa: E402

from admm_sklearn import ADMMClassifier, _layerwise  # noqa: E402


def first_stage_with(knob, value):
    """A ``_Fit`` whose first stage (no frozen layers) runs with the
    estimator's ``knob`` set to ``value``, restored afterwards."""

    class FirstStageFit(_layerwise._Fit):
        def run(self, *args, **kwargs):
            if self.frozen:
                return super().run(*args, **kwargs)
            old = getattr(self.est, knob)
            setattr(self.est, knob, value)
            try:
                return super().run(*args, **kwargs)
            finally:
                setattr(self.est, knob, old)

    return FirstStageFit


def main():
    warnings.filterwarnings("ignore")
    knob, value, sets = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(",")
    _layerwise._Fit = first_stage_with(knob, value)
    for name in sets:
        X, y = load(name)
        scores = []
        for seed in range(3):
            X_tr, X_te, y_tr, y_te = standardised_split(X, y, seed)
            est = ADMMClassifier(hidden_layer_sizes=(100, 100), random_state=seed).fit(X_tr, y_tr)
            scores.append((est.score(X_te, y_te), est.score(X_tr, y_tr)))
        test, train = np.mean(scores, axis=0)
        print(f"{name[-22:]:22s} {knob}={value} first stage: test {test:.4f} train {train:.4f}",
              flush=True)


if __name__ == "__main__":
    main()

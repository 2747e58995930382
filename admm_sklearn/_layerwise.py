"""Deep networks grown one hidden layer at a time (``deep_training='layerwise'``).

A network with hidden layers ``(d_1, ..., d_K)`` is fitted in ``K`` stages.
Stage ``k`` is a whole one-hidden-layer fit (:class:`~admm_sklearn._fit._Fit`,
Algorithm 1 with its output refit) of width ``d_k`` on the features
``F_{k-1} = h(W_{k-1} ... h(W_1 x + b_1) ... + b_{k-1})`` that the layers
fitted before it compute (``F_0 = x``); its hidden layer becomes layer ``k``
of the network, frozen from then on, and the last stage's output layer is the
network's. Every stage is the same closed-form, data-parallel iteration: the
features are computed where the rows live (on each MPI rank, or chunk by
chunk on a Dask cluster), and only Gram sums cross processes.

Why not sweep all layers jointly, as the paper does (``'joint'``)? Measured
(``docs/what_we_tried.rst``, "Depth"): with two hidden layers the joint
sweeps fit the training labels in their per-sample state (100% of them),
while the network's own forward pass drifts away from that state (its first
layer active on 15% of the (row, unit) pairs where the state is on 56%), so
two layers ended 14 points below one on a non-linear set and letter fell from
0.943 to 0.906. One hidden layer on fixed features is the problem the
defaults solve well, and greedy layer-wise training (Bengio et al., 2007)
turns a deep fit into a sequence of them.
"""

import numpy as np

from ._activations import ACTIVATIONS
from ._dask_input import is_dask_collection
from ._deep_refit import applies as deep_refit_applies, refine_network
from ._fit import _Fit, agreed_seed
from ._sparse_inputs import is_sparse

#: Share of ``max_iter`` that the stages above the first run: they start on
#: features already fitted to the labels. Seed 0, the second stage of
#: (100, 100) at 800 / 400 sweeps: letter 0.9660 / 0.9624 in 23.8 / 11.0 s
#: (the first stage 20.3 s; MLPClassifier (100, 100) 20.6 s), a non-linear
#: xor set 0.8515 / 0.8500, satimage 0.9018 / 0.8993, pendigits 0.9945 /
#: 0.9953 (``docs/what_we_tried.rst``, "Depth").
UPPER_STAGE_SWEEPS = 0.5


def hidden_features(X, W, b, activation):
    """``h(X W + b)`` in float64: the input of the next stage (lazy on dask)."""
    h = ACTIVATIONS[activation][0]

    def layer(block):  # a sparse block's product is dense
        out = block @ W if is_sparse(block) else np.asarray(block, dtype=np.float64) @ W
        out += b
        return h(out, out=out)

    if is_dask_collection(X):
        return X.map_blocks(layer, dtype=np.float64, chunks=(X.chunks[0], (W.shape[1],)))
    return layer(X)


def fit_layerwise(est, X, y, sample_weight, hidden, dtype, backend, targets):
    """Fit ``est``'s network of hidden layers ``hidden`` stage by stage;
    returns the fitted attributes, as :meth:`_Fit.run` does.

    With ``warm_start`` and a fitted network of the same hidden sizes, the
    fitted lower layers are kept and only the last stage runs again
    (continuing its kept state when the data are the same), as a one-layer
    warm start continues its one stage.
    """
    seed = agreed_seed(est.random_state, backend, headroom=len(hidden))  # stage k: seed + k
    fitted = getattr(est, "coefs_", None)
    continuing = (est.warm_start and fitted is not None
                  and [c.shape[1] for c in fitted[:-1]] == list(hidden))
    frozen, results, features, sweeps = [], [], X, 0
    for k, width in enumerate(hidden):
        last = k == len(hidden) - 1
        if continuing and not last:
            W, b = fitted[k], est.intercepts_[k]
        else:
            max_iter = est.max_iter if k == 0 else max(1, int(est.max_iter * UPPER_STAGE_SWEEPS))
            stage = _Fit(est, (width,), dtype, backend, targets, frozen=frozen,
                         sweep_offset=sweeps, resume_allowed=continuing, max_iter=max_iter,
                         output_used=last)
            result = stage.run(features, y, sample_weight, seed=seed + k)
            results.append(result)
            sweeps += result["n_iter_"]
            if last:
                break
            W, b = result["coefs_"][k], result["intercepts_"][k]
            backend.release()  # kept for warm_start by the last stage only
        frozen.append((W, b))
        features = hidden_features(features, W, b, est.activation)
    result = _merge(results, len(hidden))
    if deep_refit_applies(est, X, hidden):  # the stages' layers refitted together
        refine_network(est, backend, X, targets.transform(y), sample_weight, result, targets)
    return result


def _merge(results, n_hidden):
    """The last stage's attributes, with the sweeps of every stage run."""
    merged = dict(results[-1])
    merged["n_layers_"] = n_hidden + 2
    merged["n_iter_"] = sum(r["n_iter_"] for r in results)
    merged["n_unit_refit_passes_"] = sum(r["n_unit_refit_passes_"] for r in results)
    merged["history_"] = {key: [v for r in results for v in r["history_"][key]]
                          for key in merged["history_"]}
    merged["loss_curve_"] = [v for r in results for v in r["loss_curve_"]]
    if merged["validation_scores_"] is not None:
        merged["validation_scores_"] = [v for r in results for v in r["validation_scores_"]]
    return merged

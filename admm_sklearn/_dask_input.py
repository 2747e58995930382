"""Dask arrays and dataframes as ``fit`` input, without gathering them.

With ``backend='dask'`` the estimators accept ``dask.array`` and
``dask.dataframe`` collections. Their row chunks stay on the workers: the
checks run as small Dask reductions (only flags, the classes or a few sums
reach the client), the targets are encoded chunk by chunk where they lie,
and :meth:`DaskBackend.scatter_chunks` builds each worker's shards from the
chunks it holds.
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, _check_n_features


def is_dask_collection(obj):
    """Whether ``obj`` is a dask array, dataframe or series (dask not imported)."""
    return type(obj).__module__.split(".")[0] == "dask" and hasattr(obj, "dask")


def _as_dask_array(obj, rows=None):
    """A dask array of ``obj``: dask collections as they are, in-memory
    arrays (labels or weights beside a dask ``X``) split into ``rows``."""
    if hasattr(obj, "to_dask_array"):  # dataframe or series
        return obj.to_dask_array(lengths=True)
    if is_dask_collection(obj):
        return obj
    import dask.array

    obj = np.asarray(obj)
    return dask.array.from_array(obj, chunks=(rows,) + obj.shape[1:])


def validate_dask_input(est, X, y, sample_weight, backend, reset):
    """Check dask ``X, y, sample_weight`` for ``est``; return them row-aligned
    (one column chunk, the same row chunks) and this process's target info."""
    from ._backends._dask import DaskBackend

    if not isinstance(backend, DaskBackend):
        raise ValueError(
            "dask collections as input need backend='dask' (otherwise the data would be "
            "gathered into this process: call .compute() first if that is what you want).")
    if est.early_stopping:
        raise ValueError("early_stopping=True is not supported with dask input yet: hold out "
                         "a validation set yourself, or pass NumPy arrays.")
    import dask

    # a dask dataframe's empty pandas prototype carries its column names
    _check_feature_names(est, getattr(X, "_meta", X), reset=reset)
    X = _as_dask_array(X)
    if type(getattr(X, "_meta", None)).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "dask arrays with sparse chunks are not supported: pass the scipy.sparse "
            "matrix itself with backend='dask' (its rows are split among the workers), "
            "or dense chunks.")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array for X, got {X.ndim}D.")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
    _check_n_features(est, X, reset=reset)
    X = X.rechunk({1: -1})
    y = _as_dask_array(y, X.chunks[0])
    y = y.rechunk({0: X.chunks[0], **({1: -1} if y.ndim == 2 else {})})
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}.")
    checks = {}
    if sample_weight is not None:
        sample_weight = _as_dask_array(sample_weight, X.chunks[0]).rechunk({0: X.chunks[0]})
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected "
                             f"{(X.shape[0],)}!")
        checks["negative"] = (sample_weight < 0).any()
        checks["finite"] = dask.array.isfinite(sample_weight).all()
    if is_classifier(est):
        checks["classes"] = dask.array.unique(y)
    else:
        checks["finite_y"] = dask.array.isfinite(y).all()
        checks["sums"] = est._target_info(y, sample_weight)  # lazy on dask arrays
    (checks,) = dask.compute(checks)  # flags, classes and sums only
    if checks.get("negative"):
        raise ValueError("Negative values in data passed to `sample_weight`.")
    if "finite" in checks and not checks["finite"]:
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if "classes" in checks:
        check_classification_targets(checks["classes"])
        info = np.asarray(checks["classes"]).tolist()
    else:
        if not checks["finite_y"]:
            raise ValueError("Input y contains NaN or infinity.")
        info = np.asarray(checks["sums"])
    return X, y, sample_weight, info


def encode_chunks(targets, y, dtype):
    """``targets.transform`` applied chunk by chunk, lazily, on the workers."""

    def encode(block):
        return targets.transform(block).astype(dtype)

    return y.map_blocks(encode, dtype=dtype, chunks=(y.chunks[0], (targets.n_outputs,)),
                        new_axis=1 if y.ndim == 1 else None)

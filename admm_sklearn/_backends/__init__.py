"""Execution backends: where the shards live and how their sums are reduced."""

from ._base import Backend
from ._dask import DaskBackend, WorkerLostError
from ._joblib import JoblibBackend
from ._mpi import MPIBackend, RankFailedError
from ._serial import SerialBackend

_BY_NAME = {"serial": SerialBackend, "joblib": JoblibBackend, "mpi": MPIBackend,
            "dask": DaskBackend}


def make_backend(backend, n_jobs=None):
    """A fresh backend for one fit from the estimator's ``backend`` parameter.

    ``backend`` is a name (``'serial'``, ``'joblib'``, ``'mpi'``, ``'dask'``) or a
    :class:`Backend` instance, whose configuration is copied so that a fit
    never shares shards with another.
    """
    if isinstance(backend, Backend):
        return backend.__deepcopy__({})
    if backend == "joblib":
        return JoblibBackend(n_jobs=n_jobs)
    return _BY_NAME[backend]()


__all__ = ["Backend", "SerialBackend", "JoblibBackend", "MPIBackend", "DaskBackend",
           "RankFailedError", "WorkerLostError", "make_backend"]

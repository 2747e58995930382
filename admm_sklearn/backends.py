"""Public home of the execution backends (see ``docs/backends.rst``)."""

from ._backends import (
    Backend,
    DaskBackend,
    JoblibBackend,
    MPIBackend,
    RankFailedError,
    SerialBackend,
    WorkerLostError,
)

__all__ = ["Backend", "SerialBackend", "JoblibBackend", "MPIBackend", "DaskBackend",
           "RankFailedError", "WorkerLostError"]

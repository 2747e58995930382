"""Public home of the execution backends (see ``docs/backends.rst``)."""

from ._backends import Backend, JoblibBackend, MPIBackend, RankFailedError, SerialBackend

__all__ = ["Backend", "SerialBackend", "JoblibBackend", "MPIBackend", "RankFailedError"]

"""SPMD over MPI: one shard per rank, Gram sums through ``Allreduce``.

Every rank calls ``fit(X_local, y_local)`` with its own rows. Passes run on
the local shard; their small sums meet in one ``Allreduce`` per pass, and
every rank then does the same small solves on the same sums, so every rank
ends with the same model (paper, section 5).

No rank may leave a collective its peers entered: a pass that raises is
caught, every rank then learns through a one-integer ``allreduce`` whether
any rank failed, and all raise together instead of one rank hanging.
"""

import numpy as np

from .._shard import Shard
from ._base import Backend


class RankFailedError(RuntimeError):
    """Raised on every rank when a pass failed on one of them."""


def _world():
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "backend='mpi' needs mpi4py: pip install 'admm-sklearn[mpi]'"
        ) from exc
    return MPI.COMM_WORLD


class MPIBackend(Backend):
    """One shard per MPI rank.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or None
        Communicator of the ranks that share the fit; ``None`` means
        ``MPI.COMM_WORLD``.
    """

    distributed = True

    def __init__(self, comm=None):
        super().__init__()
        self.comm = comm

    def _config(self):
        return {"comm": self.comm}

    @property
    def _comm(self):
        if self.comm is None:
            self.comm = _world()
        return self.comm

    @property
    def rank(self):
        return self._comm.Get_rank()

    def _make_shards(self, X, Y, sample_weight, offset, dtype, shift=None):
        return [Shard(X, Y, offset, dtype, sample_weight, shift)]

    def map(self, fn, *args):
        try:
            parts = [fn(shard, *args) for shard in self.shards]
            error = None
        except Exception as exc:
            parts, error = None, exc
        self._raise_if_any_failed(error)
        return parts

    def _raise_if_any_failed(self, error):
        # A one-integer collective before the data one: a failed rank cannot
        # know the sizes its peers are about to reduce, but it can say it
        # failed, and then every rank raises instead of one hanging.
        n_failed = self._comm.allreduce(0 if error is None else 1)
        if n_failed:
            where = f"{type(error).__name__}: {error}" if error else "ok"
            raise RankFailedError(
                f"a pass failed on {n_failed} MPI rank(s); on rank {self.rank}: {where}"
            ) from error

    def allreduce(self, arrays):
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        flat = np.concatenate([a.ravel() for a in arrays])
        out = np.empty_like(flat)
        self._comm.Allreduce(flat, out)
        result, start = [], 0
        for a in arrays:
            result.append(out[start:start + a.size].reshape(a.shape))
            start += a.size
        return result

    def allgather(self, obj):
        return self._comm.allgather(obj)

    def row_offset(self, n_local):
        offset = self._comm.exscan(int(n_local))
        return 0 if offset is None else offset

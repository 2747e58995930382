"""The backend contract: who holds the shards and how their sums meet.

The engine (Algorithm 1) never touches data directly. It hands a backend a
*pass*, a function ``fn(shard, *args)`` that updates one shard in place and
returns a tuple of small arrays, and asks for the sum of those arrays over
every shard of every process. That is the whole of section 5's data
parallelism: a/z/lambda updates are local, and only Gram products such as
``sum_n z^n (a^n)^T`` and ``sum_n a^n (a^n)^T`` ("transpose reduction")
cross workers.
"""

from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np


#: See :meth:`Backend.map_sum`.
WIDE_FLOAT32_ENTRIES = 1 << 20


def _sum_dtype(part):
    part = np.asarray(part)
    wide = part.dtype == np.float32 and part.size >= WIDE_FLOAT32_ENTRIES
    return np.float32 if wide else np.float64


class Backend(ABC):
    """Base class of the execution backends.

    A backend owns the shards of one fit. Subclasses implement
    :meth:`_make_shards`, :meth:`map` and, when several processes share a
    fit (MPI), :meth:`allreduce` and :meth:`allgather`.

    To plug in another engine (Ray actors, say, as :class:`DaskBackend`
    does with Dask's), subclass this so that each actor *keeps* its shard
    for the whole fit and ``map`` sends it only the pass and its small
    arguments; see ``docs/backends.rst``.
    """

    #: Whether the training rows are split across processes (each process
    #: calls ``fit`` with its own rows, as under ``mpiexec``).
    distributed = False

    def __init__(self):
        self.shards = []

    # -- set-up ---------------------------------------------------------
    def scatter(self, X, Y, dtype, sample_weight=None, shift=None):
        """Split this process's rows (and their weights) into shards holding
        ``dtype`` copies of ``X - shift`` (see :class:`~admm_sklearn._shard.Shard`)."""
        offset = self.row_offset(X.shape[0])
        self.shards = self._make_shards(X, Y, sample_weight, offset, dtype, shift)

    @abstractmethod
    def _make_shards(self, X, Y, sample_weight, offset, dtype, shift=None):
        """Return the list of :class:`~admm_sklearn._shard.Shard` of this process."""

    def release(self):
        """Drop the shards (and their state) once a fit no longer needs them."""
        self.shards = []

    @contextmanager
    def running(self):
        """Context held around a fit's passes (thread pools and the like)."""
        yield self

    # -- passes -----------------------------------------------------------
    @abstractmethod
    def map(self, fn, *args):
        """``[fn(shard, *args) for shard in local shards]``.

        A pass marked ``fn.cheap = True`` does little work per call and is
        called many times: a backend with threads may run it in the calling
        thread, shard after shard."""

    def map_sum(self, fn, *args):
        """Sum of ``fn(shard, *args)`` (a tuple of arrays) over all shards.

        Summed in float64, except the wide arrays (``WIDE_FLOAT32_ENTRIES``
        entries or more) that the shards return in float32, the ``d x k``
        products of sparse inputs, formed in the state's dtype: those stay
        in float32 within a process (:meth:`allreduce` sums across
        processes in float64), which halves the largest arrays a sweep
        holds on wide inputs.
        """
        parts = self.map(fn, *args)
        # each shard's arrays are dropped once added: with 10^5 inputs a
        # part can be a d x k array per shard
        total = [np.array(p, dtype=_sum_dtype(p)) for p in parts.pop(0)]
        while parts:
            for acc, p in zip(total, parts.pop(0)):
                acc += p
        return self.allreduce(total)

    # -- cross-process collectives (no-ops within one process) -----------
    def allreduce(self, arrays):
        """Sum float64 arrays across processes; the same result everywhere."""
        return arrays

    def allgather(self, obj):
        """List of ``obj`` from every process, in rank order."""
        return [obj]

    def row_offset(self, n_local):
        """Global index of this process's first row."""
        return 0

    def __deepcopy__(self, memo):
        # clone() deep-copies parameters; a backend instance is
        # configuration (a communicator is shared, never copied), and a
        # fitted one's shards are not worth copying.
        return type(self)(**self._config())

    def _config(self):
        return {}

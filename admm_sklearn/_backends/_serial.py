"""The reference backend: one shard, in this process."""

from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from .._shard import Shard
from ._base import Backend


class SerialBackend(Backend):
    """All rows in one shard, every pass run in the calling thread.

    BLAS is held to one thread while a fit runs: the passes multiply
    cache-sized row blocks, on which a threaded BLAS spends more time waking
    threads than computing (measured 1.6x to 5.7x slower per fit with two
    OpenBLAS threads, from 400 x 28 to 50,000 x 28 samples; see
    ``docs/results.rst``). Use ``backend='joblib'`` for several cores.
    """

    def _make_shards(self, X, Y, sample_weight, offset, dtype, shift=None):
        return [Shard(X, Y, offset, dtype, sample_weight, shift)]

    def map(self, fn, *args):
        return [fn(shard, *args) for shard in self.shards]

    @contextmanager
    def running(self):
        with threadpool_limits(limits=1, user_api="blas"):
            yield self

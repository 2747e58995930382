"""One node, shared memory: shards updated in place by joblib threads."""

from contextlib import contextmanager

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits

from .._shard import Shard
from ._base import Backend

_MIN_PARALLEL_ROWS = 2048


class JoblibBackend(Backend):
    """Rows split into ``n_jobs`` shards, passes run in parallel threads.

    Threads, not processes: a pass updates its shard in place, which only
    shared memory allows without shipping state back every iteration. The
    GEMMs release the GIL, and BLAS is pinned to one thread per worker
    (threadpoolctl) so workers do not oversubscribe the cores.

    Parameters
    ----------
    n_jobs : int or None
        Number of shards and threads; ``None`` means 1 unless a
        :func:`joblib.parallel_config` context says otherwise, ``-1`` all
        cores (scikit-learn's convention).
    """

    def __init__(self, n_jobs=None):
        super().__init__()
        self.n_jobs = n_jobs
        self._parallel = None

    def _config(self):
        return {"n_jobs": self.n_jobs}

    def _make_shards(self, X, Y, offset, dtype):
        k = max(1, min(effective_n_jobs(self.n_jobs), X.shape[0]))
        bounds = np.linspace(0, X.shape[0], k + 1).astype(int)
        return [Shard(X[lo:hi], Y[lo:hi], offset + lo, dtype)
                for lo, hi in zip(bounds[:-1], bounds[1:])]

    @contextmanager
    def running(self):
        # require="sharedmem" keeps threads even under a process-based
        # parallel_config: the passes mutate shards in place.
        with threadpool_limits(limits=1, user_api="blas"), Parallel(
            n_jobs=len(self.shards), require="sharedmem"
        ) as parallel:
            self._parallel = parallel
            try:
                yield self
            finally:
                self._parallel = None

    def map(self, fn, *args):
        # Thread dispatch costs more than it saves on tiny shards; the
        # per-shard arithmetic, and so the result, is the same either way.
        small = sum(s.n_samples for s in self.shards) < _MIN_PARALLEL_ROWS
        if self._parallel is None or len(self.shards) == 1 or small:
            return [fn(shard, *args) for shard in self.shards]
        return self._parallel(delayed(fn)(shard, *args) for shard in self.shards)

"""One node, shared memory: shards updated in place by threads."""

from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import numpy as np
from joblib import effective_n_jobs
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

    The number of shards follows joblib (``n_jobs`` and
    :func:`joblib.parallel_config`), but the passes are dispatched to a plain
    thread pool held for the whole fit. A reused ``joblib.Parallel`` call
    cost 10.5 ms per pass on this machine against 0.07 ms for
    :class:`concurrent.futures.ThreadPoolExecutor` (two trivial tasks). A
    sweep has about six passes, so joblib's dispatch alone made two threads
    slower than one up to about 30,000 rows (``docs/results.rst``).

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
        self._pool = None

    def _config(self):
        return {"n_jobs": self.n_jobs}

    def _make_shards(self, X, Y, sample_weight, offset, dtype, shift=None):
        # Below _MIN_PARALLEL_ROWS the passes run one shard after the other
        # (see map), and every extra shard only adds its calls' overhead:
        # one shard then (breast cancer: 1.9 ms a sweep with two, 1.6 ms
        # with one)
        k = max(1, min(effective_n_jobs(self.n_jobs), X.shape[0]))
        if X.shape[0] < _MIN_PARALLEL_ROWS:
            k = 1
        bounds = np.linspace(0, X.shape[0], k + 1).astype(int)
        return [Shard(X[lo:hi], Y[lo:hi], offset + lo, dtype,
                      None if sample_weight is None else sample_weight[lo:hi], shift)
                for lo, hi in zip(bounds[:-1], bounds[1:])]

    @contextmanager
    def running(self):
        # Threads whatever parallel_config's backend says: the passes mutate
        # shards in place, which processes could not.
        # the calling thread runs one shard itself (see map)
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(
            max_workers=max(1, len(self.shards) - 1), thread_name_prefix="admm-shard"
        ) as pool:
            self._pool = pool
            try:
                yield self
            finally:
                self._pool = None

    def map(self, fn, *args):
        # Thread dispatch costs more than it saves on tiny shards and on
        # passes marked ``cheap``; the per-shard arithmetic, and so the
        # result, is the same either way.
        small = sum(s.n_samples for s in self.shards) < _MIN_PARALLEL_ROWS
        if self._pool is None or len(self.shards) == 1 or small or getattr(fn, "cheap", False):
            return [fn(shard, *args) for shard in self.shards]
        # the first shard in the calling thread, which would otherwise only
        # wait: one hand-off a pass fewer (a sweep makes two or more passes)
        futures = [self._pool.submit(fn, shard, *args) for shard in self.shards[1:]]
        try:
            first = fn(self.shards[0], *args)
        finally:  # no shard is still being updated when an error propagates
            wait(futures)
        return [first] + [f.result() for f in futures]

"""A Dask cluster driven from one Python session: shards kept by actors.

Each worker holds one :class:`_ShardActor` for the whole fit, and the actor
holds that worker's shards (its rows and their per-sample ADMM state). A
pass sends each actor only the pass function and its small arguments
(weights, ``d x d`` operators) and gets back only the small sums, which the
client adds up; the per-sample state never leaves its worker. With dask-array
input every row chunk is turned into a shard on the worker that already
holds it, so the data are not gathered to the client either.

The client talks to the actors directly (Dask's actor calls, one round trip
per worker and pass): measured 3.9 ms for a trivial pass on two local worker
processes.
"""

from contextlib import contextmanager

import numpy as np
from threadpoolctl import threadpool_limits

from .._shard import Shard
from .._sparse_inputs import is_sparse
from ._base import Backend


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "backend='dask' needs dask.distributed: pip install 'admm-sklearn[dask]'"
        ) from exc
    return distributed


class WorkerLostError(RuntimeError):
    """Raised on the client when a Dask worker (and its shards) is lost mid-fit."""


def _keep_freed_memory_for_reuse():
    """Let glibc reuse freed blocks instead of returning them to the OS.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
    also fixes glibc's mmap threshold: every block-sized temporary of a pass
    (a few MiB) is then a fresh ``mmap`` whose pages fault in on first touch.
    Measured on one 200,000 x 28, (300,) float32 sweep: 0.46 s normally, 0.70
    s with that setting, 0.45 s with it and these two ``mallopt`` calls. The
    actor's process holds the shards for the whole fit anyway; elsewhere
    (not glibc) this does nothing.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD: heap below 32 MiB
        libc.mallopt(-1, 128 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


#: Seconds a scatter waits for the cluster to have a worker (without a timeout).
_WAIT_FOR_WORKERS = 60.0


class _ShardActor:
    """Lives on one worker: that worker's shards, and the passes run on them."""

    def __init__(self, blocks, dtype, shift):
        _keep_freed_memory_for_reuse()
        # blocks: (X, Y, sample_weight or None, offset) per row block
        self.shards = []
        for X, Y, w, offset in blocks:
            X = X if is_sparse(X) else np.asarray(X)  # sparse rows stay sparse
            if not np.all(np.isfinite(X.data if is_sparse(X) else X)):
                raise ValueError("Input X contains NaN or infinity (in a dask chunk).")
            self.shards.append(Shard(X, Y, offset, dtype, w, shift))

    def run(self, fn, *args):
        return [fn(shard, *args) for shard in self.shards]

    def n_samples(self):
        return sum(shard.n_samples for shard in self.shards)


class DaskBackend(Backend):
    """Shards held by actors on the workers of a ``distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client or None
        The cluster to use; ``None`` means the current client
        (:func:`distributed.get_client`), and an error if there is none.
    timeout : float or None, default=None
        Seconds a pass may take on a worker before the fit fails with
        :class:`TimeoutError`. A worker that dies is detected without it:
        the actor call fails when its connection does (at most Dask's
        connect timeout, 30 s by default) and the fit raises
        :class:`WorkerLostError`.
    count_bytes : bool, default=False
        Count the pickled bytes of every pass's arguments and results (per
        actor) in :attr:`bytes_sent` and :attr:`bytes_received`. Costs one
        extra pickling per pass; for measurement.
    """

    def __init__(self, client=None, timeout=None, count_bytes=False):
        super().__init__()
        self.client = client
        self.timeout = timeout
        self.count_bytes = count_bytes
        self.bytes_sent = self.bytes_received = 0

    def _config(self):
        return {"client": self.client, "timeout": self.timeout,
                "count_bytes": self.count_bytes}

    def _client(self):
        distributed = _distributed()
        if self.client is not None:
            return self.client
        try:
            return distributed.get_client()
        except ValueError as exc:
            raise ValueError(
                "backend='dask' needs a running distributed.Client, e.g. "
                "client = distributed.Client(distributed.LocalCluster()), or "
                "DaskBackend(client=...).") from exc

    # -- set-up ---------------------------------------------------------
    def _make_shards(self, X, Y, sample_weight, offset, dtype, shift=None):
        """One actor per worker; numpy rows are split evenly and sent once."""
        client = self._client()
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:  # a cluster still starting, or one whose workers left
            client.wait_for_workers(1, timeout=self.timeout or _WAIT_FOR_WORKERS)
            workers = sorted(client.scheduler_info()["workers"])
        k = max(1, min(len(workers), X.shape[0]))
        bounds = np.linspace(0, X.shape[0], k + 1).astype(int)
        placed = []
        for (lo, hi), worker in zip(zip(bounds[:-1], bounds[1:]), workers):
            w = None if sample_weight is None else sample_weight[lo:hi]
            block = client.scatter([(X[lo:hi], Y[lo:hi], w, offset + lo)], workers=[worker],
                                   direct=True)
            placed.append((worker, block))
        return self._start_actors(client, placed, dtype, shift)

    def scatter_chunks(self, X, Y, sample_weight, dtype, shift=None):
        """Shards from row-chunked dask arrays, each built where its chunk is.

        ``X``, ``Y`` (and ``sample_weight``) must share their row chunks. The
        chunks are persisted on the cluster (where the scheduler puts them)
        and every worker's actor is built from the chunks it holds: the data
        never pass through the client.
        """
        from dask import delayed

        client = self._client()
        offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
        x_parts = X.to_delayed().ravel()
        y_parts = Y.to_delayed().ravel()
        w_parts = [None] * len(x_parts) if sample_weight is None \
            else sample_weight.to_delayed().ravel()
        blocks = [delayed(tuple)([x, y, w, int(o)], pure=True)
                  for x, y, w, o in zip(x_parts, y_parts, w_parts, offsets)]
        futures = client.compute(blocks)
        _distributed().wait(futures, timeout=self.timeout)
        where = client.who_has(futures)
        by_worker = {}
        for future in futures:
            holders = sorted(where.get(future.key, ()))
            by_worker.setdefault(holders[0] if holders else None, []).append(future)
        placed = [(worker, blocks) for worker, blocks in sorted(
            by_worker.items(), key=lambda item: str(item[0]))]
        # the actors hold their own copies now; dropping the chunk futures
        # (not cancelling them: that would cancel the actors built on them)
        # lets the scheduler free the chunks
        self.shards = self._start_actors(client, placed, dtype, shift)

    def _start_actors(self, client, placed, dtype, shift):
        futures = [client.submit(_ShardActor, blocks, dtype, shift, actor=True, pure=False,
                                 **({} if worker is None else {"workers": [worker]}))
                   for worker, blocks in placed]
        try:
            actors = [f.result(timeout=self.timeout) for f in futures]
        except Exception:
            client.cancel(futures)
            raise
        # keep the futures: an actor lives as long as its future is held
        return list(zip(futures, actors))

    def release(self):
        """Free every actor (and its shards) on the cluster."""
        if self.shards:
            futures = [future for future, _ in self.shards]
            self.shards = []
            try:
                self._client().cancel(futures)
            except Exception:  # pragma: no cover - a cluster already gone
                pass

    @contextmanager
    def running(self):
        # The client's own work (the small solves) on one BLAS thread:
        # OpenBLAS threads spin after each call and took a third of a core
        # from the workers on this 2-core machine (dask 0.33 s a sweep
        # against MPI's 0.23 at 200,000 x 28, (300,), float32).
        with threadpool_limits(limits=1, user_api="blas"):
            yield self

    # -- passes -----------------------------------------------------------
    def map(self, fn, *args):
        calls, error = [], None
        for _, actor in self.shards:
            try:
                calls.append(actor.run(fn, *args))
            except Exception as exc:  # an actor whose worker is gone refuses the call
                # itself (RuntimeError "Worker holding Actor was lost"), e.g. in
                # the engine's clean-up pass after a lost worker's first error
                error = error or OSError(f"the call could not be sent: {exc}")
        results = []
        for call in calls:  # wait for every call, so none is left in flight
            try:
                results.append(call.result(timeout=self.timeout))
            except Exception as exc:
                error = error or exc
        if error is not None:
            if isinstance(error, OSError):
                raise WorkerLostError(
                    f"a Dask worker holding shards was lost during the fit ({error}); "
                    "the fit was abandoned, nothing was changed") from error
            raise error
        if self.count_bytes:  # as Dask pickles them (cloudpickle: closures too)
            from cloudpickle import dumps

            self.bytes_sent += len(calls) * len(dumps((fn, args), protocol=5))
            self.bytes_received += sum(len(dumps(r, protocol=5)) for r in results)
        return [part for parts in results for part in parts]

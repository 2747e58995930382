"""The reference backend: one shard, in this process."""

from .._shard import Shard
from ._base import Backend


class SerialBackend(Backend):
    """All rows in one shard, every pass run in the calling thread."""

    def _make_shards(self, X, Y, offset, dtype):
        return [Shard(X, Y, offset, dtype)]

    def map(self, fn, *args):
        return [fn(shard, *args) for shard in self.shards]

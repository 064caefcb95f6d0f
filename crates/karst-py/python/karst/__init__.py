"""karst's bulk client for Redis-compatible servers (karst-server, redis-server, Valkey).

``RedisClient`` reads values straight into caller buffers (bytearray, memoryview, numpy) and
sends them without copies, over a pool of connections, with the GIL released during I/O. It also
offers LMCache's native batch interface (``submit_batch_get`` … ``drain_completions``).
"""

from ._karst import (
    BufferTooSmallError,
    KarstError,
    RedisClient,
    ResponseError,
    key_slot,
)

__all__ = ["RedisClient", "KarstError", "ResponseError", "BufferTooSmallError", "key_slot"]

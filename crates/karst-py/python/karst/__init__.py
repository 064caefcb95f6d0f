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

__all__ = [
    "RedisClient",
    "LMCacheRedisClient",
    "KarstError",
    "ResponseError",
    "BufferTooSmallError",
    "key_slot",
]


def LMCacheRedisClient(host: str, port: int, num_workers: int = 8, username: str = "", password: str = "") -> RedisClient:
    """A client built with the signature of LMCache's native RESP client
    (``lmcache.lmcache_redis.LMCacheRedisClient(host, port, num_workers, username, password)``):
    ``num_workers`` worker threads over as many pooled connections."""
    return RedisClient(
        host,
        port,
        password=password or None,
        username=username or None,
        connections=num_workers,
        num_workers=num_workers,
    )

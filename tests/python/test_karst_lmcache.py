"""karst.lmcache, the LMCache remote-storage plugin, driven through LMCache's documented connector
interface with a small fake MemoryObj and allocator (LMCache itself is too heavy to install here)."""

from __future__ import annotations

import asyncio
import ctypes
import types

import pytest

karst = pytest.importorskip("karst", reason="the karst package is not installed (pip install ./crates/karst-py)")
from karst import lmcache as plugin  # noqa: E402

import _karst_servers as servers  # noqa: E402

CHUNK = 64 * 1024  # bytes per full chunk in these tests
TOKEN = 256  # bytes per token: a partial chunk is a multiple of this


class FakeMemoryObj:
    """The parts of LMCache's MemoryObj a connector touches: a "<B" byte_array over pool
    memory, a shape, and a reference count."""

    def __init__(self, nbytes: int):
        self._raw = (ctypes.c_uint8 * nbytes)()
        self.byte_array = memoryview(self._raw)
        assert self.byte_array.format == "<B"
        self.shape = (nbytes,)
        self.refs = 1

    def ref_count_down(self):
        self.refs -= 1

    def fill(self, data: bytes):
        ctypes.memmove(self._raw, data, len(data))

    def bytes(self) -> bytes:
        return self.byte_array.tobytes()


class FakeAllocator:
    def __init__(self):
        self.allocated = []

    def allocate(self, shape, dtype, fmt):
        obj = FakeMemoryObj(shape[0])
        self.allocated.append(obj)
        return obj


def pattern(n: int, seed: int) -> bytes:
    block = bytes((i * 7 + seed) & 0xFF for i in range(256))
    return (block * (n // 256 + 1))[:n]


class Key:
    """Like LMCache's CacheEngineKey: the connector stores key.to_string()."""

    def __init__(self, s):
        self.s = s

    def to_string(self):
        return self.s


@pytest.fixture(scope="module")
def redis_port():
    s = servers.redis_server()
    if s is None:
        pytest.skip("redis-server is not installed")
    yield s.port
    s.stop()


def make_connector(port, loop):
    allocator = FakeAllocator()
    context = types.SimpleNamespace(
        url="plugin://karst",
        loop=loop,
        local_cpu_backend=allocator,
        config=types.SimpleNamespace(
            extra_config={
                "save_chunk_meta": False,
                "remote_storage_plugin.karst.module_path": "karst.lmcache",
                "remote_storage_plugin.karst.class_name": "KarstConnectorAdapter",
                "remote_storage_plugin.karst.host": "127.0.0.1",
                "remote_storage_plugin.karst.port": str(port),
                "remote_storage_plugin.karst.connections": "4",
            }
        ),
        metadata=None,
        plugin_name="karst",
    )
    adapter = plugin.KarstConnectorAdapter()
    assert adapter.can_parse("plugin://karst") and adapter.can_parse("plugin://karst.a")
    assert adapter.can_parse("karst://127.0.0.1:6379") and not adapter.can_parse("redis://x:1")
    conn = adapter.create_connector(context)
    # Without LMCache, the chunk layout LMCache's init_chunk_meta would set is given here.
    conn.meta_shape, conn.meta_dtype, conn.meta_fmt = (CHUNK,), "uint8", None
    conn.full_chunk_size, conn.single_token_size = CHUNK, TOKEN
    trimmed = []

    def reshape_partial_chunk(memory_obj, bytes_read):
        assert bytes_read % TOKEN == 0 and bytes_read < CHUNK
        trimmed.append(bytes_read)
        memory_obj.shape = (bytes_read,)
        return memory_obj

    conn.reshape_partial_chunk = reshape_partial_chunk
    return conn, allocator, trimmed


def test_connector_interface(redis_port):
    async def main():
        loop = asyncio.get_running_loop()
        conn, allocator, trimmed = make_connector(redis_port, loop)
        keys = [Key(f"model@0@chunk{i}") for i in range(6)]
        objs = []
        for i in range(5):
            o = FakeMemoryObj(CHUNK if i < 4 else 3 * TOKEN)  # the last chunk is partial
            o.fill(pattern(len(o.byte_array), i))
            objs.append(o)

        assert await conn.ping() == 0
        assert conn.support_batched_get() and conn.support_batched_put()
        assert conn.support_batched_async_contains() and conn.support_batched_get_non_blocking()

        await conn.put(keys[0], objs[0])
        assert await conn.exists(keys[0])
        assert conn.exists_sync(keys[0])
        assert not await conn.exists(keys[5])

        await conn.batched_put(keys[1:5], objs[1:5])
        assert await conn.batched_async_contains("lookup-1", keys) == 5
        assert await conn.batched_async_contains("lookup-2", [keys[5]] + keys[:5]) == 0
        assert conn.batched_contains(keys) == [True] * 5 + [False]

        got = await conn.get(keys[0])
        assert got is not None and got.bytes() == objs[0].bytes()
        assert await conn.get(keys[5]) is None
        assert allocator.allocated[-1].refs == 0  # the miss gave its chunk back

        many = await conn.batched_get(keys)
        assert [m is None for m in many] == [False] * 5 + [True]
        for i in range(4):
            assert many[i].bytes() == objs[i].bytes()
        assert many[4].shape == (3 * TOKEN,) and trimmed == [3 * TOKEN]
        assert many[4].bytes()[: 3 * TOKEN] == objs[4].bytes()

        prefix = await conn.batched_get_non_blocking("lookup-3", [keys[0], keys[1], keys[5], keys[2]])
        assert len(prefix) == 2 and prefix[1].bytes() == objs[1].bytes()
        assert allocator.allocated[-1].refs == 0 and allocator.allocated[-2].refs == 0

        listed = await conn.list()
        assert {k.to_string() for k in keys[:5]} <= set(listed)

        assert conn.remove_sync(keys[0])
        assert not conn.remove_sync(keys[0])
        assert not await conn.exists(keys[0])

        # Many batches in flight at once on one loop.
        results = await asyncio.gather(*(conn.batched_get(keys[1:3]) for _ in range(10)))
        assert all(r[0].bytes() == objs[1].bytes() for r in results)

        await conn.close()

    asyncio.run(main())


def test_plugin_instance_settings_and_karst_url(redis_port):
    cfg = {
        "remote_storage_plugin.karst.port": "1",
        "remote_storage_plugin.karst.primary.port": str(redis_port),
        "remote_storage_plugin.karst.primary.connections": "2",
    }
    ctx = types.SimpleNamespace(plugin_name="karst.primary", config=types.SimpleNamespace(extra_config=cfg))
    assert plugin._plugin_config(ctx)["port"] == str(redis_port)

    async def main():
        loop = asyncio.get_running_loop()
        context = types.SimpleNamespace(
            url=f"karst://127.0.0.1:{redis_port}", loop=loop, local_cpu_backend=FakeAllocator(),
            config=None, metadata=None, plugin_name=None,
        )
        conn = plugin.KarstConnectorAdapter().create_connector(context)
        assert await conn.ping() == 0
        await conn.close()

    asyncio.run(main())

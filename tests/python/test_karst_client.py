"""karst's Python client (crates/karst-py) against a real redis-server, and karst-server when built."""

from __future__ import annotations

import array
import asyncio
import ctypes
import os
import select
import subprocess
import threading

import pytest

karst = pytest.importorskip("karst", reason="the karst package is not installed (pip install ./crates/karst-py)")

import _karst_servers as servers  # noqa: E402

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

MB = 1 << 20


@pytest.fixture(scope="module", params=["redis", "karst"])
def server(request):
    if request.param == "redis":
        s = servers.redis_server("--enable-debug-command", "yes")
        if s is None:
            pytest.skip("redis-server is not installed")
    else:
        s = servers.karst_server()
        if s is None:
            pytest.skip("karst-server is not built (target/{debug,release}/karst-server) or did not start")
    yield s
    s.stop()


@pytest.fixture
def client(server):
    try:
        c = karst.RedisClient("127.0.0.1", server.port, connections=4)
    except Exception as e:  # karst-server is being built: it may not answer yet
        pytest.skip(f"{server.kind} does not answer: {e}")
    yield c
    c.close()


def pattern(n: int, seed: int = 0) -> bytes:
    block = bytes((i * 31 + seed) & 0xFF for i in range(256))
    return (block * (n // 256 + 1))[:n]


def lmcache_view(n: int, data: bytes = b""):
    """A writable, C-contiguous, 1-D memoryview of format "<B", as LMCache hands out."""
    arr = (ctypes.c_uint8 * n)()
    ctypes.memmove(arr, data, min(len(data), n))
    view = memoryview(arr)
    assert view.format == "<B" and not view.readonly and view.c_contiguous
    return view


def test_set_get_roundtrip_bytearray(client):
    client.set("a", b"hello")
    buf = bytearray(16)
    assert client.get("a", buf) == 5
    assert buf[:5] == b"hello"
    assert client.get("missing", buf) is None
    assert client.get_bytes("a") == b"hello"
    assert client.get_bytes("missing") is None
    client.set(b"bin\x00key", b"")
    assert client.get(b"bin\x00key", bytearray(1)) == 0


@pytest.mark.parametrize("size", [0, 1, 100, 70_000, 4 * MB + 7])
def test_every_buffer_kind(client, size):
    value = pattern(size, size & 0xFF)
    client.set(f"v{size}", memoryview(value))
    targets = {
        "bytearray": bytearray(size + 3),
        "memoryview": memoryview(bytearray(size + 3)),
        "cast B": memoryview(bytearray(size + 3)).cast("B"),
        "<B": lmcache_view(size + 3),
        "array": array.array("B", bytes(size + 3)),
    }
    if np is not None:
        targets["numpy u1"] = np.zeros(size + 3, dtype="<u1")
        targets["numpy u1 2-D"] = np.zeros((1, size + 3), dtype=np.uint8)
    for name, buf in targets.items():
        assert client.get(f"v{size}", buf) == size, name
        assert bytes(memoryview(buf).cast("B")[:size]) == value, name
    # SET from every kind as well.
    for name, buf in targets.items():
        client.set(f"w{size}:{name}", buf)
        assert client.get_bytes(f"w{size}:{name}") == bytes(memoryview(buf).cast("B")), name


def test_rejects_unusable_buffers(client):
    client.set("k", b"x" * 10)
    with pytest.raises(TypeError):
        client.get("k", b"read-only bytes")
    with pytest.raises(TypeError):
        client.get("k", memoryview(bytearray(20)).toreadonly())
    if np is not None:
        strided = np.zeros(40, dtype=np.uint8)[::2]
        with pytest.raises(ValueError):
            client.get("k", strided)
    with pytest.raises(TypeError):
        client.get(123, bytearray(4))


def test_buffer_too_small_drains_and_connection_stays_usable(server):
    c = karst.RedisClient("127.0.0.1", server.port, connections=1)
    try:
        big = pattern(3 * MB, 5)
        c.set("big", big)
        c.set("after", b"ok")
        for _ in range(3):
            with pytest.raises(karst.BufferTooSmallError):
                c.get("big", bytearray(1000))
            assert c.get_bytes("after") == b"ok"
        assert issubclass(karst.BufferTooSmallError, karst.KarstError)
    finally:
        c.close()


def test_large_value_32mb(client):
    value = os.urandom(32 * MB)
    client.set("chunk32", value)
    buf = lmcache_view(32 * MB)
    assert client.get("chunk32", buf) == 32 * MB
    assert buf.tobytes() == value


def test_raw_pointer_entry_points(client):
    src = (ctypes.c_uint8 * 5000).from_buffer_copy(pattern(5000, 3))
    client.set_from_ptr("ptr", ctypes.addressof(src), 5000)
    dst = (ctypes.c_uint8 * 6000)()
    assert client.get_into_ptr("ptr", ctypes.addressof(dst), 6000) == 5000
    assert bytes(dst)[:5000] == bytes(src)
    with pytest.raises(karst.BufferTooSmallError):
        client.get_into_ptr("ptr", ctypes.addressof(dst), 10)
    with pytest.raises(ValueError):
        client.get_into_ptr("ptr", 0, 10)


def test_batches_keep_order(client):
    keys = [f"b:{i}" for i in range(200)]
    values = [pattern(512 + 40 * i, i) for i in range(200)]
    client.delete_many(keys)
    client.mset(keys[::2], values[::2])
    bufs = [bytearray(16 * 1024) for _ in keys]
    got = client.mget_into(keys, bufs)
    for i, n in enumerate(got):
        if i % 2 == 0:
            assert n == len(values[i]) and bufs[i][:n] == values[i], i
        else:
            assert n is None, i
    assert client.exists_many(keys) == [i % 2 == 0 for i in range(200)]
    assert client.mget_bytes(keys[:4]) == [values[0], None, values[2], None]
    assert client.delete_many(keys) == [i % 2 == 0 for i in range(200)]
    assert not client.exists(keys[0])
    with pytest.raises(ValueError, match="2 keys but 1 buffers"):
        client.mset(keys[:2], values[:1])
    with pytest.raises(ValueError, match="1 keys but 2 buffers"):
        client.mget_into(keys[:1], [bytearray(10), bytearray(10)])
    shared = bytearray(100)
    with pytest.raises(ValueError, match="overlap"):
        client.mget_into(keys[:2], [shared, memoryview(shared)[50:]])
    with pytest.raises(ValueError, match="overlap"):
        client.submit_batch_get(keys[:2], [shared, shared])
    client.mset(keys[:2], [shared, shared])  # reading one buffer twice is fine


def test_exists_delete_ping_command(client):
    client.set("e", b"1")
    assert client.exists("e")
    assert client.delete("e")
    assert not client.delete("e")
    assert client.ping()
    assert client.command(["SET", "n", "41"]) == "OK"
    assert client.command(["INCR", "n"]) == 42
    client.set("word", b"abc")
    with pytest.raises(karst.ResponseError, match="^ERR"):
        client.command(["INCR", "word"])
    assert client.get_bytes("word") == b"abc"
    try:
        client.command(["LPUSH", "lst", "x"])
    except karst.ResponseError as e:  # a server without lists yet
        assert "unknown command" in str(e)
    else:
        with pytest.raises(karst.ResponseError, match="WRONGTYPE"):
            client.get("lst", bytearray(4))


def test_gil_is_released_during_io(server, client):
    if server.kind != "redis":
        pytest.skip("DEBUG SLEEP is a redis-server command")
    started = threading.Event()

    def slow():
        started.set()
        client.command(["DEBUG", "SLEEP", "0.5"])

    t = threading.Thread(target=slow)
    t.start()
    started.wait()
    spins = 0
    while t.is_alive():
        spins += 1
    t.join()
    # Held GIL: this thread would have run only between switch intervals, a few times at most.
    assert spins > 10_000


def wait_completions(c, want):
    done = {}
    while len(done) < want:
        r, _, _ = select.select([c.event_fd()], [], [], 10)
        assert r, "no completion within 10 s"
        for fid, ok, err, per_key in c.drain_completions():
            done[fid] = (ok, err, per_key)
    return done


def test_lmcache_native_batch_interface(client):
    n, size = 12, 256 * 1024
    keys = [f"chunk:{i}" for i in range(n)]
    src = [lmcache_view(size, pattern(size, i)) for i in range(n)]
    set_id = client.submit_batch_set(keys[:8], src[:8])
    done = wait_completions(client, 1)
    assert done[set_id] == (True, None, None)

    dst = [lmcache_view(size) for _ in keys]
    get_id = client.submit_batch_get(keys, dst)
    ex_id = client.submit_batch_exists(keys)
    assert len({set_id, get_id, ex_id}) == 3
    done = wait_completions(client, 2)
    ok, err, hits = done[get_id]
    assert ok and err is None and hits == [True] * 8 + [False] * 4
    assert all(dst[i].tobytes() == src[i].tobytes() for i in range(8))
    assert done[ex_id] == (True, None, [True] * 8 + [False] * 4)

    # A buffer too small for its value is a miss for that key only.
    small = [lmcache_view(size) for _ in range(2)] + [lmcache_view(10)]
    gid = client.submit_batch_get(keys[:3], small)
    ok, err, hits = wait_completions(client, 1)[gid]
    assert ok and hits == [True, True, False]

    del_id = client.submit_batch_delete(keys)
    ok, err, per_key = wait_completions(client, 1)[del_id]
    assert ok and per_key is None
    assert client.exists_many(keys) == [False] * n
    assert client.drain_completions() == []
    with pytest.raises(ValueError):
        client.submit_batch_get(keys, dst[:2])
    with pytest.raises(TypeError):
        client.submit_batch_get(keys[:1], [b"read-only"])


def test_lmcache_constructor_signature(server):
    c = karst.LMCacheRedisClient("127.0.0.1", server.port, 2)
    try:
        fid = c.submit_batch_set(["sig"], [bytearray(b"xyz")])
        assert wait_completions(c, 1)[fid] == (True, None, None)
        assert c.get_bytes("sig") == b"xyz"
    finally:
        c.close()


def test_native_interface_with_asyncio(client):
    keys = [f"aio:{i}" for i in range(32)]
    src = [bytearray(pattern(8192, i)) for i in range(32)]

    async def main():
        loop = asyncio.get_running_loop()
        futures = {}

        def on_ready():
            for fid, ok, err, per_key in client.drain_completions():
                futures.pop(fid).set_result((ok, err, per_key))

        loop.add_reader(client.event_fd(), on_ready)
        try:
            async def run(submit, *args):
                fut = loop.create_future()
                futures[submit(*args)] = fut
                return await fut

            await asyncio.gather(*(run(client.submit_batch_set, keys[i : i + 8], src[i : i + 8]) for i in range(0, 32, 8)))
            dst = [bytearray(8192) for _ in keys]
            ok, _, hits = await run(client.submit_batch_get, keys, dst)
            assert ok and all(hits) and dst == src
        finally:
            loop.remove_reader(client.event_fd())

    asyncio.run(main())


def test_close_finishes_queued_work(server):
    c = karst.RedisClient("127.0.0.1", server.port, connections=2, num_workers=2)
    ids = [c.submit_batch_set([f"cl:{i}"], [bytearray(1000)]) for i in range(20)]
    c.close()
    done = {fid: ok for fid, ok, _, _ in c.drain_completions()}
    assert set(done) == set(ids) and all(done.values())
    with pytest.raises(karst.KarstError):
        c.get("cl:0", bytearray(10))


def test_many_threads_share_one_client(client):
    errors = []

    def work(t):
        try:
            for i in range(50):
                v = pattern(1000 + i, t)
                client.set(f"th:{t}:{i}", v)
                buf = bytearray(2000)
                assert client.get(f"th:{t}:{i}", buf) == len(v) and buf[: len(v)] == v
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_auth():
    s = servers.redis_server("--requirepass", "sekret")
    if s is None:
        pytest.skip("redis-server is not installed")
    try:
        with pytest.raises(karst.ResponseError):
            karst.RedisClient("127.0.0.1", s.port)
        with pytest.raises(karst.ResponseError):
            karst.RedisClient("127.0.0.1", s.port, password="wrong")
        c = karst.RedisClient("127.0.0.1", s.port, password="sekret")
        c.set("a", b"1")
        assert c.get_bytes("a") == b"1"
        c.command(["ACL", "SETUSER", "bob", "on", ">pw", "~*", "+@all"])
        bob = karst.RedisClient("127.0.0.1", s.port, username="bob", password="pw", resp3=True)
        assert bob.command(["ACL", "WHOAMI"]) == b"bob"
        assert bob.get_bytes("a") == b"1"
        c.close()
        bob.close()
    finally:
        s.stop()


def test_connection_refused():
    port = servers.free_port()
    with pytest.raises(ConnectionError):
        karst.RedisClient("127.0.0.1", port, timeout=1.0)


def test_key_slot():
    assert karst.key_slot("somekey") == 11058
    assert karst.key_slot("foo{hash_tag}") == 2515


def test_cluster_mode():
    c3 = servers.cluster()
    if c3 is None:
        pytest.skip("redis-server/redis-cli are not installed")
    try:
        c = karst.RedisClient("127.0.0.1", c3.nodes[0].port, cluster=True, connections=2)
        keys = [f"ck:{i}" for i in range(100)]
        vals = [pattern(1000 + i, i) for i in range(100)]
        c.mset(keys[:80], vals[:80])
        bufs = [bytearray(2000) for _ in keys]
        got = c.mget_into(keys, bufs)
        assert got == [len(v) for v in vals[:80]] + [None] * 20
        assert all(bufs[i][: len(vals[i])] == vals[i] for i in range(80))
        per_node = [int(subprocess.run(["redis-cli", "-p", str(n.port), "dbsize"], capture_output=True).stdout)
                    for n in c3.nodes]
        assert sum(per_node) == 80 and all(n > 0 for n in per_node), per_node
        fid = c.submit_batch_exists(keys)
        assert wait_completions(c, 1)[fid] == (True, None, [True] * 80 + [False] * 20)
        assert c.delete_many(keys) == [True] * 80 + [False] * 20
        c.close()
    finally:
        c3.stop()

"""redis-py, unchanged, against karst-server: its default RESP3 (redis-py 8 opens with HELLO 3)
and protocol=2, with and without a password. Every test also runs against redis-server, so the
expectations are redis-py's behaviour with the real thing, not guesses."""

from __future__ import annotations

import os

import pytest
import redis

from _karst_servers import Server, free_port, karst_server_binary, redis_server


def start(kind: str, *extra: str) -> Server:
    if kind == "redis":
        s = redis_server(*extra)
        if s is None:
            pytest.skip("redis-server is not installed")
        return s
    exe = karst_server_binary()
    if exe is None:
        pytest.skip("karst-server is not built (cargo build -p karst-server)")
    port = free_port()
    return Server("karst", [str(exe), "--port", str(port), *extra], port)


@pytest.fixture(scope="module", params=["karst", "redis"])
def server(request):
    s = start(request.param)
    yield s
    s.stop()


@pytest.fixture(params=[3, 2], ids=["resp3", "resp2"])
def r(server, request):
    client = redis.Redis(port=server.port, protocol=request.param, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


def test_default_protocol_is_resp3_and_hello_is_a_map(server):
    client = redis.Redis(port=server.port)
    hello = client.execute_command("HELLO", "3")
    assert isinstance(hello, dict)
    assert hello[b"proto"] == 3 or hello.get("proto") == 3
    assert client.ping() is True


def test_strings(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.get("missing") is None
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.append("k", "x") == 2
    assert r.strlen("k") == 2
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "nope") == [b"1", b"2", None]
    assert r.getdel("a") == b"1"
    assert r.exists("a", "b") == 1
    assert r.getrange("k", 0, 0) == b"w"


def test_errors_raise_and_the_connection_survives(r):
    r.set("s", "text")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("s")
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("GET")
    assert r.get("s") == b"text"


def test_keys_and_expiry(r):
    r.set("a", "1")
    r.set("b", "2", ex=100)
    assert r.ttl("b") == 100
    assert r.ttl("a") == -1
    assert r.expire("a", 50) is True
    assert 0 < r.pttl("a") <= 50_000
    assert r.persist("a") is True
    assert sorted(r.keys("*")) == [b"a", b"b"]
    assert sorted(r.scan_iter(match="*", count=1)) == [b"a", b"b"]
    assert r.type("a") == b"string"
    assert r.rename("a", "c") is True
    assert r.delete("b", "c", "zz") == 2
    assert r.dbsize() == 0


def test_pipeline_and_select(server, r):
    with r.pipeline(transaction=False) as p:
        for i in range(100):
            p.set(f"key:{i}", i)
        for i in range(100):
            p.get(f"key:{i}")
        replies = p.execute()
    assert replies[:100] == [True] * 100
    assert replies[100:] == [str(i).encode() for i in range(100)]
    other = redis.Redis(port=server.port, db=3, protocol=r.connection_pool.connection_kwargs.get("protocol"))
    assert other.get("key:1") is None
    other.set("only-in-3", "x")
    assert r.get("only-in-3") is None
    other.close()


def test_client_info_config(r):
    assert r.client_setname("tester") is True
    # redis-py decodes this reply in RESP2 only (the same with redis-server).
    protocol = r.connection_pool.connection_kwargs.get("protocol")
    assert r.client_getname() == ("tester" if protocol == 2 else b"tester")
    assert isinstance(r.client_id(), int)
    info = r.info()
    assert info["role"] == "master"
    assert "redis_version" in info
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_set("maxmemory", "100mb") is True
    assert r.config_get("maxmemory")["maxmemory"] == str(100 * 1024 * 1024)
    r.config_set("maxmemory", "0")


def test_large_values(r):
    value = os.urandom(8 * 1024 * 1024)
    assert r.set("big", value) is True
    assert r.get("big") == value
    assert r.strlen("big") == len(value)


@pytest.mark.parametrize("kind", ["karst", "redis"])
def test_password(kind):
    s = start(kind, "--requirepass", "sekret")
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=s.port, password="wrong").ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=s.port).get("k")
        for protocol in (3, 2):
            client = redis.Redis(port=s.port, password="sekret", protocol=protocol)
            assert client.set("k", "v") is True
            assert client.get("k") == b"v"
            client.close()
    finally:
        s.stop()

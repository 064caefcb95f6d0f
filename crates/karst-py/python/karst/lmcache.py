"""An LMCache remote-storage plugin over karst's client.

LMCache loads it without patching (see the package README)::

    remote_url: "plugin://karst"
    remote_storage_plugins: ["karst"]
    extra_config:
      save_chunk_meta: false
      remote_storage_plugin.karst.module_path: karst.lmcache
      remote_storage_plugin.karst.class_name: KarstConnectorAdapter
      remote_storage_plugin.karst.host: 127.0.0.1
      remote_storage_plugin.karst.port: 6379

Each chunk is stored as one raw key (the key string as is, the chunk's bytes as the value), like
LMCache's native RESP client: GETs are read straight into the chunk LMCache allocated, SETs are
sent from the chunk's memory, and batches run on the client's worker threads, completing on the
asyncio loop through an eventfd, so no coroutine ever blocks the loop on I/O.

Without LMCache installed, the module still imports (with minimal stand-ins for LMCache's base
classes), which is how the tests drive it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlparse

from ._karst import RedisClient

try:  # pragma: no cover - exercised only where LMCache is installed
    from lmcache.v1.storage_backend.connector import ConnectorAdapter as _AdapterBase
    from lmcache.v1.storage_backend.connector.base_connector import (
        RemoteConnector as _ConnectorBase,
    )

    HAVE_LMCACHE = True
except Exception:  # noqa: BLE001 - LMCache absent or incompatible: run standalone
    HAVE_LMCACHE = False

    class _AdapterBase:  # type: ignore[no-redef]
        """Stand-in for ``lmcache.v1.storage_backend.connector.ConnectorAdapter``."""

        def __init__(self, schema: str = "") -> None:
            self.schema = schema

        def can_parse(self, url: str) -> bool:
            return self.schema != "" and url.startswith(self.schema)

    class _ConnectorBase:  # type: ignore[no-redef]
        """Stand-in for LMCache's ``RemoteConnector`` (the parts this module uses)."""

        save_chunk_meta: bool = True
        meta_shape: Any = None
        meta_dtype: Any = None
        meta_fmt: Any = None
        full_chunk_size: Optional[int] = None
        single_token_size: Optional[int] = None

        def init_chunk_meta(self, config: Any, metadata: Any) -> None:
            return None

        def reshape_partial_chunk(self, memory_obj: Any, bytes_read: int) -> Any:
            return memory_obj

        def post_init(self) -> None:
            return None


PLUGIN_NAME = "karst"


def _key(key: Any) -> str:
    """LMCache's ``CacheEngineKey`` has ``to_string()``; plain strings pass through."""
    to_string = getattr(key, "to_string", None)
    return to_string() if callable(to_string) else str(key)


def _view(memory_obj: Any) -> Any:
    """The chunk's writable, contiguous bytes (``"<B"`` memoryviews are fine as they are)."""
    return memory_obj.byte_array


class KarstConnector(_ConnectorBase):
    """LMCache ``RemoteConnector`` storing one raw key per chunk in a Redis-compatible server.

    ``local_cpu_backend.allocate(shape, dtype, fmt)`` provides the chunks GETs fill; the chunk
    shape comes from LMCache's ``init_chunk_meta`` (``save_chunk_meta: false``) or from the
    ``chunk_shape``/``chunk_dtype``/``chunk_fmt`` arguments.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        local_cpu_backend: Any = None,
        *,
        password: Optional[str] = None,
        username: Optional[str] = None,
        connections: int = 8,
        num_workers: Optional[int] = None,
        cluster: bool = False,
        config: Any = None,
        metadata: Any = None,
        chunk_shape: Any = None,
        chunk_dtype: Any = None,
        chunk_fmt: Any = None,
    ) -> None:
        self.loop = loop
        self.local_cpu_backend = local_cpu_backend
        self.client = RedisClient(
            host,
            int(port),
            password=password,
            username=username,
            connections=int(connections),
            cluster=bool(cluster),
            num_workers=num_workers,
        )
        try:
            self.init_chunk_meta(config, metadata)
        except Exception:  # noqa: BLE001 - metadata of another LMCache version: use arguments
            pass
        if chunk_shape is not None:
            self.meta_shape, self.meta_dtype, self.meta_fmt = chunk_shape, chunk_dtype, chunk_fmt
        # future id -> (asyncio future, objects kept alive until the batch completes)
        self._pending: Dict[int, Tuple[asyncio.Future, Any]] = {}
        self._reader_loop: Optional[asyncio.AbstractEventLoop] = None
        self._closed = False

    # --- completions ---------------------------------------------------------------------------

    def _ensure_reader(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._reader_loop is not loop:
            if self._reader_loop is not None:
                try:
                    self._reader_loop.remove_reader(self.client.event_fd())
                except Exception:  # noqa: BLE001 - the old loop is closed
                    pass
            loop.add_reader(self.client.event_fd(), self._on_completions)
            self._reader_loop = loop
        return loop

    def _on_completions(self) -> None:
        for future_id, ok, error, per_key, lengths in self.client.drain_completions_with_lengths():
            entry = self._pending.pop(future_id, None)
            if entry is None:
                continue
            fut, _keepalive = entry
            if fut.done():
                continue
            if ok or per_key is not None:
                fut.set_result((ok, error, per_key, lengths))
            else:
                fut.set_exception(RuntimeError(f"karst batch failed: {error}"))

    async def _run(self, submit: Any, keys: List[str], views: Any, keepalive: Any) -> Tuple[bool, Optional[str], Optional[List[bool]], Optional[List[Optional[int]]]]:
        loop = self._ensure_reader()
        fut = loop.create_future()
        # Submitting and registering happen in one step on the loop thread, so a completion
        # (drained on this thread too) can never arrive before its future is known.
        future_id = submit(keys, views) if views is not None else submit(keys)
        self._pending[future_id] = (fut, keepalive)
        return await fut

    # --- single keys ---------------------------------------------------------------------------

    async def exists(self, key: Any) -> bool:
        _, _, hits, _ = await self._run(self.client.submit_batch_exists, [_key(key)], None, None)
        return bool(hits and hits[0])

    def exists_sync(self, key: Any) -> bool:
        return self.client.exists(_key(key))

    def _allocate(self) -> Any:
        if self.meta_shape is None:
            raise RuntimeError(
                "karst connector needs the chunk shape: set save_chunk_meta: false in "
                "LMCache's extra_config (or pass chunk_shape/chunk_dtype/chunk_fmt)"
            )
        return self.local_cpu_backend.allocate(self.meta_shape, self.meta_dtype, self.meta_fmt)

    async def get(self, key: Any) -> Optional[Any]:
        got = await self.batched_get([key])
        return got[0]

    async def put(self, key: Any, memory_obj: Any) -> None:
        await self.batched_put([key], [memory_obj])

    # --- batches -------------------------------------------------------------------------------

    def support_batched_get(self) -> bool:
        return True

    def support_batched_put(self) -> bool:
        return True

    def support_batched_async_contains(self) -> bool:
        return True

    def support_batched_get_non_blocking(self) -> bool:
        return True

    def support_ping(self) -> bool:
        return True

    async def batched_get(self, keys: Sequence[Any]) -> List[Optional[Any]]:
        objs = []
        for _ in keys:
            obj = self._allocate()
            if obj is None:  # the allocator is full: give back what we took
                for o in objs:
                    o.ref_count_down()
                return [None] * len(keys)
            objs.append(obj)
        views = [_view(o) for o in objs]
        try:
            ok, error, hits, lengths = await self._run(
                self.client.submit_batch_get, [_key(k) for k in keys], views, objs
            )
        except Exception:
            for o in objs:
                o.ref_count_down()
            raise
        out: List[Optional[Any]] = []
        lengths = lengths or [None] * len(objs)
        for obj, hit, n in zip(objs, hits or [False] * len(objs), lengths):
            if not hit or n is None:
                obj.ref_count_down()
                out.append(None)
            elif self.full_chunk_size is not None and n < self.full_chunk_size:
                # The last chunk of a sequence may be partial: LMCache trims it by byte count.
                out.append(self.reshape_partial_chunk(obj, n))
            else:
                out.append(obj)
        return out

    async def batched_put(self, keys: Sequence[Any], memory_objs: Sequence[Any]) -> None:
        views = [_view(o) for o in memory_objs]
        ok, error, _, _ = await self._run(
            self.client.submit_batch_set, [_key(k) for k in keys], views, list(memory_objs)
        )
        if not ok:
            raise RuntimeError(f"karst batched_put failed: {error}")

    async def batched_async_contains(self, lookup_id: str, keys: Sequence[Any], pin: bool = False) -> int:
        """Number of consecutive hits from the first key."""
        if not keys:
            return 0
        _, _, hits, _ = await self._run(self.client.submit_batch_exists, [_key(k) for k in keys], None, None)
        n = 0
        for hit in hits or []:
            if not hit:
                break
            n += 1
        return n

    async def batched_get_non_blocking(self, lookup_id: str, keys: Sequence[Any]) -> List[Any]:
        """The memory objects of the consecutive prefix of hits."""
        got = await self.batched_get(keys)
        out = []
        for i, obj in enumerate(got):
            if obj is None:
                for rest in got[i + 1 :]:
                    if rest is not None:
                        rest.ref_count_down()
                break
            out.append(obj)
        return out

    def batched_contains(self, keys: Sequence[Any], stop_after_first_not_exits: bool = True) -> List[bool]:
        hits = self.client.exists_many([_key(k) for k in keys])
        if stop_after_first_not_exits:
            seen_miss = False
            for i, h in enumerate(hits):
                seen_miss = seen_miss or not h
                hits[i] = h and not seen_miss
        return hits

    def support_batched_contains(self) -> bool:
        return True

    # --- the rest --------------------------------------------------------------------------------

    async def list(self) -> List[str]:
        """Every key on the server (SCAN), as strings. Meant for debugging: it walks the keyspace."""
        keys: List[str] = []
        cursor = "0"
        while True:
            reply = self.client.command(["SCAN", cursor, "COUNT", "1000"])
            cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            keys.extend(k.decode(errors="replace") for k in reply[1])
            if cursor == "0":
                return keys

    async def ping(self) -> int:
        return 0 if self.client.ping() else 1

    def remove_sync(self, key: Any) -> bool:
        return self.client.delete(_key(key))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader_loop is not None:
            try:
                self._reader_loop.remove_reader(self.client.event_fd())
            except Exception:  # noqa: BLE001
                pass
        # Let queued batches finish, then resolve their futures.
        await asyncio.get_running_loop().run_in_executor(None, self.client.close)
        self._on_completions()

    def __repr__(self) -> str:
        return f"<KarstConnector {self.client!r}>"


def _plugin_config(context: Any) -> Dict[str, Any]:
    extra = getattr(getattr(context, "config", None), "extra_config", None) or {}
    name = getattr(context, "plugin_name", None) or PLUGIN_NAME
    prefix = f"remote_storage_plugin.{name}."
    base = f"remote_storage_plugin.{PLUGIN_NAME}."
    out: Dict[str, Any] = {}
    for k, v in extra.items():
        if k.startswith(base):
            out[k[len(base) :]] = v
    for k, v in extra.items():  # instance settings override the type's
        if k.startswith(prefix):
            out[k[len(prefix) :]] = v
    return out


class KarstConnectorAdapter(_AdapterBase):
    """LMCache ``ConnectorAdapter`` for ``plugin://karst[.instance]`` and ``karst://host:port``."""

    def __init__(self) -> None:
        super().__init__("karst://")

    def can_parse(self, url: str) -> bool:
        return url.startswith("karst://") or url.startswith(f"plugin://{PLUGIN_NAME}")

    def create_connector(self, context: Any) -> KarstConnector:
        cfg = _plugin_config(context)
        host, port = cfg.get("host", "127.0.0.1"), int(cfg.get("port", 6379))
        username, password = cfg.get("username"), cfg.get("password")
        if context.url.startswith("karst://"):
            u = urlparse(context.url)
            host = u.hostname or host
            port = u.port or port
            username = u.username or username
            password = u.password or password
        return KarstConnector(
            host,
            port,
            context.loop,
            context.local_cpu_backend,
            password=password,
            username=username,
            connections=int(cfg.get("connections", 8)),
            num_workers=int(cfg["num_workers"]) if "num_workers" in cfg else None,
            cluster=str(cfg.get("cluster", "false")).lower() in ("1", "true", "yes"),
            config=getattr(context, "config", None),
            metadata=getattr(context, "metadata", None),
        )

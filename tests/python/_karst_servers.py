"""Servers for the karst client's Python tests: a redis-server (and karst-server when built)
on free ports, started and stopped by the tests themselves."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_port() -> int:
    """A free port P with P + 10000 (the cluster bus) free too, as Redis Cluster needs P <= 55535."""
    import random

    for _ in range(1000):
        port = random.randint(20000, 55000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


def _wait(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Server:
    def __init__(self, kind: str, argv: List[str], port: int):
        self.kind, self.port = kind, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait(port, self.proc):
            self.stop()
            raise RuntimeError(f"{kind} did not start on port {port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def redis_server(*extra: str) -> Optional[Server]:
    exe = shutil.which("redis-server")
    if exe is None:
        return None
    # A port found free may be taken by a parallel test before the server binds it: retry.
    for attempt in range(5):
        port = free_port()
        argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra]
        try:
            return Server("redis", argv, port)
        except RuntimeError:
            if attempt == 4:
                raise
    return None


def karst_server_binary() -> Optional[Path]:
    # scripts/test.sh names the binary it just built, so a stale build is never tested.
    if os.environ.get("KARST_SERVER"):
        return Path(os.environ["KARST_SERVER"])
    for p in ("target/release/karst-server", "target/debug/karst-server"):
        if (ROOT / p).exists():
            return ROOT / p
    return None


def karst_server() -> Optional[Server]:
    exe = karst_server_binary()
    if exe is None:
        return None
    port = free_port()
    try:
        return Server("karst", [str(exe), "--port", str(port)], port)
    except RuntimeError:
        return None


class Cluster:
    """Three redis-server primaries joined by `redis-cli --cluster create`."""

    def __init__(self) -> None:
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="karst-py-cluster-")
        self.nodes: List[Server] = []
        exe = shutil.which("redis-server")
        try:
            for _ in range(3):
                port = cluster_port()
                argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                        "--cluster-config-file", f"{self.dir}/nodes-{port}.conf", "--dir", self.dir,
                        "--save", "", "--appendonly", "no"]
                self.nodes.append(Server("redis-cluster", argv, port))
            addrs = [f"127.0.0.1:{n.port}" for n in self.nodes]
            subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "0", "--cluster-yes"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            deadline = time.time() + 30
            for n in self.nodes:
                while b"cluster_state:ok" not in subprocess.run(
                    ["redis-cli", "-p", str(n.port), "cluster", "info"], capture_output=True, timeout=10
                ).stdout:
                    if time.time() > deadline:
                        raise RuntimeError("the cluster did not reach cluster_state:ok")
                    time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def cluster() -> Optional[Cluster]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return None
    return Cluster()

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
    port = free_port()
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra]
    return Server("redis", argv, port)


def karst_server_binary() -> Optional[Path]:
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

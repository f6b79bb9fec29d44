"""A real uvicorn in a process of its own, for tests of what only a real server does
(signal handling on SIGTERM, open responses at shutdown)."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def serving(
    script: str, ready_path: str, timeout: float = 30
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `script` (`python -c`, given a free port as its one argument) until `ready_path`
    answers; yields the base URL and the process, killed at the end if still running."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", script, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{base}{ready_path}", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the app did not start"
                time.sleep(0.1)
        yield base, server
    finally:
        if server.poll() is None:
            server.kill()

"""The local Redis is set up as the chart's: bounded memory, and it never evicts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dapr_runtime.infra import Redis
from localdapr.runner import free_port


def test_redis_refuses_writes_at_its_memory_cap_instead_of_evicting(tmp_path: Path) -> None:
    # Evicting would drop a saga's message silently; a refused write is retried by Dapr.
    redis = Redis(tmp_path / "data", free_port(), tmp_path, maxmemory="1mb")
    redis.start()
    try:
        cli = [shutil.which("redis-cli") or "redis-cli", "-p", str(redis.port)]

        def run(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run([*cli, *args], input=stdin, capture_output=True, text=True, check=True)
            return done.stdout + done.stderr

        assert run("CONFIG", "GET", "maxmemory-policy").split() == ["maxmemory-policy", "noeviction"]
        assert run("CONFIG", "GET", "maxmemory").split() == ["maxmemory", str(2**20)]
        refused = run("-x", "SET", "big", stdin="x" * 2 * 2**20)  # -x: the value from stdin
        assert "OOM command not allowed" in refused, refused
    finally:
        redis.stop()

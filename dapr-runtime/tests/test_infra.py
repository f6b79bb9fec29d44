"""The local Redis is set up as the chart's: bounded memory, and it never evicts; Postgres
and Redis survive a crash with their data."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from dapr_runtime.infra import Postgres, Redis
from dapr_runtime.processes import listening
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


def test_postgres_and_redis_killed_come_back_on_their_ports_with_their_data(tmp_path: Path) -> None:
    """What `make soak` does to them (bench/chaos.py): `kill -9`, then `start()` again."""
    root = Path(tempfile.mkdtemp(prefix="saga-postgres-"))  # as root: outside pytest's 0700 folders
    postgres = Postgres(root, free_port(), tmp_path)
    redis = Redis(tmp_path / "redis", free_port(), tmp_path)
    redis_cli = [shutil.which("redis-cli") or "redis-cli", "-p", str(redis.port)]
    try:
        postgres.start()
        postgres.create_databases(["kept"])
        redis.start()
        subprocess.run([*redis_cli, "SET", "kept", "yes"], check=True, capture_output=True)

        postgres.kill()  # returns once its backends are gone too
        redis.kill()
        assert not listening(postgres.port)() and not listening(redis.port)()
        postgres.start()
        redis.start()

        sql = "SELECT datname FROM pg_database WHERE datname = 'kept'"
        found = subprocess.run([*postgres._client("psql"), "-tAc", sql], capture_output=True, text=True)
        assert found.stdout.strip() == "kept", found.stderr
        got = subprocess.run([*redis_cli, "GET", "kept"], capture_output=True, text=True, check=True)
        assert got.stdout.strip() == "yes"
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)

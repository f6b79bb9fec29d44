"""The infrastructure `components/` expects: PostgreSQL for the state stores and
Redis for pub/sub, from Debian's packages (`postgresql`, `redis-server`), each on a
free loopback port with its data in the run's folder.

PostgreSQL refuses to run as root, so as root its files belong to, and its
server runs as, the `postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .processes import Managed, StartError, listening

INSTALL_HINT = "install Debian's packages: apt-get install postgresql redis-server"


class InfraMissing(Exception):
    pass


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps them beside each other)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    if which := shutil.which("postgres"):
        return Path(which).resolve().parent
    raise InfraMissing(f"PostgreSQL not found: {INSTALL_HINT}")


def redis_server() -> Path:
    if which := shutil.which("redis-server"):
        return Path(which)
    raise InfraMissing(f"redis-server not found: {INSTALL_HINT}")


def _as_postgres_user() -> tuple[Callable[[], None] | None, pwd.struct_passwd | None]:
    if os.geteuid() != 0:
        return None, None
    user = pwd.getpwnam("postgres")

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setgroups([])
        os.setuid(user.pw_uid)

    return drop, user


@dataclass
class Postgres:
    root: Path  # owns data/ and the socket; outside any 0700 folder of root's
    port: int
    log_dir: Path
    echo: bool = False
    server: Managed | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, tool: str, *args: str) -> None:
        drop, _ = _as_postgres_user()
        result = subprocess.run(
            [str(postgres_bindir() / tool), *args],
            preexec_fn=drop,
            capture_output=True,
            text=True,
            cwd="/",
        )
        if result.returncode != 0:
            raise StartError(f"postgres: {tool} {' '.join(args)} failed: {result.stderr.strip()}")

    def init(self) -> None:
        if (self.data / "PG_VERSION").is_file():
            return
        _, user = _as_postgres_user()
        self.root.mkdir(parents=True, exist_ok=True)
        if user:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        # trust on loopback: components/ carry a password, which trust ignores
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        self.init()
        drop, _ = _as_postgres_user()
        argv: list[str | Path] = [
            postgres_bindir() / "postgres",
            *("-D", self.data, "-p", str(self.port), "-h", "127.0.0.1", "-k", self.root),
            *("-c", "max_connections=200"),
        ]
        self.server = Managed("postgres", argv, self.log_dir / "postgres.log", echo=self.echo, preexec=drop)
        self.server.start()
        self.server.wait_until(listening(self.port), f"listening on :{self.port}", timeout=60)
        self.server.wait_until(self._accepts, "accepting connections", timeout=60)

    def _client(self, tool: str) -> list[str]:
        """A PostgreSQL client tool pointed at this server, as its superuser."""
        return [str(postgres_bindir() / tool), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def _accepts(self) -> bool:
        return subprocess.run(self._client("pg_isready"), capture_output=True).returncode == 0

    def create_databases(self, names: Iterable[str]) -> None:
        for name in names:
            sql = (
                f"SELECT 'CREATE DATABASE \"{name}\"' "
                f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{name}')\\gexec"
            )
            psql = self._client("psql")
            result = subprocess.run(
                [*psql, "-v", "ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise StartError(f"postgres: creating database {name} failed: {result.stderr.strip()}")

    def sql(self, database: str, statement: str) -> str:
        """Run one statement in `database` as the superuser; its rows, unaligned (tests)."""
        result = subprocess.run(
            [*self._client("psql"), "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", statement],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"postgres: {statement!r} failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        if self.server:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
            self.server.stop(grace=30, sig=signal.SIGINT)

    def kill(self, timeout: float = 30.0) -> None:
        """`kill -9` of the postmaster, as a crash; `start()` recovers the same data on the same port.

        Its backends notice their postmaster's death and exit on their own; until the last
        one has, the shared memory they hold makes a new postmaster refuse to start."""
        if not self.server or not self.server.process:
            return
        group = self.server.process.pid  # it leads its session's process group
        self.server.kill()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise StartError(f"postgres: backends of the killed server still running after {timeout:.0f}s")


@dataclass
class Redis:
    data: Path
    port: int
    log_dir: Path
    echo: bool = False
    server: Managed | None = None
    # Below what the machine can spare: at the limit a publish fails (noeviction) and
    # Dapr retries it, where evicting would silently lose a saga's message.
    maxmemory: str = "256mb"

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        argv: list[str | Path] = [
            redis_server(),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.data),
            # Redis Streams hold the saga's messages until acknowledged: keep them on disk
            # (append-only file, fsync every second), as a broker should.
            *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
            *("--maxmemory", self.maxmemory, "--maxmemory-policy", "noeviction"),
            *("--daemonize", "no", "--protected-mode", "yes", "--logfile", ""),
        ]
        self.server = Managed("redis", argv, self.log_dir / "redis.log", echo=self.echo)
        self.server.start()
        self.server.wait_until(listening(self.port), f"listening on :{self.port}", timeout=30)

    def stop(self) -> None:
        if self.server:
            self.server.stop(grace=15)

    def kill(self) -> None:
        """`kill -9`, as a crash; `start()` reloads the append-only file on the same port."""
        if self.server:
            self.server.kill()

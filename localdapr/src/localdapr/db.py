"""The embedded SQLite database behind every localdapr building block.

One file holds state stores, the pub/sub broker and workflow state, so a
restart (even after `kill -9`) finds everything where it was. WAL mode with
`synchronous=NORMAL` survives a process crash; only an OS crash could lose the
last commits, which is acceptable for a development sidecar.

All sidecars run in one process and one asyncio loop, so a single connection
used from that loop is enough and makes every transaction serial.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._depth = 0

    def ensure_schema(self, ddl: str) -> None:
        """Create tables and indexes (idempotent DDL with IF NOT EXISTS)."""
        self.conn.executescript(ddl)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def now() -> float:
    """Wall-clock seconds; one place so tests could shift time if they needed to."""
    return time.time()

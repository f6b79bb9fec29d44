"""SQL for workflow state: instances, their inboxes (incl. timers), activities.

Everything is keyed by app id first: workflows are namespaced per app, as
Dapr's actor-based backend does (the actor type embeds the app id).

- `wf_instances`: one row per instance; `history` is the framed pastEvents blob. Its rowid
  orders ListInstanceIDs, as the Postgres `row_id` of the instance's `metadata` key does in
  daprd (SQLite may reuse the rowid of a purged newest instance; Postgres never reuses one).
- `wf_inbox`: events not yet handed to a completed turn. A timer is an inbox
  row whose `fire_at` lies in the future (durabletask-go's pending timers);
  consuming a turn deletes the rows it carried, in the same transaction that
  appends them to history, so a crash replays the turn, never loses it.
- `wf_activities`: scheduled activities whose result has not arrived yet
  (`target_app`: the app whose workers run it, for cross-app calls).
- `wf_retention`: when an ended instance is due to be purged under the app's
  `stateRetentionPolicy` (daprd's one-shot `retention` reminder).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS wf_instances (
    app_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    started INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    scheduled_at REAL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    failure BLOB,
    parent_app TEXT,
    parent_id TEXT,
    parent_task INTEGER,
    parent_execution TEXT,
    history BLOB NOT NULL,
    PRIMARY KEY (app_id, instance_id)
);
CREATE INDEX IF NOT EXISTS wf_instances_parent ON wf_instances (parent_app, parent_id);
CREATE TABLE IF NOT EXISTS wf_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    event BLOB NOT NULL,
    fire_at REAL
);
CREATE INDEX IF NOT EXISTS wf_inbox_instance ON wf_inbox (app_id, instance_id);
CREATE TABLE IF NOT EXISTS wf_activities (
    app_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    request BLOB NOT NULL,
    target_app TEXT,
    PRIMARY KEY (app_id, instance_id, execution_id, task_id)
);
CREATE TABLE IF NOT EXISTS wf_retention (
    app_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    purge_at REAL NOT NULL,
    PRIMARY KEY (app_id, instance_id)
);
"""

INSTANCE_COLUMNS = (
    "name",
    "execution_id",
    "status",
    "started",
    "created_at",
    "updated_at",
    "completed_at",
    "scheduled_at",
    "input",
    "output",
    "custom_status",
    "failure",
    "parent_app",
    "parent_id",
    "parent_task",
    "parent_execution",
    "history",
)


@dataclass
class Tx:
    """An open transaction, plus work to do in memory once it has committed."""

    conn: sqlite3.Connection
    _after: list[Callable[[], None]] = field(default_factory=list)

    def after(self, fn: Callable[[], None]) -> None:
        self._after.append(fn)


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        self._tx: Tx | None = None

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """One transaction; nested uses (also across apps' engines) join it."""
        if self._tx is not None:
            yield self._tx
            return
        with self.db.tx() as conn:
            self._tx = Tx(conn)
            try:
                yield self._tx
            finally:
                tx, self._tx = self._tx, None
        for fn in tx._after:
            fn()

    # -- instances -------------------------------------------------------
    def load_instance(self, app_id: str, instance_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM wf_instances WHERE app_id=? AND instance_id=?", (app_id, instance_id)
        ).fetchone()

    def active_instances(self, app_id: str, terminal: tuple[int, ...]) -> list[sqlite3.Row]:
        marks = ",".join("?" * len(terminal))
        return self.db.execute(
            f"SELECT * FROM wf_instances WHERE app_id=? AND status NOT IN ({marks})",
            (app_id, *terminal),
        ).fetchall()

    def put_instance(self, tx: Tx, app_id: str, instance_id: str, values: dict[str, Any]) -> None:
        # An upsert, not INSERT OR REPLACE: a recreated instance keeps its rowid, hence its place in
        # list_instance_ids, as Postgres keeps the row_id of daprd's upserted `metadata` key.
        cols = ("app_id", "instance_id", *INSTANCE_COLUMNS)
        updates = ",".join(f"{c}=excluded.{c}" for c in INSTANCE_COLUMNS)
        tx.conn.execute(
            f"INSERT INTO wf_instances ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
            f" ON CONFLICT (app_id, instance_id) DO UPDATE SET {updates}",
            (app_id, instance_id, *(values[c] for c in INSTANCE_COLUMNS)),
        )

    def list_instance_ids(self, app_id: str, after: int | None, limit: int | None) -> list[sqlite3.Row]:
        """`(rowid, instance_id)` in creation order, those after rowid `after`, at most `limit`."""
        sql = "SELECT rowid, instance_id FROM wf_instances WHERE app_id=?"
        params: list[Any] = [app_id]
        if after is not None:
            sql += " AND rowid > ?"
            params.append(after)
        sql += " ORDER BY rowid"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self.db.execute(sql, tuple(params)).fetchall()

    def update_instance(self, tx: Tx, app_id: str, instance_id: str, values: dict[str, Any]) -> None:
        sets = ",".join(f"{k}=?" for k in values)
        tx.conn.execute(
            f"UPDATE wf_instances SET {sets} WHERE app_id=? AND instance_id=?",
            (*values.values(), app_id, instance_id),
        )

    def children(self, app_id: str, instance_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT app_id, instance_id, status FROM wf_instances WHERE parent_app=? AND parent_id=?",
            (app_id, instance_id),
        ).fetchall()

    def delete_instance(self, tx: Tx, app_id: str, instance_id: str) -> None:
        tx.conn.execute("DELETE FROM wf_instances WHERE app_id=? AND instance_id=?", (app_id, instance_id))
        self.clear_pending(tx, app_id, instance_id)
        self.delete_retention(tx, app_id, instance_id)  # a purge deletes the retention reminder too

    def clear_pending(self, tx: Tx, app_id: str, instance_id: str) -> None:
        """Drop an instance's inbox, timers and pending activities."""
        tx.conn.execute("DELETE FROM wf_inbox WHERE app_id=? AND instance_id=?", (app_id, instance_id))
        tx.conn.execute("DELETE FROM wf_activities WHERE app_id=? AND instance_id=?", (app_id, instance_id))

    # -- inbox -----------------------------------------------------------
    def add_inbox(self, tx: Tx, app_id: str, instance_id: str, event: bytes, fire_at: float | None) -> int:
        cur = tx.conn.execute(
            "INSERT INTO wf_inbox (app_id, instance_id, event, fire_at) VALUES (?,?,?,?)",
            (app_id, instance_id, event, fire_at),
        )
        return int(cur.lastrowid or 0)

    def clear_fire_at(self, tx: Tx, row: int) -> None:
        """A delayed inbox row becomes due now."""
        tx.conn.execute("UPDATE wf_inbox SET fire_at=NULL WHERE id=?", (row,))

    def delete_inbox(self, tx: Tx, row_ids: list[int]) -> None:
        tx.conn.executemany("DELETE FROM wf_inbox WHERE id=?", [(r,) for r in row_ids])

    def inbox(self, app_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT id, instance_id, event, fire_at FROM wf_inbox WHERE app_id=? ORDER BY id", (app_id,)
        ).fetchall()

    # -- activities ------------------------------------------------------
    def add_activity(
        self,
        tx: Tx,
        app_id: str,
        instance_id: str,
        execution_id: str,
        task_id: int,
        request: bytes,
        target_app: str | None,
    ) -> None:
        tx.conn.execute(
            "INSERT OR REPLACE INTO wf_activities"
            " (app_id, instance_id, execution_id, task_id, request, target_app) VALUES (?,?,?,?,?,?)",
            (app_id, instance_id, execution_id, task_id, request, target_app),
        )

    def delete_activity(self, tx: Tx, app_id: str, instance_id: str, execution_id: str, task_id: int) -> None:
        tx.conn.execute(
            "DELETE FROM wf_activities WHERE app_id=? AND instance_id=? AND execution_id=? AND task_id=?",
            (app_id, instance_id, execution_id, task_id),
        )

    def activities(self, app_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT instance_id, execution_id, task_id, request, target_app"
            " FROM wf_activities WHERE app_id=?",
            (app_id,),
        ).fetchall()

    # -- retention -------------------------------------------------------
    def set_retention(self, tx: Tx, app_id: str, instance_id: str, purge_at: float) -> None:
        """One per instance, replaced by a later end (daprd's reminder is overwritten by name)."""
        tx.conn.execute(
            "INSERT OR REPLACE INTO wf_retention (app_id, instance_id, purge_at) VALUES (?,?,?)",
            (app_id, instance_id, purge_at),
        )

    def delete_retention(self, tx: Tx, app_id: str, instance_id: str) -> None:
        tx.conn.execute("DELETE FROM wf_retention WHERE app_id=? AND instance_id=?", (app_id, instance_id))

    def retentions(self, app_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT instance_id, purge_at FROM wf_retention WHERE app_id=?", (app_id,)
        ).fetchall()

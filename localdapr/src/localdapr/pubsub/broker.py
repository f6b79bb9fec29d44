"""The pub/sub broker: a durable queue in SQLite with one consumer group per app.

It plays the part Redis Streams plays for daprd (`pubsub.redis`): a topic is a
stream of messages, each subscribing app id is a consumer group on it (the
group is the app id, as Dapr's default `consumerID`), and a message stays
pending for a group until that group acknowledges it, so a crash (even
`kill -9`) redelivers everything unacknowledged.

Tables:
- `pubsub_messages`: the stream; a message is kept until every group that
  received it has acknowledged it. A message published while its topic has no
  group at all is kept for the first group that appears (as a Redis group
  created at `0` reads the stream from the start).
- `pubsub_groups`: one row per (pubsub, topic, app id), created when the app's
  subscription is first loaded.
- `pubsub_pending`: what each group has not acknowledged yet, with the time it
  becomes due again (now, or later after a NACK).

Which pending rows are being delivered right now is known only in memory (the
delivery loops), so after a restart every pending row is due again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..db import Database, now

log = logging.getLogger("localdapr.pubsub")

SCHEMA = """
CREATE TABLE IF NOT EXISTS pubsub_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    data BLOB NOT NULL,
    metadata TEXT NOT NULL,
    raw INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pubsub_messages_topic ON pubsub_messages (pubsub, topic, seq);
CREATE TABLE IF NOT EXISTS pubsub_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    app_id TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (pubsub, topic, app_id)
);
CREATE TABLE IF NOT EXISTS pubsub_pending (
    group_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    due REAL NOT NULL,
    PRIMARY KEY (group_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pubsub_pending_due ON pubsub_pending (group_id, due, seq);
CREATE INDEX IF NOT EXISTS pubsub_pending_seq ON pubsub_pending (seq);
"""


@dataclass(frozen=True)
class Message:
    seq: int
    data: bytes
    metadata: dict[str, str]
    raw: bool  # published with rawPayload: `data` is the app's bytes, not a CloudEvent
    # The envelope's fields as built at publish time (without `data`), when known:
    # saves parsing the JSON again on the hot path.
    fields: dict[str, Any] | None = None


Item = tuple[bytes, dict[str, str], bool, "dict[str, Any] | None"]  # data, metadata, raw, fields
Offer = Callable[[Message], None]
ACK_DELAY = 0.002  # seconds an acknowledgement may wait to share a commit
Delivered = list[tuple[int, Message]]  # (group id, message) for the running delivery loops


class Broker:
    """Shared by every sidecar of the process (`runtime.Shared.broker`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        self._groups: dict[tuple[str, str], list[int]] = {}
        # Wake-up callbacks of the running delivery loops, by group id.
        # The running delivery loops, by group id: new messages are handed to them directly.
        self._listeners: dict[int, Offer] = {}
        self._ops: list[tuple[Callable[[], Delivered], asyncio.Future[None]]] = []
        self._flush_soon = False  # a flush is scheduled for the next loop turn
        self._flush_timer: asyncio.TimerHandle | None = None  # a deferred flush is scheduled

    # -- groups --------------------------------------------------------------
    def _group_ids(self, pubsub: str, topic: str) -> list[int]:
        key = (pubsub, topic)
        ids = self._groups.get(key)
        if ids is None:
            rows = self.db.execute(
                "SELECT id FROM pubsub_groups WHERE pubsub = ? AND topic = ?", (pubsub, topic)
            ).fetchall()
            ids = self._groups[key] = [r[0] for r in rows]
        return ids

    def ensure_group(self, pubsub: str, topic: str, app_id: str) -> int:
        """The consumer group of `app_id` on a topic; a new group receives every kept message."""
        row = self.db.execute(
            "SELECT id FROM pubsub_groups WHERE pubsub = ? AND topic = ? AND app_id = ?",
            (pubsub, topic, app_id),
        ).fetchone()
        if row:
            return int(row[0])
        with self.db.tx() as conn:
            cur = conn.execute(
                "INSERT INTO pubsub_groups (pubsub, topic, app_id, created) VALUES (?, ?, ?, ?)",
                (pubsub, topic, app_id, now()),
            )
            gid = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO pubsub_pending (group_id, seq, due) "
                "SELECT ?, seq, created FROM pubsub_messages WHERE pubsub = ? AND topic = ?",
                (gid, pubsub, topic),
            )
        self._groups.pop((pubsub, topic), None)  # reloaded on next use
        return gid

    def listen(self, gid: int, offer: Offer) -> None:
        self._listeners[gid] = offer

    def unlisten(self, gid: int) -> None:
        self._listeners.pop(gid, None)

    # -- writes, batched ------------------------------------------------------
    # Every write (publish, ack, NACK, dead letter) is queued and the queue is
    # committed in one transaction on the next loop turn: concurrent publishers
    # and finishing deliveries share a commit instead of paying one each. The
    # caller's future resolves only after the commit, so an acknowledged publish
    # is durable.
    def _submit(self, op: Callable[[], Delivered], urgent: bool = True) -> asyncio.Future[None]:
        """Queue a write. Publishes are urgent (someone waits for the message); acks and NACKs
        may wait a moment (ACK_DELAY) so that many of them share one commit."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._ops.append((op, fut))
        if urgent:
            if not self._flush_soon:
                self._flush_soon = True
                loop.call_soon(self._flush)
        elif not self._flush_soon and self._flush_timer is None:
            self._flush_timer = loop.call_later(ACK_DELAY, self._flush)
        return fut

    def _flush(self) -> None:
        ops, self._ops = self._ops, []
        self._flush_soon = False
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not ops:
            return
        try:
            with self.db.tx():
                results = [op() for op, _ in ops]
        except Exception:
            # Isolate the failing write: commit the others one by one.
            results = []
            for op, fut in ops:
                try:
                    with self.db.tx():
                        results.append(op())
                except Exception as exc:
                    results.append([])
                    if not fut.done():
                        fut.set_exception(exc)
        for (_, fut), delivered in zip(ops, results, strict=True):
            if not fut.done():
                fut.set_result(None)
            for gid, msg in delivered:
                if offer := self._listeners.get(gid):
                    offer(msg)

    async def publish(
        self,
        pubsub: str,
        topic: str,
        data: bytes,
        metadata: dict[str, str],
        raw: bool = False,
        fields: dict[str, Any] | None = None,
    ) -> None:
        await self.publish_many(pubsub, topic, [(data, metadata, raw, fields)])

    async def publish_many(self, pubsub: str, topic: str, items: list[Item]) -> None:
        def op() -> Delivered:
            return [d for item in items for d in self._insert(pubsub, topic, *item)]

        await self._submit(op)

    def _insert(
        self,
        pubsub: str,
        topic: str,
        data: bytes,
        metadata: dict[str, str],
        raw: bool,
        fields: dict[str, Any] | None = None,
    ) -> Delivered:
        gids = self._group_ids(pubsub, topic)
        t = now()
        cur = self.db.execute(
            "INSERT INTO pubsub_messages (pubsub, topic, data, metadata, raw, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (pubsub, topic, data, json.dumps(metadata) if metadata else "{}", int(raw), t),
        )
        seq = int(cur.lastrowid or 0)
        if gids:
            self.db.conn.executemany(
                "INSERT INTO pubsub_pending (group_id, seq, due) VALUES (?, ?, ?)",
                [(g, seq, t) for g in gids],
            )
        msg = Message(seq, data, metadata, raw, fields)
        return [(g, msg) for g in gids]

    # -- consuming -----------------------------------------------------------
    def due(self, gid: int, limit: int, exclude: Collection[int]) -> list[Message]:
        """Up to `limit` messages due for a group, oldest first, skipping those in flight."""
        rows = self.db.execute(
            "SELECT p.seq, m.data, m.metadata, m.raw FROM pubsub_pending p "
            "JOIN pubsub_messages m ON m.seq = p.seq "
            "WHERE p.group_id = ? AND p.due <= ? ORDER BY p.due, p.seq LIMIT ?",
            (gid, now(), limit + len(exclude)),
        ).fetchall()
        out = [Message(r[0], bytes(r[1]), json.loads(r[2]), bool(r[3])) for r in rows if r[0] not in exclude]
        return out[:limit]

    async def ack(self, gid: int, seq: int) -> None:
        def op() -> Delivered:
            self._ack(gid, seq)
            return []

        await self._submit(op, urgent=False)

    def _ack(self, gid: int, seq: int) -> None:
        self.db.execute("DELETE FROM pubsub_pending WHERE group_id = ? AND seq = ?", (gid, seq))
        # The stream keeps a message only while some group still has to receive it.
        self.db.execute(
            "DELETE FROM pubsub_messages WHERE seq = ? "
            "AND NOT EXISTS (SELECT 1 FROM pubsub_pending WHERE seq = ?)",
            (seq, seq),
        )

    async def nack(self, gid: int, seq: int, due: float) -> None:
        """Leave a message pending, due again at `due` (1e18: only after a restart)."""

        def op() -> Delivered:
            self.db.execute(
                "UPDATE pubsub_pending SET due = ? WHERE group_id = ? AND seq = ?", (due, gid, seq)
            )
            return []

        await self._submit(op, urgent=False)

    async def dead_letter(self, gid: int, pubsub: str, msg: Message, topic: str) -> None:
        """Move a message to a dead-letter topic unchanged (as Dapr republishes it) and ack it."""

        def op() -> Delivered:
            self._ack(gid, msg.seq)
            return self._insert(pubsub, topic, msg.data, msg.metadata, msg.raw, msg.fields)

        await self._submit(op)

    def reset_due(self) -> None:
        """At startup every pending message is due at once: whatever was in flight or
        NACKed when the previous process stopped (or was killed) goes out again."""
        with self.db.tx():
            self.db.execute("UPDATE pubsub_pending SET due = ? WHERE due > ?", (now(), now()))

    async def aclose(self) -> None:
        """Commit queued writes (deferred acks) before the database closes."""
        self._listeners.clear()
        self._flush()

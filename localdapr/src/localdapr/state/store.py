"""State store semantics over SQLite, free of gRPC and HTTP.

Mirrors Dapr's `state.postgresql` v1 component (components-contrib
`common/component/postgresql/v1`), which is what production uses:

- the ETag is a number (Postgres' `xmin`), so a non-numeric one, or one that
  does not fit in 32 bits, is *invalid*; an ETag is checked whenever one is
  sent, whatever the concurrency mode; an ETag on a missing (or expired) key is
  a *mismatch*;
- without an ETag, last-write is an upsert and first-write fails with
  "no item was updated" when a live row exists;
- `ttlInSeconds` sets an expiry; expired rows are invisible and purged lazily;
- a transaction is all or nothing; bulk saves and deletes are independent
  operations (daprd's `PerformBulkStoreOperation`), so some may succeed;
- only values saved as JSON are seen by the query API (evaluated by `query.py`);
- a JSON value comes back as Postgres writes out its `jsonb` column, after daprd decoded it
  into Go values (`postgres_json`).

Keys arrive already prefixed (`{app-id}||{key}`, see `modified_key`). The
ETag counter is global and never goes back (like `xmin`), so an old ETag
cannot match a row that was deleted and created again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from ..db import Database, now
from .errors import ETagInvalid, ETagMismatch, InvalidKey, StateError
from .query import QueryPlan

SEPARATOR = "||"
FIRST_WRITE = "first-write"
LAST_WRITE = "last-write"
TTL_KEY = "ttlInSeconds"
TTL_EXPIRE_KEY = "ttlExpireTime"  # state.GetRespMetaKeyTTLExpireTime
JSON_CONTENT_TYPE = "application/json"
MAX_ETAG = 2**32 - 1  # strconv.ParseUint(etag, 10, 32) in the postgresql component
PURGE_EVERY = 1.0  # seconds between lazy purges of expired rows
_GO_INT = re.compile(r"[+-]?[0-9]+")  # what strconv.ParseInt(s, 10, 0) accepts


def _go_value(value: Any) -> Any:
    """A decoded JSON value as Go's json.Unmarshal into `any` has it: every number a float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_go_value(v) for v in value]
    return {k: _go_value(v) for k, v in value.items()}


def _jsonb_number(x: float) -> str:
    """Go's shortest float64 text (json.Marshal) read as Postgres `numeric` and written back:
    the same digits, never an exponent; -0 is 0."""
    d = Decimal(repr(x))
    if d == d.to_integral_value():
        return str(int(d))
    return format(d, "f")


def _jsonb_text(value: Any) -> str:
    """Postgres' jsonb output: `", "` and `": "` separators, object keys shortest first then
    bytewise (one per key, the last wins), strings with only `"`, `\\` and control characters
    escaped."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _jsonb_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_text(v) for v in value) + "]"
    keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
    return (
        "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_text(value[k])}" for k in keys) + "}"
    )


def postgres_json(raw: bytes) -> bytes:
    """A JSON value as state.postgresql v1 returns it: daprd decodes it (Go: numbers become
    float64), the component marshals it again and stores it as `jsonb`, which Postgres
    normalizes (components-contrib common/component/postgresql/v1/postgresql.go doSet)."""
    return _jsonb_text(_go_value(json.loads(raw))).encode()


SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    store TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    is_json INTEGER NOT NULL,
    content_type TEXT,
    etag INTEGER NOT NULL,
    expires REAL,
    PRIMARY KEY (store, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_expires ON state (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS state_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def modified_key(app_id: str, key: str) -> str:
    """daprd's GetModifiedStateKey with the default `appid` prefix strategy."""
    if SEPARATOR in key:
        raise InvalidKey(f"input key/keyPrefix '{key}' can't contain '{SEPARATOR}'")
    return f"{app_id}{SEPARATOR}{key}" if app_id else key


def original_key(key: str) -> str:
    """daprd's GetOriginalStateKey."""
    parts = key.split(SEPARATOR)
    return parts[1] if len(parts) > 1 else key


def parse_etag(etag: str) -> int:
    # Go's ParseUint(s, 10, 32): ASCII digits only, no sign, no spaces.
    if not etag.isascii() or not etag.isdigit():
        raise ETagInvalid(f'strconv.ParseUint: parsing "{etag}": invalid syntax')
    value = int(etag)
    if value > MAX_ETAG:
        raise ETagInvalid(f'strconv.ParseUint: parsing "{etag}": value out of range')
    return value


def parse_ttl(metadata: dict[str, str]) -> int | None:
    """components-contrib `state/utils.ParseTTL`."""
    raw = metadata.get(TTL_KEY, "")
    if raw == "":
        return None
    if not _GO_INT.fullmatch(raw):
        raise StateError(
            f"error parsing TTL: incorrect value for metadata '{TTL_KEY}': "
            f'strconv.ParseInt: parsing "{raw}": invalid syntax'
        )
    value = int(raw)
    if value < -1 or value > 2**31 - 1:
        raise StateError(
            f"error parsing TTL: incorrect value for metadata '{TTL_KEY}': must be -1 or greater"
        )
    return value


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- requests and results ----------------------------------------------------
@dataclass
class SetRequest:
    key: str  # already prefixed
    value: bytes
    is_json: bool = False
    content_type: str | None = None
    etag: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    concurrency: str = ""

    def has_etag(self) -> bool:
        return bool(self.etag)


@dataclass
class DeleteRequest:
    key: str
    etag: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    concurrency: str = ""

    def has_etag(self) -> bool:
        return bool(self.etag)


Operation = SetRequest | DeleteRequest


@dataclass
class Item:
    key: str
    value: bytes
    etag: str
    expires: float | None
    is_json: bool
    content_type: str | None

    @property
    def metadata(self) -> dict[str, str]:
        return {TTL_EXPIRE_KEY: rfc3339(self.expires)} if self.expires is not None else {}


@dataclass
class QueryResult:
    key: str
    value: bytes
    etag: str


# -- the store ---------------------------------------------------------------
class StateStore:
    """All state stores of one localdapr process in one SQLite table.

    Rows are keyed by (store, key), where `store` identifies the component's
    database table (see `state.table_id`), not its name: components on the same
    Postgres table share rows, as they do in production.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        row = db.execute(
            "SELECT max(coalesce((SELECT max(etag) FROM state), 0),"
            " coalesce((SELECT value FROM state_meta WHERE name = 'etag'), 0))"
        ).fetchone()
        self._etag = int(row[0])
        self._last_purge = 0.0

    # The counter lives in memory; deletes persist it, since only a delete can
    # remove the row that holds the highest ETag.
    def _next_etag(self) -> int:
        self._etag += 1
        return self._etag

    def _save_counter(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO state_meta (name, value) VALUES ('etag', ?)", (self._etag,))

    # -- reads ---------------------------------------------------------------
    def get(self, store: str, key: str) -> Item | None:
        row = self.db.execute(
            "SELECT value, etag, expires, is_json, content_type FROM state"
            " WHERE store = ? AND key = ? AND (expires IS NULL OR expires > ?)",
            (store, key, now()),
        ).fetchone()
        if row is None:
            return None
        return Item(key, bytes(row[0]), str(row[1]), row[2], bool(row[3]), row[4])

    def bulk_get(self, store: str, keys: Sequence[str]) -> list[Item | None]:
        """Items in the order of `keys` (None for missing ones)."""
        found: dict[str, Item] = {}
        unique = list(dict.fromkeys(keys))
        t = now()
        for start in range(0, len(unique), 500):  # stay under SQLite's parameter limit
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                "SELECT key, value, etag, expires, is_json, content_type FROM state"
                f" WHERE store = ? AND key IN ({marks}) AND (expires IS NULL OR expires > ?)",
                (store, *chunk, t),
            ):
                found[row[0]] = Item(row[0], bytes(row[1]), str(row[2]), row[3], bool(row[4]), row[5])
        return [found.get(k) for k in keys]

    # -- single operations (each its own transaction) -------------------------
    def set(self, store: str, req: SetRequest) -> None:
        with self.db.tx():
            self._set(store, req)
        self._maybe_purge()

    def delete(self, store: str, req: DeleteRequest) -> None:
        with self.db.tx():
            self._delete(store, req)
        self._maybe_purge()

    # -- bulk: independent operations, as daprd's PerformBulkStoreOperation ----
    def bulk(self, store: str, reqs: Sequence[Operation]) -> list[StateError | None]:
        """Apply each request on its own; return one error (or None) per request."""
        errors: list[StateError | None] = []
        conn = self.db.conn
        with self.db.tx():
            for req in reqs:
                conn.execute("SAVEPOINT op")
                try:
                    self._apply(store, req)
                except StateError as exc:
                    conn.execute("ROLLBACK TO op")
                    errors.append(exc)
                else:
                    errors.append(None)
                conn.execute("RELEASE op")
        self._maybe_purge()
        return errors

    # -- transactions: all or nothing ----------------------------------------
    def multi(self, store: str, ops: Sequence[Operation]) -> None:
        """Apply all operations or none; raise the first failure."""
        with self.db.tx():
            for op in ops:
                self._apply(store, op)
        self._maybe_purge()

    # -- the statements --------------------------------------------------------
    def _apply(self, store: str, op: Operation) -> None:
        if isinstance(op, SetRequest):
            self._set(store, op)
        else:
            self._delete(store, op)

    def _set(self, store: str, req: SetRequest) -> None:
        if req.concurrency not in ("", FIRST_WRITE, LAST_WRITE):
            raise StateError(f"unknown concurrency: {req.concurrency}")  # state.CheckRequestOptions
        ttl = parse_ttl(req.metadata)
        etag = parse_etag(cast(str, req.etag)) if req.has_etag() else None
        t = now()
        expires = t + ttl if ttl and ttl > 0 else None
        new_etag = self._next_etag()
        stored = postgres_json(req.value) if req.is_json else req.value
        value = (stored, int(req.is_json), req.content_type, new_etag, expires)
        if etag is not None:
            cur = self.db.execute(
                "UPDATE state SET value = ?, is_json = ?, content_type = ?, etag = ?, expires = ?"
                " WHERE store = ? AND key = ? AND etag = ? AND (expires IS NULL OR expires > ?)",
                (*value, store, req.key, etag, t),
            )
            if cur.rowcount != 1:
                raise ETagMismatch()
            return
        upsert = (
            "INSERT INTO state (value, is_json, content_type, etag, expires, store, key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, key) DO UPDATE SET"
            " value = excluded.value, is_json = excluded.is_json, content_type = excluded.content_type,"
            " etag = excluded.etag, expires = excluded.expires"
        )
        if req.concurrency == FIRST_WRITE:
            # Only a missing or expired row may be (re)written, as the component's upsert.
            cur = self.db.execute(
                upsert + " WHERE state.expires IS NOT NULL AND state.expires <= ?",
                (*value, store, req.key, t),
            )
        else:
            cur = self.db.execute(upsert, (*value, store, req.key))
        if cur.rowcount != 1:
            raise StateError("no item was updated")

    def _delete(self, store: str, req: DeleteRequest) -> None:
        if req.has_etag():
            etag = parse_etag(req.etag or "")
            cur = self.db.execute(
                "DELETE FROM state WHERE store = ? AND key = ? AND etag = ?"
                " AND (expires IS NULL OR expires > ?)",
                (store, req.key, etag, now()),
            )
            if cur.rowcount != 1:
                raise ETagMismatch()
        else:
            cur = self.db.execute("DELETE FROM state WHERE store = ? AND key = ?", (store, req.key))
        if cur.rowcount:
            self._save_counter()

    def _maybe_purge(self) -> None:
        """Delete expired rows, at most once a second, after a write."""
        t = time.monotonic()
        if t - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = t
        with self.db.tx():
            if self.db.execute(
                "DELETE FROM state WHERE expires IS NOT NULL AND expires <= ?", (now(),)
            ).rowcount:
                self._save_counter()

    # -- query (postgresql v1's Query API) -------------------------------------
    def query(self, store: str, query: dict[str, Any]) -> tuple[list[QueryResult], str]:
        """Run a Dapr state query over the JSON values of a store (all app ids, as v1)."""
        plan = QueryPlan(query)
        rows: list[tuple[str, Any, bytes, int]] = []
        for key, value, etag in self.db.execute(
            "SELECT key, value, etag FROM state WHERE store = ? AND is_json = 1"
            " AND (expires IS NULL OR expires > ?) ORDER BY key",
            (store, now()),
        ):
            try:
                doc = json.loads(value, parse_float=Decimal)
            except ValueError:
                continue
            if plan.matches(doc):
                rows.append((key, doc, bytes(value), etag))
        rows = plan.sort(rows)
        skip = plan.skip
        page = rows[skip : skip + plan.limit] if plan.limit > 0 else rows[skip:]
        results = [QueryResult(original_key(k), v, str(e)) for k, _, v, e in page]
        token = str(skip + len(results)) if plan.limit > 0 and results else ""
        return results, token

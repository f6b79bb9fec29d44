"""JSON values in a Dapr state store, with ETags and multi-key transactions."""

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from dapr_helpers.client import DaprHttpError, DaprRequests

JSON_METADATA = {"contentType": "application/json"}

T = TypeVar("T")


class ConcurrencyConflict(Exception):
    """Someone else changed (or created) a key since we read it; read again and retry."""


@dataclass(frozen=True)
class Upsert:
    key: str
    value: Any
    etag: str | None = None


@dataclass(frozen=True)
class Delete:
    key: str
    etag: str | None = None


@dataclass(frozen=True)
class Insert:
    """Store `key` only if it does not exist yet (first-write); if it does, the
    whole transaction fails as a `ConcurrencyConflict`."""

    key: str
    value: Any


Operation = Upsert | Insert | Delete


def checked_write(key: str, value: Any, etag: str | None) -> Upsert | Insert:
    """The write of a record that was read with `etag`, or read as missing (None).

    Either way it fails the transaction if someone else wrote the key since the
    read, so a record need not be created before its first change.
    """
    return Insert(key, value) if etag is None else Upsert(key, value, etag)


class JsonStore(Protocol):
    """What the services' repositories use of `StateStore`, so a test can hand
    them `saga_testkit.dapr.InMemoryStateStore` instead."""

    async def get_json(self, key: str) -> tuple[Any | None, str | None]: ...
    async def bulk_get_json(self, keys: Sequence[str]) -> dict[str, tuple[Any | None, str | None]]: ...
    async def create_json(self, key: str, value: Any) -> bool: ...
    async def transact(self, ops: Sequence[Operation]) -> None: ...


class StateStore:
    """An async JSON view of one Dapr state store, over the sidecar's HTTP API.

    Writes carry the ETag they were given; a mismatch (or a first-write on an
    existing key) raises `ConcurrencyConflict`, anything else `DaprHttpError`.
    """

    def __init__(self, dapr: DaprRequests, store_name: str) -> None:
        self.dapr = dapr
        self.base = f"/state/{quote(store_name, safe='')}"

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        """The value and its ETag; `(None, None)` when the key is missing."""
        _, content, etag = await self.dapr.request("GET", f"{self.base}/{quote(key, safe='')}")
        return (json.loads(content), etag or None) if content else (None, None)

    async def bulk_get_json(self, keys: Sequence[str]) -> dict[str, tuple[Any | None, str | None]]:
        if not keys:
            return {}
        _, content, _ = await self.dapr.request("POST", f"{self.base}/bulk", {"keys": list(keys)})
        found = {item["key"]: (item.get("data"), item.get("etag") or None) for item in json.loads(content)}
        return {key: found.get(key, (None, None)) for key in keys}

    async def create_json(self, key: str, value: Any) -> bool:
        """Insert `key` only if it does not exist (first-write, no ETag); False if it did."""
        item = {
            "key": key,
            "value": value,
            "options": {"concurrency": "first-write"},
            "metadata": JSON_METADATA,
        }
        try:
            await self.dapr.request("POST", self.base, [item])
        except DaprHttpError as err:
            if err.is_conflict:
                return False
            raise
        return True

    async def transact(self, ops: Sequence[Operation]) -> None:
        """All ops or none. An op with an ETag fails the whole transaction if the key changed."""
        operations = [_operation(op) for op in ops]
        try:
            await self.dapr.request(
                "POST", f"{self.base}/transaction", {"operations": operations, "metadata": JSON_METADATA}
            )
        except DaprHttpError as err:
            if err.is_conflict:
                raise ConcurrencyConflict(err.message) from None
            raise


def _operation(op: Operation) -> dict[str, Any]:
    """One operation of Dapr's HTTP transaction API."""
    if isinstance(op, Insert):
        request = {"key": op.key, "value": op.value, "options": {"concurrency": "first-write"}}
        return {"operation": "upsert", "request": request}
    if isinstance(op, Upsert):
        return {"operation": "upsert", "request": _with_etag({"key": op.key, "value": op.value}, op.etag)}
    return {"operation": "delete", "request": _with_etag({"key": op.key}, op.etag)}


def _with_etag(request: dict[str, Any], etag: str | None) -> dict[str, Any]:
    return request if etag is None else {**request, "etag": etag}


async def retry_on_conflict(
    fn: Callable[[], Awaitable[T]], attempts: int = 20, base_delay: float = 0.005
) -> T:
    """Run `fn` (which re-reads what it changes) until it commits without a conflict.

    Jittered backoff, so contenders stop colliding in lockstep. The last
    conflict is re-raised when the attempts run out.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except ConcurrencyConflict:
            if attempt == attempts:
                raise
            await asyncio.sleep(random.uniform(0, base_delay * min(2**attempt, 64)))
    raise AssertionError("unreachable")

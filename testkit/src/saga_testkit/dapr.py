"""In-memory fakes of `StateStore` and `Publisher` for tests without a sidecar.

They keep Dapr's semantics that the services rely on: ETags change on every
write, a stale or unexpected ETag fails the whole transaction, first-write
creation fails on an existing key. Every call yields to the event loop, so
concurrent tasks really interleave between a read and its write.
`CountingStore` counts a store's round trips, for tests of what a command costs.
"""

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from dapr_helpers.state import ConcurrencyConflict, Delete, Insert, JsonStore, Operation, Upsert
from pydantic import BaseModel


def _copy(value: Any) -> Any:
    # A JSON round trip: what a real store gives back, and no aliasing.
    return json.loads(json.dumps(value))


class InMemoryStateStore:
    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, str]] = {}
        self._version = 0
        self.forced_conflicts = 0  # the next N transactions fail as if someone else wrote first
        self.transactions = 0

    def _next_etag(self) -> str:
        self._version += 1
        return str(self._version)

    def snapshot(self) -> dict[str, Any]:
        return {key: _copy(value) for key, (value, _) in self.data.items()}

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        await asyncio.sleep(0)
        if key not in self.data:
            return None, None
        value, etag = self.data[key]
        return _copy(value), etag

    async def bulk_get_json(self, keys: Sequence[str]) -> dict[str, tuple[Any | None, str | None]]:
        return {key: await self.get_json(key) for key in keys}

    async def create_json(self, key: str, value: Any) -> bool:
        await asyncio.sleep(0)
        if key in self.data:
            return False
        self.data[key] = (_copy(value), self._next_etag())
        return True

    async def transact(self, ops: Sequence[Operation]) -> None:
        await asyncio.sleep(0)
        if self.forced_conflicts > 0:
            self.forced_conflicts -= 1
            raise ConcurrencyConflict("forced conflict")
        for op in ops:
            if isinstance(op, Insert):
                if op.key in self.data:
                    raise ConcurrencyConflict(f"{op.key} exists (first-write)")
            elif op.etag is not None and (op.key not in self.data or self.data[op.key][1] != op.etag):
                raise ConcurrencyConflict(f"etag mismatch on {op.key}")
        for op in ops:
            if isinstance(op, Upsert | Insert):
                self.data[op.key] = (_copy(op.value), self._next_etag())
            elif isinstance(op, Delete):
                self.data.pop(op.key, None)
        self.transactions += 1


class CountingStore:
    """A `JsonStore` in front of another that counts its round trips, by method name."""

    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        self.calls["get_json"] += 1
        return await self.store.get_json(key)

    async def bulk_get_json(self, keys: Sequence[str]) -> dict[str, tuple[Any | None, str | None]]:
        self.calls["bulk_get_json"] += 1
        return await self.store.bulk_get_json(keys)

    async def create_json(self, key: str, value: Any) -> bool:
        self.calls["create_json"] += 1
        return await self.store.create_json(key, value)

    async def transact(self, ops: Sequence[Operation]) -> None:
        self.calls["transact"] += 1
        await self.store.transact(ops)

    def counted(self) -> dict[str, int]:
        """The calls since the last `counted()`, and start counting afresh."""
        calls, self.calls = dict(self.calls), Counter()
        return calls


class RecordingPublisher:
    """Records what was published; `failures` makes the next N publishes raise."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.failures = 0

    async def publish(self, topic: str, data: BaseModel | dict[str, Any]) -> None:
        await asyncio.sleep(0)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("publish failed (simulated)")
        body = data.model_dump(mode="json") if isinstance(data, BaseModel) else _copy(data)
        self.published.append((topic, body))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [body for t, body in self.published if t == topic]

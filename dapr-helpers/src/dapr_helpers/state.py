"""JSON values in a Dapr state store, with ETags and multi-key transactions."""

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import Concurrency, StateOptions

JSON_METADATA = {"contentType": "application/json"}
# A failed transaction surfaces as INTERNAL; its message tells an ETag mismatch
# (or a first-write on an existing key) apart from a real failure.
_CONFLICT_MESSAGE = re.compile(r"etag|no item was updated|first.write", re.IGNORECASE)

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


Operation = Upsert | Delete


def is_conflict(err: Exception) -> bool:
    """ABORTED, or INTERNAL naming an ETag mismatch / a first-write on an existing key.

    `save_state` wraps the gRPC error in a `DaprInternalError` (code on `__cause__`);
    the other calls raise `DaprGrpcError`.
    """
    source = err if isinstance(err, grpc.RpcError) else err.__cause__
    if not isinstance(source, grpc.RpcError):
        return False
    code, details = source.code(), source.details() or ""
    return code == grpc.StatusCode.ABORTED or (
        code == grpc.StatusCode.INTERNAL and bool(_CONFLICT_MESSAGE.search(details))
    )


def _decode(data: bytes) -> Any | None:
    return json.loads(data) if data else None


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class JsonStore(Protocol):
    """What the services' repositories use of `StateStore`, so a test can hand
    them `dapr_helpers.testing.InMemoryStateStore` instead."""

    async def get_json(self, key: str) -> tuple[Any | None, str | None]: ...
    async def bulk_get_json(self, keys: Sequence[str]) -> dict[str, tuple[Any | None, str | None]]: ...
    async def create_json(self, key: str, value: Any) -> bool: ...
    async def get_or_create_json(self, key: str, empty: Any) -> tuple[Any, str]: ...
    async def read_many(
        self,
        keys: Sequence[str],
        *,
        create: Mapping[str, Any] | None = None,
        new: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple[Any | None, str | None]]: ...
    async def transact(self, ops: Sequence[Operation]) -> None: ...


class StateStore:
    """An async JSON view of one Dapr state store.

    `client` is a `dapr.aio.clients.DaprClient` (or anything with its coroutine
    methods, such as `LazyDaprClient`).
    """

    def __init__(self, client: Any, store_name: str) -> None:
        self.client = client
        self.store_name = store_name

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        """The value and its ETag; `(None, None)` when the key is missing."""
        resp = await self.client.get_state(self.store_name, key)
        return _decode(resp.data), (resp.etag or None)

    async def bulk_get_json(self, keys: Sequence[str]) -> dict[str, tuple[Any | None, str | None]]:
        if not keys:
            return {}
        resp = await self.client.get_bulk_state(self.store_name, list(keys))
        found = {item.key: (_decode(item.data), item.etag or None) for item in resp.items}
        return {key: found.get(key, (None, None)) for key in keys}

    async def create_json(self, key: str, value: Any) -> bool:
        """Insert `key` only if it does not exist (first-write, no ETag); False if it did."""
        try:
            await self.client.save_state(
                self.store_name,
                key,
                _encode(value),
                options=StateOptions(concurrency=Concurrency.first_write),
                state_metadata=JSON_METADATA,
            )
        except (DaprGrpcError, DaprInternalError) as err:
            if is_conflict(err):
                return False
            raise
        return True

    async def get_or_create_json(self, key: str, empty: Any) -> tuple[Any, str]:
        """The value and ETag of `key`, storing `empty` first if it is missing.

        A record that several writers may create (a per-order record, a slot)
        exists before anyone changes it, so every change can carry an ETag.
        """
        value, etag = await self.get_json(key)
        if value is None:
            await self.create_json(key, empty)
            value, etag = await self.get_json(key)
        if value is None or etag is None:
            raise ConcurrencyConflict(f"{key} vanished right after it was created")
        return value, etag

    async def read_many(
        self,
        keys: Sequence[str],
        *,
        create: Mapping[str, Any] | None = None,
        new: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple[Any | None, str | None]]:
        """Several keys in one bulk read, each with its ETag (None, None when missing).

        Records that must exist before they are changed, so every write carries
        an ETag (as `get_or_create_json` ensures for one):
        - `new`: probably new (an order's record when its first command comes), so
          stored first, a first-write that is a no-op when they exist, then read;
        - `create`: probably there (a shared record), so read first and stored
          only if missing, then read again.
        One round trip when nothing is missing.
        """
        new, create = new or {}, create or {}
        if new:
            await asyncio.gather(*(self.create_json(key, value) for key, value in new.items()))
        found = await self.bulk_get_json(keys)
        if missing := [key for key in create if found[key][1] is None]:
            await asyncio.gather(*(self.create_json(key, create[key]) for key in missing))
            found |= await self.bulk_get_json(missing)
        if vanished := [key for key in [*new, *create] if found[key][1] is None]:
            raise ConcurrencyConflict(f"{', '.join(vanished)} vanished right after creation")
        return found

    async def transact(self, ops: Sequence[Operation]) -> None:
        """All ops or none. An op with an ETag fails the whole transaction if the key changed.

        The SDK's transaction API carries no StateOptions; Dapr's stores check an
        ETag whenever one is sent, which is the first-write behaviour we need.
        """
        requests = [
            TransactionalStateOperation(
                key=op.key, data=_encode(op.value), etag=op.etag, metadata=JSON_METADATA
            )
            if isinstance(op, Upsert)
            else TransactionalStateOperation(
                key=op.key, etag=op.etag, operation_type=TransactionOperationType.delete
            )
            for op in ops
        ]
        try:
            await self.client.execute_state_transaction(self.store_name, requests)
        except DaprGrpcError as err:
            if is_conflict(err):
                raise ConcurrencyConflict(err.details()) from None
            raise


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

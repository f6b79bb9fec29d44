"""State through the async SDK client (`dapr.aio.clients.DaprClient`), as async apps use it.

Mirrors the same daprd handlers as test_state.py (pkg/api/grpc/grpc.go); here
the point is concurrency: many in-flight calls on one sidecar.
"""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprInternalError

from .conftest import Target

STORE = "statestore"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_async_save_get_delete(target: Target) -> None:
    """grpc.go SaveState / GetState / DeleteState through dapr.aio."""

    async def scenario() -> None:
        async with DaprClient(address=target.main.grpc_address) as c:
            key = unique("async")
            await c.save_state(STORE, key, b"\x01\x02")
            got = await c.get_state(STORE, key)
            assert got.data == b"\x01\x02" and got.etag.isdigit()
            await c.delete_state(STORE, key)
            assert (await c.get_state(STORE, key)).data == b""

    asyncio.run(scenario())


def test_async_etag_race_two_clients_exactly_one_wins(target: Target) -> None:
    """Optimistic concurrency (docs: state-management-overview#concurrency) with two async
    clients and many concurrent writers holding the same ETag: one wins, the rest ABORTED."""

    async def scenario() -> list[str]:
        async with (
            DaprClient(address=target.main.grpc_address) as c1,
            DaprClient(address=target.main.grpc_address) as c2,
        ):
            key = unique("arace")
            await c1.save_state(STORE, key, "start")
            etag = (await c1.get_state(STORE, key)).etag

            async def write(client: DaprClient, n: int) -> str:
                try:
                    await client.save_state(STORE, key, f"w{n}", etag=etag)
                    return "won"
                except DaprInternalError as err:
                    # The async save_state wraps the gRPC error (its __cause__ keeps the code).
                    assert isinstance(err.__cause__, grpc.aio.AioRpcError)
                    return err.__cause__.code().name

            return await asyncio.gather(*(write(c1 if n % 2 else c2, n) for n in range(20)))

    outcomes = asyncio.run(scenario())
    assert outcomes.count("won") == 1
    assert outcomes.count(grpc.StatusCode.ABORTED.name) == 19


@pytest.mark.parametrize("writers", [50])
def test_async_concurrent_distinct_keys(target: Target, writers: int) -> None:
    """Many concurrent SaveState calls on distinct keys all succeed (no lost writes)."""

    async def scenario() -> None:
        async with DaprClient(address=target.main.grpc_address) as c:
            keys = [unique("many") for _ in range(writers)]
            await asyncio.gather(*(c.save_state(STORE, k, k) for k in keys))
            items = (await c.get_bulk_state(STORE, keys)).items
            assert {i.key: i.data for i in items} == {k: k.encode() for k in keys}

    asyncio.run(scenario())

"""A login's orders as a chunked index: paging, the v1 store, and records that do not grow.

`fixtures/v1_store.json` is `InMemoryStateStore.snapshot()` after the committed
v1 service placed orders (ann 1..9; Edmond90 10, 11 with an Idempotency-Key, 12
whose saga did not start, so it was removed, and 13): each login's index is a
plain JSON list of ids there.
"""

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from order_app.adapters.dead_letters import DeadLetterLog
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.domain import OrderRequest, OrderStatus, RejectionReason, StepName, StepRecord
from order_app.main import create_app
from order_app.service.orders import OrderService, SagaUnavailable
from order_app.workflow.activities import SagaActivities
from order_app.workflow.messages import Outcome, SagaSnapshot
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.order import AnsweringParticipants, FakeDirectory, FakeSagas

NOW = datetime(2030, 1, 1, tzinfo=UTC)
V1_STORE = Path(__file__).parent / "fixtures" / "v1_store.json"


def request(login: str = "ann", n: int = 0) -> OrderRequest:
    return OrderRequest(
        login=login,
        email=f"{login.lower()}@b.cd",
        product_id=1 + n % 2,
        quantity=1 + n % 7,
        amount=Decimal(5 + n % 100),
        dtime=datetime(2030, 2, 1, 9, tzinfo=UTC) + timedelta(hours=n % 1000),
    )


class ReadCountingStore(InMemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        self.reads.append(key)
        return await super().get_json(key)


def a_service(store: InMemoryStateStore, chunk_size: int = 4) -> tuple[OrderService, FakeSagas]:
    sagas = FakeSagas()
    orders = OrderRepository(store, chunk_size)
    return OrderService(
        orders,
        IdempotencyKeys(store),
        FakeDirectory({"ann", "bob", "Edmond90"}),
        sagas,
        Settings(),
        lambda: NOW,
    ), sagas


def v1_store() -> ReadCountingStore:
    store = ReadCountingStore()
    for n, (key, value) in enumerate(json.loads(V1_STORE.read_text()).items()):
        store.data[key] = (value, f"v1-{n}")
    return store


def listed(http: TestClient, login: str, limit: int = 100, offset: int = 0) -> tuple[list[int], int]:
    page = http.get("/orders", params={"login": login, "limit": limit, "offset": offset}).json()
    assert (page["limit"], page["offset"]) == (limit, offset)
    return [o["id"] for o in page["items"]], page["total"]


def test_a_v1_store_is_listed_then_rewritten_in_chunks_by_the_next_order():
    store = v1_store()
    assert isinstance(store.data["login-orders-ann"][0], list)  # the fixture is the v1 shape
    service, _ = a_service(store)
    with TestClient(create_app(Settings(), service=service)) as http:
        assert listed(http, "ann") == ([9, 8, 7, 6, 5, 4, 3, 2, 1], 9)
        assert listed(http, "ann", limit=3, offset=7) == ([2, 1], 9)
        assert listed(http, "Edmond90") == ([13, 11, 10], 3)
        order = {"e_mail": "a@b.cd", "id_product": 1, "quantity": 1, "amount": 2, "dtime": "2030-01-08 10:00"}

        assert http.post("/orders", json={**order, "login": "ann"}).json()["id"] == 14
        assert http.post("/orders", json={**order, "login": "Edmond90"}).json()["id"] == 15

        # ann's 9 ids, more than a chunk: cut into chunks; Edmond90's 3 became the tail, then sealed
        assert store.snapshot()["login-orders-ann"] == {"count": 10, "tail": [9, 14]}
        assert [store.data[f"login-orders-ann/{n}"][0] for n in (0, 1)] == [[1, 2, 3, 4], [5, 6, 7, 8]]
        assert store.snapshot()["login-orders-Edmond90"] == {"count": 4, "tail": []}
        assert listed(http, "ann") == ([14, 9, 8, 7, 6, 5, 4, 3, 2, 1], 10)
        assert listed(http, "ann", limit=2, offset=3) == ([7, 6], 10)
        assert listed(http, "Edmond90", limit=2, offset=1) == ([13, 11], 4)
        assert http.get("/orders/13").json()["login"] == "Edmond90"
        assert [o["id"] for o in http.get("/orders", params={"limit": 3}).json()["items"]] == [15, 14, 13]


async def test_a_page_reads_the_head_and_only_the_chunks_it_reaches():
    store = ReadCountingStore()
    service, _ = a_service(store, chunk_size=4)
    for n in range(10):  # chunks [1-4] [5-8], tail [9, 10]
        await service.place(request("ann", n), None)

    async def read_for(limit: int, offset: int) -> tuple[list[int], set[str]]:
        store.reads.clear()
        page = await service.orders.login_page("ann", limit, offset)
        return page.entries, {k for k in store.reads}

    assert await read_for(2, 0) == ([10, 9], {"login-orders-ann"})
    assert await read_for(3, 2) == ([8, 7, 6], {"login-orders-ann", "login-orders-ann/1"})
    assert await read_for(5, 5) == (
        [5, 4, 3, 2, 1],
        {"login-orders-ann", *(f"login-orders-ann/{n}" for n in (0, 1))},
    )
    assert await read_for(5, 10) == ([], {"login-orders-ann"})


async def test_an_order_whose_saga_did_not_start_leaves_the_listing():
    store = InMemoryStateStore()
    service, sagas = a_service(store, chunk_size=4)
    for n in range(3):
        await service.place(request("ann", n), None)
    sagas.start_fails = True
    with pytest.raises(SagaUnavailable):
        await service.place(request("ann", 3), "key")  # its append sealed a chunk: the chunk keeps id 4
    with pytest.raises(SagaUnavailable):
        await service.place(request("ann", 4), None)  # in the tail: removed from the index
    sagas.start_fails = False
    await service.place(request("ann", 5), None)

    page = await service.orders.login_page("ann", 10, 0)
    assert (page.entries, page.total) == ([6, 4, 3, 2, 1], 5)
    assert [o.id for o in await service.orders.get_many(page.entries)] == [6, 3, 2, 1]  # 4 is gone


def largest_by_kind(store: InMemoryStateStore) -> dict[str, int]:
    """The largest serialized value per kind of key (the numbers in a key replaced by `#`)."""
    sizes: dict[str, int] = {}
    for key, (value, _) in store.data.items():
        kind = re.sub(r"[0-9a-f]{64}|\d+", "#", key)
        sizes[kind] = max(sizes.get(kind, 0), len(json.dumps(value)))
    return sizes


def final_snapshots() -> tuple[dict[str, Any], dict[str, Any]]:
    """The longest final snapshots, for order 0: completed, and rejected with every step compensated."""
    steps = tuple(StepRecord(name=name).request(NOW).succeed(NOW) for name in StepName)
    completed = SagaSnapshot(
        order_id=0, at=NOW, steps=steps, outcome=Outcome(status=OrderStatus.COMPLETED, message="ok")
    )
    late = Outcome(status=OrderStatus.REJECTED, reason=RejectionReason.STEP_TIMEOUT, message="late " * 20)
    undone = tuple(s.compensation_sent(NOW).compensate(NOW) for s in steps)
    rejected = SagaSnapshot(order_id=0, at=NOW, steps=undone, outcome=late)
    return completed.model_dump(mode="json"), rejected.model_dump(mode="json")


async def test_no_record_on_the_saga_path_grows_with_the_number_of_orders(caplog):
    caplog.set_level(logging.WARNING, logger="order_app")  # not 10,000 "order created" lines
    store = InMemoryStateStore()
    service, _ = a_service(store, chunk_size=64)
    activities = SagaActivities(RecordingPublisher(), AnsweringParticipants(), service.orders)
    dead = DeadLetterLog(store)
    snapshots = final_snapshots()
    for n in range(10_000):
        key = f"key-{n}" if n % 3 == 0 else None  # both ways of placing an order
        order, _ = await service.place(request(("ann", "bob", "Edmond90")[n % 3], n), key)
        await activities.record_and_send(None, snapshots[n % 2] | {"order_id": order.id})  # type: ignore[arg-type]
        if n % 10 == 0:
            reply = {"order_id": order.id, "participant": "delivery", "action": "reserve", "ok": False}
            await dead.add(f"{n:08d}-8d7a-4e6f-9b2c-1a2b3c4d5e6f", reply | {"reason": "no_courier_available"})
        if n == 999:
            after_a_thousand = largest_by_kind(store)

    after = largest_by_kind(store)
    assert after.keys() == after_a_thousand.keys()
    for kind, size in after.items():  # ids gain a digit: at most one byte per id in a record
        assert size - after_a_thousand[kind] <= 64, kind
    assert max(after.values()) < 4096, after
    assert (await service.orders.login_page("bob", 2, 0)).entries == [9998, 9995]


async def test_the_dead_letter_log_stays_small_whatever_arrives():
    store = InMemoryStateStore()
    dead = DeadLetterLog(store)
    odd = {
        "order_id": "\U0001f600" * 500,
        "participant": '"\\' * 500,
        "action": "\x01" * 500,
        "reason": "é" * 500,
    }
    for n in range(30):
        assert await dead.add(f"{n}-" + "x" * 500, odd)
    assert not await dead.add("29-" + "x" * 500, odd)  # a redelivery, recognised after the cut

    record = await dead.read()
    assert record["count"] == 30
    assert 1 <= len(record["recent"]) < 20 and record["recent"][0]["id"].startswith("29-")
    assert len(json.dumps(store.data["dead-replies"][0])) < 4096

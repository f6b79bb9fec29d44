"""`make bench-scale`'s pieces without a sidecar: the preload over in-memory stores, and the
state-size snapshots it reports `max_record_bytes` from."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from localdapr.state.store import SCHEMA
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher

from tests.e2e.stack import ROOT

if str(ROOT) not in sys.path:  # `bench` is run from the repository's root (python -m bench.scale)
    sys.path.insert(0, str(ROOT))

from bench.preload import (
    PARTICIPANTS,
    HistoryPlan,
    bounded,
    complete_orders,
    create_orders,
    follow,
    history_slot_base,
    joined,
    run_commands,
)
from bench.scale import is_engine_key, postgres_stores, record_report, sqlite_sizes, written

ORDERS = 24


def plan() -> HistoryPlan:
    return HistoryPlan(
        orders=ORDERS,
        logins=["ann", "bob", "cid"],
        products=[1, 2],
        slot_base=history_slot_base(datetime(2026, 1, 1, 10, 30, tzinfo=UTC)).isoformat(),
    )


def api(app_id: str, store: InMemoryStateStore) -> httpx.AsyncClient:
    """The participant's public API over `store`, as the benchmark uses it through the gateway."""
    commands = importlib.import_module(f"{PARTICIPANTS[app_id]}.main")
    settings = importlib.import_module(f"{PARTICIPANTS[app_id]}.config").Settings()
    app = commands.build_app(settings, store, RecordingPublisher())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def seeded() -> dict[str, InMemoryStateStore]:
    """Each app's store, with the plan's accounts (well funded) and products (well stocked),
    made through the public API as the benchmark makes them."""
    stores = {name: InMemoryStateStore() for name in ("order", *PARTICIPANTS)}
    async with api("billing", stores["billing"]) as billing, api("stock", stores["stock"]) as stock:
        for login in plan().logins:
            assert (await billing.post("/billing/register", params={"login": login})).status_code == 201
            r = await billing.post("/billing/refill", json={"login": login, "amount": "1000"})
            assert r.status_code == 200
        for pid in plan().products:
            r = await stock.post("/stock/register", json={"description": "bench", "quantity": 1000})
            assert r.status_code == 201 and r.json()["id"] == pid
    return stores


async def test_the_history_is_what_completed_sagas_leave() -> None:
    stores, p = await seeded(), plan()
    orders = await create_orders(stores["order"], p, concurrency=5)
    assert sorted(o["order_id"] for o in orders) == list(range(1, ORDERS + 1))
    replies = []
    for app_id in PARTICIPANTS:
        replies += await run_commands(app_id, stores[app_id], orders, concurrency=5)
    assert await complete_orders(stores["order"], joined(replies), concurrency=5) == ORDERS

    from order_app.adapters.repository import OrderRepository

    repo = OrderRepository(stores["order"])
    slots = set()
    async with (
        api("billing", stores["billing"]) as billing,
        api("stock", stores["stock"]) as stock,
        api("delivery", stores["delivery"]) as delivery,
    ):
        for o in orders:
            order = await repo.get(o["order_id"])
            assert order is not None and order.status == "completed"
            assert [step.state for step in order.steps] == ["succeeded"] * 3
            assert (await stock.get(f"/stock/reservations/{order.id}")).json()["status"] == "reserved"
            assert (await billing.get(f"/billing/payments/{order.id}")).json()["status"] == "charged"
            booking = (await delivery.get(f"/delivery/bookings/{order.id}")).json()
            assert booking["status"] == "booked"
            slots.add(booking["slot_start"])
        assert len(slots) == ORDERS  # one courier: a slot per order
        for login in p.logins:  # 8 orders of 2.50 each
            balance = (await billing.get(f"/billing/account/{login}")).json()["balance"]
            assert Decimal(str(balance)) == 1000 - 8 * Decimal("2.50")
        for pid in p.products:
            assert (await stock.get(f"/stock/{pid}")).json()["quantity"] == 1000 - ORDERS // 2


def test_history_slots_are_beyond_the_loads() -> None:
    p = plan()
    assert p.slot(0) == datetime(2036, 12, 14, 10, tzinfo=UTC)  # 4000 days on, on the hour
    assert p.slot(23) - p.slot(0) == (p.slot(1) - p.slot(0)) * 23
    assert HistoryPlan(**{**p.__dict__, "couriers": 4}).slot(3) == p.slot(0)
    # saga_bench.SlotClock starts at most 3680 days ahead and takes an hour per saga:
    # room for a measured load of 7,200 sagas (the 60 s default run makes about 2,000)
    assert (p.slot(0) - datetime(2026, 1, 1, tzinfo=UTC)).days >= 3680 + 300


async def test_bounded_runs_everything_with_at_most_n_at_once() -> None:
    import asyncio

    running = peak = 0

    async def one(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return i

    assert sorted(await bounded(range(100), one, 7)) == list(range(100))
    assert peak == 7


async def test_items_contending_for_one_record_share_a_lane() -> None:
    import asyncio

    running: dict[str, int] = {}
    overlap = 0

    async def one(item: tuple[str, int]) -> int:
        nonlocal overlap
        running[item[0]] = running.get(item[0], 0) + 1
        overlap = max(overlap, running[item[0]])
        await asyncio.sleep(0)
        running[item[0]] -= 1
        return item[1]

    async def stream():  # a file still being written
        for i in range(60):
            yield ("abc"[i % 3], i)

    seen: list[int] = []
    results = await bounded(stream(), one, 8, key=lambda item: item[0], sink=seen.append)
    assert sorted(results) == sorted(seen) == list(range(60))
    assert overlap == 1


def test_follow_reads_whole_rows_as_they_are_written(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "rows.jsonl"

    async def go() -> list[dict]:
        async def write() -> None:
            await asyncio.sleep(0.05)
            with path.open("w") as f:
                f.write('{"a": 1}\n{"a"')
                f.flush()
                await asyncio.sleep(0.15)
                f.write(": 2}\n")

        writer = asyncio.create_task(write())
        rows = [row async for row in follow([path], 2)]
        await writer
        return rows

    assert asyncio.run(go()) == [{"a": 1}, {"a": 2}]


def test_written_values_are_new_or_changed_keys_largest_first() -> None:
    before = {("s", "a"): ("1", 10), ("s", "b"): ("2", 5000), ("s", "c"): ("3", 7)}
    after = {("s", "a"): ("4", 20), ("s", "b"): ("2", 5000), ("s", "c"): ("3", 7), ("t", "d"): ("5", 9)}
    assert written(before, after) == [(20, "s", "a"), (9, "t", "d")]
    report = record_report(before, after)
    assert report["max_record_bytes"] == 20  # b is larger but was not written
    assert report["largest_anywhere"] == 5000
    assert [r["key"] for r in report["largest"]] == ["a", "d"]


def test_the_largest_written_value_of_each_app() -> None:
    after = {
        ("s", "billing||account-a"): ("1", 300),
        ("s", "billing||payment-1"): ("2", 900),
        ("t", "stock||product-1"): ("3", 200),
    }
    assert record_report({}, after)["max_record_bytes_by_app"] == {"billing": 900, "stock": 200}


def test_the_workflow_engines_keys_are_set_apart() -> None:
    assert is_engine_key("order||dapr.internal.default.order.workflow||order-7||history-000001")
    assert not is_engine_key("order||order-7")
    before: dict = {}
    after = {("order-store", "order||order-7"): ("1", 900), ("order-store", "order||a||b||c"): ("2", 9000)}
    report = record_report(before, after)
    assert report["max_record_bytes"] == 900
    assert report["engine_max_bytes"] == 9000


def test_sqlite_sizes_reads_localdaprs_state_table(tmp_path: Path) -> None:
    db = tmp_path / "localdapr.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO state (store, key, value, is_json, etag) VALUES (?, ?, ?, 1, 7)",
        ("billing-store", "billing||account-ann", b'{"balance": "1.00"}'),
    )
    conn.commit()
    conn.close()
    assert sqlite_sizes(db) == {("billing", "billing||account-ann"): ("7", 19)}


def test_the_postgres_stores_come_from_the_components() -> None:
    stores = {s.name: (s.database, s.table) for s in postgres_stores(ROOT / "components")}
    assert stores == {
        "billing-store": ("billing", "billing_state"),
        "delivery-store": ("delivery", "delivery_state"),
        "order-store": ("order", "order_state"),
        "stock-store": ("stock", "stock_state"),
    }


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")

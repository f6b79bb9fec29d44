"""The saga console (order_app.console): its read model, the timeline, the live stream and the pages.

All on the in-memory store: the console only reads what the saga writes.
"""

import asyncio
import json
import re
import signal
import time
import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr_helpers.client import DaprHttpError
from fastapi.testclient import TestClient
from order_app.adapters.dead_letters import DeadLetterLog
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.console.projection import ConsoleView
from order_app.console.stream import console_events
from order_app.console.views import summary, timeline
from order_app.domain import Order, OrderRequest, RejectionReason, StepName, StepRecord
from order_app.main import create_app
from order_app.service.orders import OrderService
from saga_testkit.dapr import InMemoryStateStore
from saga_testkit.order import FakeDirectory, FakeSagas
from saga_testkit.servers import serving

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class ReadCountingStore(InMemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        self.reads.append(key)
        return await super().get_json(key)


def request(login: str = "ann") -> OrderRequest:
    return OrderRequest(
        login=login,
        email=f"{login}@b.cd",
        product_id=1,
        quantity=2,
        amount=Decimal("12.50"),
        dtime=datetime(2030, 2, 1, 9, tzinfo=UTC),
    )


def steps_ok() -> tuple[StepRecord, ...]:
    return tuple(StepRecord(name=n).request(at(0.1)).succeed(at(0.2)) for n in StepName)


def steps_refused_charge(compensated: bool = True) -> tuple[StepRecord, ...]:
    """Stock and courier reserved, the charge refused, both reservations undone (the first one resent)."""
    stock, courier = (StepRecord(name=n).request(at(0.1)).succeed(at(0.2)) for n in list(StepName)[:2])
    charge = StepRecord(name=StepName.CHARGE_PAYMENT).request(at(0.3))
    charge = charge.refuse(at(0.5), "insufficient_funds", "the balance is 1.00")
    stock = stock.compensation_sent(at(0.6)).compensation_sent(at(10.6))
    courier = courier.compensation_sent(at(0.6))
    if compensated:
        stock, courier = stock.compensate(at(11.0)), courier.compensate(at(0.9))
    return stock, courier, charge


async def place(orders: OrderRepository, login: str = "ann") -> Order:
    return await orders.add_new(login, lambda i: Order.create(i, request(login), T0))


@pytest.fixture
def store() -> ReadCountingStore:
    return ReadCountingStore()


@pytest.fixture
def orders(store: ReadCountingStore) -> OrderRepository:
    return OrderRepository(store)


@pytest.fixture
def view(store: ReadCountingStore, orders: OrderRepository) -> ConsoleView:
    return ConsoleView(orders, DeadLetterLog(store), keep=3)


async def test_totals_count_each_outcome_once_and_what_is_still_running(
    view: ConsoleView, orders: OrderRepository, store: ReadCountingStore
) -> None:
    ids = [(await place(orders)).id for _ in range(5)]
    await orders.update(ids[0], lambda o: o.complete(steps_ok(), at(1)))
    reject = RejectionReason.INSUFFICIENT_FUNDS
    await orders.update(ids[1], lambda o: o.reject(reject, "no money", steps_refused_charge(), at(11)))
    await orders.update(ids[2], lambda o: o.record_steps(steps_refused_charge(compensated=False), at(0.6)))
    await DeadLetterLog(store).add("event-1", {"order_id": 9})

    await view.refresh()
    await view.refresh()  # nothing changed: nothing counted twice

    assert view.totals.as_json() == {
        "completed": 1,
        "rejected": 1,
        "rejected_by_reason": {"insufficient_funds": 1},
        "in_flight": 3,
        "compensating": 1,
        "dead_letters": 1,
    }
    # the newest `keep` orders are listed, newest first; totals cover them all
    assert [o.id for o in view.recent()] == [5, 4, 3]
    assert [o.id for o in view.recent(status="pending", limit=2)] == [5, 4]


async def test_a_final_record_is_read_once_and_a_pending_one_until_it_finishes(
    view: ConsoleView, orders: OrderRepository, store: ReadCountingStore
) -> None:
    done, running = await place(orders), await place(orders)
    await orders.update(done.id, lambda o: o.complete(steps_ok(), at(1)))
    await view.refresh()
    store.reads.clear()

    await view.refresh()
    assert sorted(store.reads) == ["dead-replies", "order-2", "order-counter"]

    await orders.update(running.id, lambda o: o.complete(steps_ok(), at(2)))
    await view.refresh()
    store.reads.clear()
    await view.refresh()
    assert sorted(store.reads) == ["dead-replies", "order-counter"]
    assert view.totals.completed == 2 and view.totals.in_flight == 0


async def test_each_stream_gets_every_change_since_it_last_looked(
    view: ConsoleView, orders: OrderRepository
) -> None:
    first = await place(orders)
    await view.refresh()
    seen = view.sequence

    await orders.update(first.id, lambda o: o.complete(steps_ok(), at(1)))
    second = await place(orders)
    await view.refresh()

    changed, gone = view.changed_since(seen)
    assert [(o.id, o.status.value) for o in changed] == [(first.id, "completed"), (second.id, "pending")]
    assert gone == []
    assert view.changed_since(view.sequence) == ([], [])
    assert view.changed_since(0)[0] == changed  # a second stream, further behind, sees the same


async def test_an_order_removed_before_its_saga_started_leaves_the_view(
    view: ConsoleView, orders: OrderRepository
) -> None:
    order = await place(orders)
    await view.refresh()
    seen = view.sequence
    await orders.remove(order)
    await view.refresh()
    assert view.changed_since(seen) == ([], [order.id])
    assert view.recent() == [] and view.totals.in_flight == 0


def test_the_timeline_of_a_refused_charge_shows_the_refusal_and_both_compensations() -> None:
    order = Order.create(7, request(), T0).reject(
        RejectionReason.INSUFFICIENT_FUNDS, "no money", steps_refused_charge(), at(11)
    )
    line = timeline(order, "/console/api/orders/7/workflow")
    steps = {s["name"]: s for s in line["steps"]}

    assert (line["status"], line["reason"], line["duration_seconds"]) == (
        "rejected",
        "insufficient_funds",
        11.0,
    )
    assert line["workflow_url"] == "/console/api/orders/7/workflow"
    charge = steps["charge_payment"]
    assert charge["state"] == "refused"
    assert [e["event"] for e in charge["events"]] == ["requested", "answered"]
    assert charge["events"][1]["answer"] == "refused"
    assert charge["events"][1]["reason"] == "insufficient_funds"
    assert charge["events"][1]["after_seconds"] == 0.2

    stock = steps["reserve_stock"]
    assert stock["state"] == "compensated"
    assert [(e["event"], e.get("answer"), e.get("attempts")) for e in stock["events"]] == [
        ("requested", None, None),
        ("answered", "ok", None),
        ("compensation_sent", None, 2),
        ("compensation_acknowledged", None, 2),
    ]
    assert stock["events"][2]["at"] == at(0.6).isoformat()  # the first send
    assert stock["events"][3]["after_seconds"] == 10.4
    assert steps["reserve_courier"]["compensation_attempts"] == 1


def test_a_timed_out_step_being_compensated_reads_as_timed_out() -> None:
    step = StepRecord(name=StepName.RESERVE_STOCK).request(at(0)).time_out(at(30), "no answer")
    order = Order.create(1, request(), T0).record_steps((step.compensation_sent(at(30)),), at(30))
    events = timeline(order, "")["steps"][0]["events"]
    assert [e.get("answer") for e in events] == [None, "timed out", None]
    assert summary(order)["compensating"] is True and summary(order)["duration_seconds"] is None


async def test_the_stream_sends_a_snapshot_then_changes_and_ends_when_told(
    view: ConsoleView, orders: OrderRepository
) -> None:
    first = await place(orders)
    stopping = asyncio.Event()
    stream = console_events(view, stopping, interval=0.01, keep_alive=0.05)

    assert (await anext(stream)).startswith("retry:")
    snapshot = await anext(stream)
    assert snapshot.startswith("event: snapshot\n") and '"id":1' in snapshot

    await orders.update(first.id, lambda o: o.complete(steps_ok(), at(1)))
    update = await anext(stream)
    assert re.search(r'event: order\nid: \d+\ndata: \{"id":1,"status":"completed"', update)
    assert "event: totals" in update and '"completed":1' in update
    assert await anext(stream) == ": keep-alive\n\n"  # nothing changed for a while

    stopping.set()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


@pytest.fixture
def http() -> Any:
    store = InMemoryStateStore()
    orders = OrderRepository(store)
    service = OrderService(
        orders, IdempotencyKeys(store), FakeDirectory(), FakeSagas(), Settings(), lambda: T0
    )
    with TestClient(create_app(Settings(), service=service)) as client:
        yield client


class WorkflowSidecar:
    """Answers `GET /workflows/dapr/{id}` from `instances`: a status, or the error daprd gives."""

    LOST = DaprHttpError(
        500,
        "ERR_GET_WORKFLOW",
        "inbox key 'inbox-000000' declared in metadata (inboxLength=2) but missing from state store",
    )

    def __init__(self, instances: dict[str, str | Exception]) -> None:
        self.instances = instances

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, str | None]:
        found = self.instances.get(path.removeprefix("/workflows/dapr/"))
        if found is None:
            raise DaprHttpError(404, "ERR_INSTANCE_ID_NOT_FOUND", "no such instance exists")
        if isinstance(found, Exception):
            raise found
        return 200, json.dumps({"instanceID": path.rsplit("/", 1)[1], "runtimeStatus": found}).encode(), None


@pytest.mark.parametrize(
    ("instances", "status", "shown"),
    [
        ({"order-7": "RUNNING"}, 200, "order-7"),
        # A saga whose state daprd lost is shown by its replacement (service/recovery.py).
        ({"order-7": WorkflowSidecar.LOST, "order-7-r1": "COMPLETED"}, 200, "order-7-r1"),
        ({"order-7": WorkflowSidecar.LOST}, 502, "the engine lost the state of order-7; no replacement yet"),
        ({}, 404, "no workflow instance order-7"),
    ],
)
def test_the_workflow_link_shows_the_newest_saga(
    http: TestClient, instances: dict[str, str | Exception], status: int, shown: str
) -> None:
    http.app.state.console_dapr = WorkflowSidecar(instances)  # type: ignore[attr-defined]
    answer = http.get("/console/api/orders/7/workflow")
    assert answer.status_code == status, answer.text
    assert (answer.json()["instanceID"] if status == 200 else answer.json()["detail"]) == shown


def test_the_pages_load_nothing_from_another_site(http: TestClient) -> None:
    landing = http.get("/")
    assert landing.status_code == 200 and landing.headers["content-type"].startswith("text/html")
    for link in (
        "/console",
        "/orders/docs",
        "/billing/docs",
        "/stock/docs",
        "/delivery/docs",
        "/console/api/health",
    ):
        assert f'href="{link}"' in landing.text
    page = http.get("/console").text
    assets = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert assets and all(a.startswith(("/", "#")) for a in assets)
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        asset = http.get(f"/console/assets/{name}")
        assert asset.headers["content-type"].startswith(kind)
        assert not re.search(r"https?://", asset.text)
    assert http.get("/console/assets/..%2fconsole.html").status_code == 404


def test_the_console_api_lists_filters_and_explains_an_order(http: TestClient) -> None:
    body = {
        "login": "ann",
        "e_mail": "a@b.cd",
        "id_product": 1,
        "quntity": 1,
        "amount": 3,
        "dtime": "2030-02-01 09:00:00",
    }
    assert http.post("/orders", json=body).status_code == 201
    assert http.post("/orders", json=body | {"login": "Edmond90"}).status_code == 201

    listed = http.get("/console/api/orders", params={"login": "ann"}).json()
    assert [o["login"] for o in listed["orders"]] == ["ann"]
    assert listed["totals"]["in_flight"] == 2
    assert http.get("/console/api/orders", params={"status": "completed"}).json()["orders"] == []
    assert http.get("/console/api/orders", params={"status": "lost"}).status_code == 422
    assert http.get("/console/api/totals").json()["in_flight"] == 2

    one = http.get("/console/api/orders/2").json()
    assert (one["login"], one["final"], one["workflow_url"]) == (
        "Edmond90",
        False,
        "/console/api/orders/2/workflow",
    )
    assert http.get("/console/api/orders/99").status_code == 404


def test_the_console_is_not_in_the_public_api_document(http: TestClient) -> None:
    paths = http.get("/orders/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/console")]


SERVE = """
import sys, uvicorn
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.main import create_app
from order_app.service.orders import OrderService
from saga_testkit.dapr import InMemoryStateStore
from saga_testkit.order import FakeDirectory, FakeSagas

store = InMemoryStateStore()
keys, orders = IdempotencyKeys(store), OrderRepository(store)
service = OrderService(orders, keys, FakeDirectory(), FakeSagas(), Settings())
uvicorn.run(create_app(Settings(), service=service), port=int(sys.argv[1]), log_level="warning")
"""


def test_an_open_stream_does_not_hold_uvicorns_shutdown() -> None:
    """uvicorn waits for open responses before it stops: SIGTERM must end the stream first."""
    with serving(SERVE, "/console") as (base, server):
        with httpx.stream("GET", f"{base}/console/api/events", timeout=10) as r:
            lines = r.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: snapshot"
            stopped_at = time.monotonic()
            server.send_signal(signal.SIGTERM)
            assert list(lines) is not None  # the body ends: the server closed the stream
            # uvicorn stops, then re-raises the signal it caught (so: killed by SIGTERM)
            assert server.wait(timeout=10) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped_at < 5


def test_the_pages_and_assets_are_package_data() -> None:
    """The image installs the app as a package (not from its source tree): static/ must ship in it."""
    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = root / "src" / "order_app"
    files = [p.relative_to(package).as_posix() for p in (package / "console" / "static").iterdir()]
    assert files and all(any(fnmatch(f, pat) for pat in patterns["order_app"]) for f in files)


async def test_an_id_counted_before_its_record_is_stored_shows_once_it_is(
    store: ReadCountingStore, orders: OrderRepository
) -> None:
    """With an Idempotency-Key the id is handed out first, the record stored after."""
    view = ConsoleView(orders, DeadLetterLog(store), grace=60)
    order_id = await orders.next_id()
    await view.refresh()
    assert view.recent() == []

    await orders.add(Order.create(order_id, request(), T0))
    await view.refresh()
    assert [o.id for o in view.recent()] == [order_id] and view.totals.in_flight == 1


async def test_an_id_never_stored_is_looked_for_only_a_while(
    store: ReadCountingStore, orders: OrderRepository
) -> None:
    view = ConsoleView(orders, DeadLetterLog(store), grace=0)
    await orders.next_id()
    await view.refresh()
    await view.refresh()
    store.reads.clear()
    await view.refresh()
    assert sorted(store.reads) == ["dead-replies", "order-counter"]

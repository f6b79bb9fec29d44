import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dapr_helpers.index import DEFAULT_CHUNK
from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.config import Settings
from delivery_app.main import build_app
from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService
from fastapi.testclient import TestClient
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.fixtures import command_sender


@pytest.fixture
def client(store: InMemoryStateStore, publisher: RecordingPublisher) -> TestClient:
    return TestClient(build_app(Settings(), store, publisher))


@pytest.fixture
def commands(store: InMemoryStateStore, publisher: RecordingPublisher) -> CommandService:
    repo = DeliveryRepository(store)
    return CommandService(repo, CourierService(repo, ["Courier 1"]), publisher, "order-replies")


@pytest.fixture
def send(client: TestClient) -> Callable[[Any], dict[str, Any]]:
    return command_sender(client, "delivery-commands")


@pytest.fixture
def slot() -> str:
    """A slot start no other test uses (the stores are per test anyway)."""
    hours = uuid.uuid4().int % 10**5
    return (datetime(2031, 1, 1, tzinfo=UTC) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def assert_slots_add_up(
    store: InMemoryStateStore, couriers: int, unindexed: frozenset[int] = frozenset()
) -> None:
    """Courier slots add up: each slot holds at most one order per courier, and no more entries
    than couriers; its bookings are exactly the `booked` records naming it; the bookings index
    lists each booking ever made (booked or released since) exactly once, but for `unindexed`
    (released before a v1 store was migrated, so no longer found)."""
    data = {key: value for key, (value, _) in store.data.items()}
    records = {v["order_id"]: v for k, v in data.items() if k.startswith("booking:")}
    held = {(v["slot_start"], v["courier"]): i for i, v in records.items() if v["status"] == "booked"}
    in_slots: dict[tuple[str, str], int] = {}
    for key, slot in data.items():
        if key.startswith("slot:"):
            assert key == f"slot:{slot['start']}" and len(slot["bookings"]) <= couriers, slot
            in_slots |= {(slot["start"], courier): order_id for courier, order_id in slot["bookings"].items()}
    assert in_slots == held
    assert "slots" not in data  # the v1 index is gone once anything was booked
    head = data.get("bookings", {"count": 0, "tail": []})
    listed = [i for n in range(head["count"] // DEFAULT_CHUNK) for i in data[f"bookings/{n}"]] + head["tail"]
    assert len(listed) == head["count"] == len(set(listed))
    assert set(listed) == {i for i, v in records.items() if v["status"] in ("booked", "released")} - unindexed


@pytest.fixture
def slots_add_up() -> Callable[..., None]:
    return assert_slots_add_up

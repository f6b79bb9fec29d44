import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dapr_helpers.testing import InMemoryStateStore, RecordingPublisher
from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.config import Settings
from delivery_app.main import build_app
from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService
from fastapi.testclient import TestClient

_order_ids = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)
ROUTE = "/events/pubsub/delivery-commands"


@pytest.fixture
def order_id() -> int:
    return next(_order_ids)


@pytest.fixture
def new_order_id() -> Callable[[], int]:
    return lambda: next(_order_ids)


@pytest.fixture
def store() -> InMemoryStateStore:
    return InMemoryStateStore()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(store: InMemoryStateStore, publisher: RecordingPublisher) -> TestClient:
    return TestClient(build_app(Settings(), store, publisher))


@pytest.fixture
def commands(store: InMemoryStateStore, publisher: RecordingPublisher) -> CommandService:
    repo = DeliveryRepository(store)
    return CommandService(repo, CourierService(repo, ["Courier 1"]), publisher, "order-replies")


def cloud_event(data: Any, topic: str = "delivery-commands") -> dict[str, Any]:
    """What the sidecar POSTs to the subscription route."""
    return {
        "id": str(uuid.uuid4()),
        "source": "order",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": data,
        "topic": topic,
        "pubsubname": "pubsub",
    }


@pytest.fixture
def send(client: TestClient) -> Callable[[Any], dict[str, Any]]:
    def post(data: Any) -> dict[str, Any]:
        resp = client.post(
            ROUTE, json=cloud_event(data), headers={"content-type": "application/cloudevents+json"}
        )
        assert resp.status_code == 200
        return resp.json()

    return post


@pytest.fixture
def slot() -> str:
    """A slot start no other test uses (the stores are per test anyway)."""
    hours = uuid.uuid4().int % 10**5
    return (datetime(2031, 1, 1, tzinfo=UTC) + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """create_app() configures the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dapr_helpers.testing import InMemoryStateStore, RecordingPublisher
from fastapi.testclient import TestClient
from stock_app.adapters.repository import StockRepository
from stock_app.config import Settings
from stock_app.main import build_app
from stock_app.service.commands import CommandService

_order_ids = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)
ROUTE = "/events/pubsub/stock-commands"


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
    return CommandService(StockRepository(store), publisher, "order-replies")


def cloud_event(data: Any, topic: str = "stock-commands") -> dict[str, Any]:
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
def product(client: TestClient) -> Callable[[int], int]:
    """Register a product with `quantity` units; its id."""

    def make(quantity: int) -> int:
        resp = client.post(
            "/stock/register", json={"description": f"item-{uuid.uuid4().hex[:6]}", "quantity": quantity}
        )
        assert resp.status_code == 201
        return resp.json()["id"]

    return make


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """create_app() configures the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from billing_app.adapters.repository import BillingRepository
from billing_app.config import Settings
from billing_app.main import build_app
from billing_app.service.commands import CommandService
from dapr_helpers.testing import InMemoryStateStore, RecordingPublisher
from fastapi.testclient import TestClient

_order_ids = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)
ROUTE = "/events/pubsub/billing-commands"


@pytest.fixture
def order_id() -> int:
    return next(_order_ids)


@pytest.fixture
def new_order_id() -> Callable[[], int]:
    return lambda: next(_order_ids)


@pytest.fixture
def login() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


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
    return CommandService(BillingRepository(store), publisher, "order-replies")


def cloud_event(data: Any, topic: str = "billing-commands") -> dict[str, Any]:
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
def funded(client: TestClient, login: str) -> Callable[[object], str]:
    def make(amount: object) -> str:
        assert client.post(f"/billing/register?login={login}").status_code == 201
        if amount:
            assert client.post("/billing/refill", json={"login": login, "amount": amount}).status_code == 200
        return login

    return make


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """create_app() configures the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.fixtures import command_sender
from stock_app.adapters.repository import StockRepository
from stock_app.config import Settings
from stock_app.main import build_app
from stock_app.service.commands import CommandService


@pytest.fixture
def client(store: InMemoryStateStore, publisher: RecordingPublisher) -> TestClient:
    return TestClient(build_app(Settings(), store, publisher))


@pytest.fixture
def commands(store: InMemoryStateStore, publisher: RecordingPublisher) -> CommandService:
    return CommandService(StockRepository(store), publisher, "order-replies")


@pytest.fixture
def send(client: TestClient) -> Callable[[Any], dict[str, Any]]:
    return command_sender(client, "stock-commands")


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

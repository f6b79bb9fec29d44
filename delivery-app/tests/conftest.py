import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dapr_helpers.fixtures import command_sender
from dapr_helpers.testing import InMemoryStateStore, RecordingPublisher
from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.config import Settings
from delivery_app.main import build_app
from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService
from fastapi.testclient import TestClient


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

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from billing_app.adapters.repository import BillingRepository
from billing_app.config import Settings
from billing_app.main import build_app
from billing_app.service.commands import CommandService
from fastapi.testclient import TestClient
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.fixtures import command_sender


@pytest.fixture
def login() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(store: InMemoryStateStore, publisher: RecordingPublisher) -> TestClient:
    return TestClient(build_app(Settings(), store, publisher))


@pytest.fixture
def commands(store: InMemoryStateStore, publisher: RecordingPublisher) -> CommandService:
    return CommandService(BillingRepository(store), publisher, "order-replies")


@pytest.fixture
def send(client: TestClient) -> Callable[[Any], dict[str, Any]]:
    return command_sender(client, "billing-commands")


@pytest.fixture
def funded(client: TestClient, login: str) -> Callable[[object], str]:
    def make(amount: object) -> str:
        assert client.post(f"/billing/register?login={login}").status_code == 201
        if amount:
            assert client.post("/billing/refill", json={"login": login, "amount": amount}).status_code == 200
        return login

    return make

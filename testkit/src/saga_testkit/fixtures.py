"""Pytest fixtures every service's tests share (a plugin of the root conftest.py)."""

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher

# Unique per run, so ids never collide with what another test left behind.
_order_ids = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)


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
def restore_logging() -> Iterator[None]:
    """create_app() configures the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def cloud_event(data: Any, topic: str) -> dict[str, Any]:
    """What a Dapr sidecar POSTs to a subscription route (components-contrib pubsub/envelope.go)."""
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


def command_sender(client: TestClient, topic: str) -> Callable[[Any], dict[str, Any]]:
    """Deliver `data` on `topic` to the app's default subscription route; the app's reply."""

    def post(data: Any) -> dict[str, Any]:
        resp = client.post(
            f"/events/pubsub/{topic}",
            json=cloud_event(data, topic),
            headers={"content-type": "application/cloudevents+json"},
        )
        assert resp.status_code == 200
        return resp.json()

    return post

"""A reply Dapr gave up delivering reaches the order app's dead-letter subscription."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .conftest import Api
from .polling import eventually
from .stack import Stack


def test_a_dead_lettered_reply_is_counted_and_listed(stack: Stack, api: Api) -> None:
    """Published as the subscriber's sidecar publishes a dead letter: to `order-replies-dead`."""
    order_id = 10**12 + uuid.uuid4().int % 10**9  # no such saga: the letter only has to arrive
    before = api.http.get("/orders/dead-letters").json()["count"]
    reply = {"order_id": order_id, "participant": "stock", "action": "reserve", "ok": True}
    r = httpx.post(f"{stack.sidecar_url('stock')}/v1.0/publish/pubsub/order-replies-dead", json=reply)
    assert r.status_code == 204, r.text

    def arrived() -> dict[str, Any] | None:
        dead: dict[str, Any] = api.http.get("/orders/dead-letters").json()
        return dead if any(e["reply"].get("order_id") == str(order_id) for e in dead["recent"]) else None

    dead = eventually(arrived, "the dead letter in /orders/dead-letters")
    assert dead["count"] >= before + 1  # other tests' late letters may land meanwhile

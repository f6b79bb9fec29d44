"""Participants away for longer than the step timeout, duplicated replies, poison messages.

A participant that comes back late still handles the commands queued for it
(a reserve or charge after its compensation, in either order): the audit shows
nothing left taken. A reply delivered twice changes nothing. A message that can
never be handled goes to its dead-letter topic and the other sagas go on.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from ..e2e.polling import eventually
from .conftest import Driver


def steps(driver: Driver, order_id: int) -> dict[str, str]:
    return {s["name"]: s["state"] for s in driver.http.get(f"/orders/{order_id}").json()["steps"]}


def test_courier_service_down_past_the_step_timeout_then_back(driver: Driver) -> None:
    login, product = driver.new_account(1_000), driver.new_product(100)
    driver.stack.kill_app("delivery")
    try:
        ids = [driver.place(login, product, 2, 10) for _ in range(4)]
        # The courier step times out (3 s here); its release goes out, unanswered for now.
        eventually(
            lambda: all(steps(driver, i)["reserve_courier"] in ("timed_out", "compensating") for i in ids),
            timeout=30,
            what="the courier step to time out",
        )
    finally:
        driver.stack.start_app("delivery")

    driver.wait_all_final(ids)
    for order_id in ids:
        order = driver.http.get(f"/orders/{order_id}").json()
        assert (order["status"], order["reason"]) == ("rejected", "step_timeout"), order
    # The late reserves were handled too (before or after their release): no slot is left booked.
    report = driver.audit()
    assert report.ok, str(report)


def test_a_compensation_unanswered_for_many_rounds_continues_as_new_then_ends(driver: Driver) -> None:
    # Stock is reserved, then the courier step times out with delivery away; its
    # release goes unanswered round after round (two per execution here), so the
    # saga continues as new, carrying its steps, until delivery is back.
    login, product = driver.new_account(1_000), driver.new_product(100)
    driver.stack.kill_app("delivery")
    try:
        order_id = driver.place(login, product, 1, 10)
        eventually(
            lambda: courier_step(driver, order_id).get("compensation_attempts", 0) >= 4,
            timeout=60,
            what="four rounds of the courier's release, in a second or third execution",
        )
    finally:
        driver.stack.start_app("delivery")

    driver.wait_all_final([order_id])
    order = driver.http.get(f"/orders/{order_id}").json()
    assert (order["status"], order["reason"]) == ("rejected", "step_timeout"), order
    assert {s["name"]: s["state"] for s in order["steps"]}["reserve_stock"] == "compensated"
    report = driver.audit()
    assert report.ok, str(report)


def courier_step(driver: Driver, order_id: int) -> dict[str, Any]:
    found = driver.http.get(f"/orders/{order_id}").json()["steps"]
    return next(s for s in found if s["name"] == "reserve_courier")


def test_billing_down_past_the_charge_timeout_then_back(driver: Driver) -> None:
    # Billing must answer the account check, so it goes down once the orders are placed.
    login, product = driver.new_account(1_000), driver.new_product(100)
    ids = driver.place_many([(login, product, 1, 10)] * 12)
    driver.stack.kill_app("billing")
    try:
        eventually(
            lambda: all(
                driver.statuses(ids)[i] != "pending"
                or steps(driver, i)["charge_payment"] in ("timed_out", "compensating")
                for i in ids
            ),
            timeout=30,
            what="the charges to time out",
        )
    finally:
        driver.stack.start_app("billing")

    driver.wait_all_final(ids)
    reasons = [driver.http.get(f"/orders/{i}").json()["reason"] for i in ids]
    assert "step_timeout" in reasons, f"every charge went through before billing was killed: {reasons}"
    # A late charge meets its refund (in either order): the money adds up.
    report = driver.audit()
    assert report.ok, str(report)


def deliver_reply(driver: Driver, reply: dict[str, Any], event_id: str) -> dict[str, Any]:
    """POST a reply to the order app's subscription exactly as its sidecar delivers one."""
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": reply["participant"],
        "type": "com.dapr.event.sent",
        "datacontenttype": "application/json",
        "data": reply,
        "topic": "order-replies",
        "pubsubname": "pubsub",
    }
    r = httpx.post(
        f"{driver.stack.app_url('order')}/events/pubsub/order-replies",
        json=envelope,
        headers={"content-type": "application/cloudevents+json"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_replies_delivered_twice_change_nothing(driver: Driver) -> None:
    login, product = driver.new_account(1_000), driver.new_product(100)
    driver.stack.kill_app("delivery")  # holds the saga at the courier step, after stock's reply
    try:
        order_id = driver.place(login, product, 1, 10)
        eventually(lambda: steps(driver, order_id)["reserve_stock"] != "requested", "stock's reply")
        # Stock's reply again: a broker redelivery (same event id) and a re-publication (new id).
        reply = {"order_id": order_id, "participant": "stock", "action": "reserve", "ok": True}
        event_id = str(uuid.uuid4())
        for eid in (event_id, event_id, str(uuid.uuid4())):
            assert deliver_reply(driver, reply, eid).get("status", "SUCCESS") == "SUCCESS"
    finally:
        driver.stack.start_app("delivery")

    order = driver.wait_final(order_id, timeout=60)
    # Completed, or rejected if delivery came back after the step timeout: both are consistent.
    assert order["status"] == "completed" or order["reason"] == "step_timeout", order
    # A reply for a finished saga, delivered again, is acknowledged and ignored.
    again = {"order_id": order_id, "participant": "delivery", "action": "reserve", "ok": True}
    assert deliver_reply(driver, again, str(uuid.uuid4())).get("status", "SUCCESS") == "SUCCESS"
    assert driver.wait_final(order_id) == order
    report = driver.audit()
    assert report.ok, str(report)


def publish(driver: Driver, topic: str, data: dict[str, Any]) -> None:
    """Publish through the order app's sidecar, as the orchestrator publishes its commands."""
    r = httpx.post(f"{driver.stack.sidecar_url('order')}/v1.0/publish/pubsub/{topic}", json=data, timeout=10)
    assert r.status_code == 204, r.text


def test_a_poison_message_is_dead_lettered_and_blocks_nothing(driver: Driver) -> None:
    tag = uuid.uuid4().hex
    # no handler can ever accept these: each is dropped to its dead-letter topic
    poison: dict[str, dict[str, Any]] = {
        "stock-commands": {"order_id": "not-a-number", "action": "reserve", "poison": tag},
        "billing-commands": {"action": "charge", "amount": "lots", "poison": tag},
        "delivery-commands": {"order_id": 1, "action": "teleport", "poison": tag},
        "order-replies": {"participant": "stock", "ok": "maybe", "poison": tag},
    }
    for topic, data in poison.items():
        driver.ledger.expect_dead_letter(f"{topic}-dead", {"poison": tag}, f"malformed {topic} injected")
        publish(driver, topic, data)
    ids = driver.place_mix(8)  # sagas right behind the poison on the same topics

    driver.wait_all_final(ids)
    eventually(
        lambda: (
            {
                e["deadletter_topic"]
                for e in driver.dead_letters()
                if (e.get("data") or {}).get("poison") == tag
            }
            == {f"{t}-dead" for t in poison}
        ),
        timeout=30,
        what="every poison message in its dead-letter topic",
    )
    outcomes = {o["status"] for o in map(driver.wait_final, ids)}
    assert "completed" in outcomes
    report = driver.audit()
    assert report.ok, str(report)

"""Each app's /metrics, read before and after a known mix of orders: the counters moved by
exactly what those orders did (2 completed, 1 short of money, 1 short of stock); and a
dead-lettered reply, counted once.

The stack is shared with the other tests, which run one at a time: the test waits
until the counters stand still, then compares deltas. Only `done` and `refused` are
exact for the participants: Dapr delivers at least once, so a redelivery may add a
`replayed`, and a compensation re-sent before its acknowledgement arrived adds one.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Api, future_slot
from .polling import eventually
from .stack import Stack

APPS = ("order", "billing", "stock", "delivery")
Key = tuple[str, str, tuple[tuple[str, str], ...]]  # app id, sample name, labels
Samples = dict[Key, float]


def scrape(stack: Stack) -> Samples:
    """Every `saga_*` sample of every app, by app, name and labels."""
    found: Samples = {}
    for app_id in APPS:
        r = httpx.get(f"{stack.app_url(app_id)}/metrics", timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        for family in text_string_to_metric_families(r.text):
            for s in family.samples:
                if s.name.startswith("saga_") and not s.name.endswith("_bucket"):
                    found[(app_id, s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def settled(stack: Stack, timeout: float = 20) -> Samples:
    """The counters once two reads a second apart agree (an earlier test's saga may still run)."""
    deadline = time.monotonic() + timeout
    last = scrape(stack)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = scrape(stack)
        if now == last:
            return now
        last = now
    raise AssertionError("the counters never stood still")


def delta(before: Samples, after: Samples, app_id: str, name: str, **labels: str) -> float:
    key = (app_id, name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def commands(before: Samples, after: Samples, result: str) -> dict[tuple[str, str], float]:
    """(participant, action) -> how many commands ended with `result`, where any did."""
    moved: dict[tuple[str, str], float] = {}
    for (app_id, name, labels), value in after.items():
        fields = dict(labels)
        if name == "saga_commands_total" and fields["result"] == result and app_id != "order":
            assert fields["participant"] == app_id, "each participant counts only its own"
            if change := value - before.get((app_id, name, labels), 0.0):
                moved[(fields["participant"], fields["action"])] = change
    return moved


SLOTS_OF_THIS_TEST = 30_000  # hours ahead; future_slot() draws from 400 to 20,400


def test_the_counters_tell_exactly_what_a_known_mix_of_orders_did(stack: Stack, api: Api) -> None:
    rich, poor = api.new_account(1000), api.new_account(5)
    plenty, scarce = api.new_product(100), api.new_product(1)
    before = settled(stack)

    # Slots beyond future_slot()'s random range: a slot another test booked would reject
    # an order that must complete (seen once in a full run: no_courier_available).
    slots = [future_slot(SLOTS_OF_THIS_TEST + i) for i in range(4)]
    placed = [
        api.create_order(rich, plenty, 1, 10, slots[0]),
        api.create_order(rich, plenty, 2, 20, slots[1]),
        api.create_order(poor, plenty, 1, 50, slots[2]),  # 5 in the account
        api.create_order(rich, scarce, 3, 10, slots[3]),  # 1 unit in stock
    ]
    assert all(r.status_code == 201 for r in placed), [r.text for r in placed]
    outcomes = [api.wait_final(r.json()["id"]) for r in placed]
    assert [(o["status"], o["reason"]) for o in outcomes] == [
        ("completed", None),
        ("completed", None),
        ("rejected", "insufficient_funds"),
        ("rejected", "insufficient_stock"),
    ]
    assert api.balance(rich) == Decimal(970) and api.available(scarce) == 1
    after = settled(stack)

    def order(name: str, **labels: str) -> float:
        return delta(before, after, "order", name, **labels)

    assert order("saga_started_total") == 4
    assert order("saga_finished_total", status="completed", reason="none") == 2
    assert order("saga_finished_total", status="rejected", reason="insufficient_funds") == 1
    assert order("saga_finished_total", status="rejected", reason="insufficient_stock") == 1
    finished = {k for k in after if k[1] == "saga_finished_total" and after[k] != before.get(k)}
    assert len(finished) == 3, finished  # and no other status or reason
    assert order("saga_duration_seconds_count", status="completed") == 2
    assert order("saga_duration_seconds_count", status="rejected") == 2

    answered = {
        ("reserve_stock", "succeeded"): 3,
        ("reserve_stock", "refused"): 1,
        ("reserve_courier", "succeeded"): 4,
        ("charge_payment", "succeeded"): 2,
        ("charge_payment", "refused"): 1,
    }
    steps = {
        (dict(k[2])["step"], dict(k[2])["outcome"]): after[k] - before.get(k, 0.0)
        for k in after
        if k[1] == "saga_step_duration_seconds_count" and after[k] != before.get(k, 0.0)
    }
    assert steps == answered
    # At least one release per step to undo; a re-send if an acknowledgement came late.
    assert order("saga_compensations_sent_total", step="reserve_stock") >= 1  # the poor order's
    assert order("saga_compensations_sent_total", step="reserve_courier") >= 2  # both rejected ones'
    assert order("saga_compensations_sent_total", step="charge_payment") == 0  # refused: nothing to undo

    assert commands(before, after, "done") == {
        ("stock", "reserve"): 3,
        ("stock", "release"): 1,
        ("delivery", "reserve"): 4,
        ("delivery", "release"): 2,
        ("billing", "charge"): 2,
    }
    assert commands(before, after, "refused") == {("stock", "reserve"): 1, ("billing", "charge"): 1}
    assert commands(before, after, "malformed") == {}
    assert commands(before, after, "failed") == {}


def test_a_dead_lettered_reply_is_counted_once_by_its_participant(stack: Stack) -> None:
    before = settled(stack)
    reply = {"order_id": 10**12 + uuid.uuid4().int % 10**9, "participant": "stock", "action": "release"}
    r = httpx.post(f"{stack.sidecar_url('stock')}/v1.0/publish/pubsub/order-replies-dead", json=reply)
    assert r.status_code == 204, r.text

    eventually(
        lambda: delta(before, scrape(stack), "order", "saga_dead_letters_total", participant="stock"),
        "the dead letter counted",
    )
    after = settled(stack)
    assert delta(before, after, "order", "saga_dead_letters_total", participant="stock") == 1
    assert delta(before, after, "order", "saga_dead_letters_total", participant="unknown") == 0

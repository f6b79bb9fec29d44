"""A saga whose workflow state daprd lost is replaced, and its order still ends final.

The full gate once left an order pending for good on daprd 1.18.2: its sidecar
logged `inbox key 'inbox-000000' declared in metadata (inboxLength=2) but missing
from state store` at every load, so no event, timer, terminate or purge could
reach it (docs/outages.md says how daprd gets there). Here the same loss is made
on purpose: one of a running saga's stored history rows is deleted while its
sidecar is down, so the restarted sidecar cannot load it. The order app must
notice, at the next reply or else at its sweep of quiet pending orders, start a
replacement from the order record, and finish the order with nothing left
reserved, booked or charged.
"""

from __future__ import annotations

import time

import httpx

from ..e2e.polling import eventually
from ..e2e.stack import DaprStack
from .conftest import Driver
from .test_crashes import real_dapr_only
from .test_messages import steps

ORDER_DB, ORDER_TABLE = "order", "order_state"  # components/order-store.yaml


def lose_saga_state(driver: Driver, order_id: int) -> None:
    """Make daprd lose a saga's state as it can by itself: its metadata names a history
    row the store no longer holds. The sidecar is down meanwhile, so no cache hides it."""
    stack = driver.stack
    assert isinstance(stack, DaprStack)
    stack.kill_sidecar("order")
    key = f"%||order-{order_id}||history-000001"
    deleted = stack.sql(ORDER_DB, f"DELETE FROM {ORDER_TABLE} WHERE key LIKE '{key}' RETURNING key")
    assert deleted.strip(), "no history row to delete: the store's layout changed"
    stack.start_sidecar("order")


def assert_replaced_and_undone(driver: Driver, order_id: int) -> None:
    order = driver.http.get(f"/orders/{order_id}").json()
    # Both reservations were sent, and their replies lost with the state: both undone.
    assert (order["status"], order["reason"]) == ("rejected", "step_timeout"), order
    assert {s["name"]: s["state"] for s in order["steps"]} == {
        "reserve_stock": "compensated",
        "reserve_courier": "compensated",
        "charge_payment": "not_started",
    }, order
    # The lost saga is still lost, and the replacement is the one that finished.
    workflows = f"{driver.stack.sidecar_url('order')}/v1.0/workflows/dapr"
    lost = httpx.get(f"{workflows}/order-{order_id}", timeout=30)
    assert lost.status_code == 500 and "missing from state store" in lost.text, lost.text
    # It ends a moment after the activity that recorded the outcome.
    replacement = f"{workflows}/order-{order_id}-r1"
    eventually(
        lambda: httpx.get(replacement, timeout=30).json()["runtimeStatus"] == "COMPLETED", "its end", 10
    )
    # The console's workflow link shows the replacement, not the lost one.
    shown = driver.http.get(f"/console/api/orders/{order_id}/workflow").json()
    assert (shown["instanceID"], shown["runtimeStatus"]) == (f"order-{order_id}-r1", "COMPLETED"), shown
    report = driver.audit()
    assert report.ok, str(report)


def test_a_reply_that_meets_a_lost_saga_replaces_it(driver: Driver) -> None:
    real_dapr_only(driver)
    login, product = driver.new_account(1_000), driver.new_product(100)
    driver.stack.kill_app("delivery")  # the courier's reply comes only after the loss, and meets it
    try:
        order_id = driver.place(login, product, 1, 10)
        eventually(lambda: steps(driver, order_id)["reserve_courier"] == "requested", "the courier's request")
        lose_saga_state(driver, order_id)
    finally:
        driver.stack.start_app("delivery")
    driver.wait_all_final([order_id], timeout=90)
    assert_replaced_and_undone(driver, order_id)


def test_a_lost_saga_no_reply_will_reach_is_found_by_the_sweep(driver: Driver) -> None:
    real_dapr_only(driver)
    login, product = driver.new_account(1_000), driver.new_product(100)
    driver.stack.kill_app("delivery")
    try:
        order_id = driver.place(login, product, 1, 10)
        eventually(lambda: steps(driver, order_id)["reserve_courier"] == "requested", "the courier's request")
        time.sleep(1)  # stock's reply, sent at once, is in the history: no reply is left to come
        lose_saga_state(driver, order_id)
        # The replacement sends both releases; the courier's waits for the courier service.
        eventually(lambda: steps(driver, order_id)["reserve_courier"] == "compensating", "a replacement", 60)
    finally:
        driver.stack.start_app("delivery")
    driver.wait_all_final([order_id], timeout=90)
    assert_replaced_and_undone(driver, order_id)

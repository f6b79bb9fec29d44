"""A participant that does not answer in time: the step times out and everything is undone."""

from __future__ import annotations

from decimal import Decimal

from .conftest import Api, future_slot
from .stack import Stack


def test_silent_participant_times_out_and_the_order_is_compensated(api: Api, stack: Stack) -> None:
    login = api.new_account(100)
    product = api.new_product(10)
    stack.kill_app("delivery")
    try:
        created = api.create_order(login, product, 2, 5, future_slot())
        assert created.status_code == 201, created.text
        order_id = created.json()["id"]
        # The courier step times out (3 s in this stack); compensation of the
        # courier reservation waits for delivery to come back and acknowledge.
        pending = api.http.get(f"/orders/{order_id}", params={"wait": 5}).json()
        assert pending["status"] == "pending"
    finally:
        stack.start_app("delivery")

    order = api.wait_final(order_id, timeout=60)

    assert order["status"] == "rejected"
    assert order["reason"] == "step_timeout"
    assert api.available(product) == 10
    assert api.balance(login) == Decimal(100)
    assert api.bookings({order_id}) == []

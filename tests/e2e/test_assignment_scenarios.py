"""The assignment's four scenarios, each checking balance, stock and bookings before and after."""

from __future__ import annotations

from decimal import Decimal

from .conftest import Api, future_slot


def test_successful_order_charges_reserves_and_books(api: Api) -> None:
    login = api.new_account(1000)
    product = api.new_product(100)
    slot = future_slot()

    created = api.create_order(login, product, 1, 1, slot)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    order = api.wait_final(created.json()["id"])

    assert order["status"] == "completed", order
    assert api.balance(login) == Decimal("999")
    assert api.available(product) == 99
    assert [b["id_order"] for b in api.bookings({order["id"]})] == [order["id"]]
    assert api.http.get("/orders/last").status_code == 200


def test_order_with_too_little_money_is_rejected_and_undone(api: Api) -> None:
    login = api.new_account(1000)
    product = api.new_product(100)
    slot = future_slot()

    order = api.wait_final(api.create_order(login, product, 1, 10000, slot).json()["id"])

    assert order["status"] == "rejected"
    assert order["reason"] == "insufficient_funds"
    assert api.balance(login) == Decimal("1000")
    assert api.available(product) == 100
    assert api.bookings({order["id"]}) == []


def test_order_for_more_units_than_exist_is_rejected_and_undone(api: Api) -> None:
    login = api.new_account(1000)
    product = api.new_product(100)

    order = api.wait_final(api.create_order(login, product, 1000, 1, future_slot()).json()["id"])

    assert order["status"] == "rejected"
    assert order["reason"] == "insufficient_stock"
    assert api.balance(login) == Decimal("1000")
    assert api.available(product) == 100
    assert api.bookings({order["id"]}) == []


def test_order_for_a_fully_booked_slot_is_rejected_and_undone(api: Api) -> None:
    login = api.new_account(1000)
    product = api.new_product(100)
    slot = future_slot()
    first = api.wait_final(api.create_order(login, product, 1, 1, slot).json()["id"])
    assert first["status"] == "completed", first

    order = api.wait_final(api.create_order(login, product, 1, 1, slot).json()["id"])

    assert order["status"] == "rejected"
    assert order["reason"] == "no_courier_available"
    assert api.balance(login) == Decimal("999")
    assert api.available(product) == 99
    assert api.bookings({order["id"]}) == []

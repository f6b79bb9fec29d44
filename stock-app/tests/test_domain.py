import pytest
from stock_app.domain.errors import InsufficientStock, InvalidQuantity
from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation


def test_reservation_and_release_keep_available_plus_reserved_equal_to_registered_plus_restocked():
    p = Product.register(1, "apple", 10)
    first, second = OrderReservation(100), OrderReservation(101)
    assert first.reserve(p, 1, 3).ok
    p.restock(5)
    assert second.reserve(p, 1, 12).ok
    assert (p.available, p.reserved) == (0, 15)
    assert p.balanced
    assert first.release(p).details == {"released": 3}
    assert first.release(p).details == {"released": 0}  # the record holds nothing any more
    assert (p.available, p.reserved, first.held, second.held) == (3, 12, 0, 12)
    assert p.balanced


def test_refuses_reserving_more_than_available_and_changes_nothing():
    p = Product.register(1, "apple", 2)
    with pytest.raises(InsufficientStock):
        p.reserve(3)
    assert (p.available, p.reserved) == (2, 0)


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_refuses_non_positive_reserve_release_and_restock(quantity):
    p = Product.register(1, "apple", 2)
    for change in (p.reserve, p.release, p.restock):
        with pytest.raises(InvalidQuantity):
            change(quantity)
    assert p == Product.register(1, "apple", 2)


def test_refuses_releasing_more_than_is_reserved_rather_than_going_negative():
    p = Product.register(1, "apple", 5)
    p.reserve(2)
    with pytest.raises(InvalidQuantity):
        p.release(3)
    assert (p.available, p.reserved) == (3, 2)


def test_refuses_negative_registered_quantity():
    with pytest.raises(InvalidQuantity):
        Product.register(1, "apple", -1)


def test_refuses_reserve_after_release():
    p = Product.register(1, "apple", 5)
    order = OrderReservation(7)
    assert order.release(None).ok
    assert order.status == "cancelled"
    late = order.reserve(p, 1, 2)
    assert (late.ok, late.reason) == (False, "order_cancelled")
    assert (p.available, order.held) == (5, 0)


def test_release_after_reserve_gives_units_back():
    p = Product.register(1, "apple", 5)
    order = OrderReservation(8)
    assert order.reserve(p, 1, 2).ok
    assert order.held == 2
    outcome = order.release(p)
    assert outcome.details == {"released": 2}
    assert (p.available, p.reserved, order.status, order.held) == (5, 0, "released", 0)


def test_reserve_of_unknown_product_is_refused_with_a_reason():
    order = OrderReservation(9)
    outcome = order.reserve(None, 42, 1)
    assert (outcome.ok, outcome.reason, order.held) == (False, "unknown_product", 0)


def test_a_refused_reserve_holds_nothing():
    p = Product.register(1, "apple", 1)
    order = OrderReservation(10)
    assert not order.reserve(p, 1, 2).ok
    assert (order.status, order.held, p.reserved) == ("refused", 0, 0)

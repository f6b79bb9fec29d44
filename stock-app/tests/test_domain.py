import pytest
from stock_app.domain.errors import InsufficientStock, InvalidQuantity
from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation


def _balanced(p: Product) -> bool:
    return p.available + p.reserved == p.registered + p.restocked and p.available >= 0


def test_reservation_and_release_keep_available_plus_reserved_equal_to_registered_plus_restocked():
    p = Product.register(1, "apple", 10)
    p.reserve(100, 3)
    p.restock(5)
    p.reserve(101, 12)
    assert (p.available, p.reserved) == (0, 15)
    assert _balanced(p)
    assert p.release(100) == 3
    assert p.release(100) == 0
    assert (p.available, p.reserved) == (3, 12)
    assert _balanced(p)


def test_refuses_reserving_more_than_available_and_changes_nothing():
    p = Product.register(1, "apple", 2)
    with pytest.raises(InsufficientStock):
        p.reserve(100, 3)
    assert (p.available, p.reservations) == (2, {})


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_refuses_non_positive_reserve_and_restock(quantity):
    p = Product.register(1, "apple", 2)
    with pytest.raises(InvalidQuantity):
        p.reserve(100, quantity)
    with pytest.raises(InvalidQuantity):
        p.restock(quantity)


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
    assert p.available == 5


def test_release_after_reserve_gives_units_back():
    p = Product.register(1, "apple", 5)
    order = OrderReservation(8)
    assert order.reserve(p, 1, 2).ok
    outcome = order.release(p)
    assert outcome.details == {"released": 2}
    assert (p.available, order.status) == (5, "released")


def test_reserve_of_unknown_product_is_refused_with_a_reason():
    outcome = OrderReservation(9).reserve(None, 42, 1)
    assert (outcome.ok, outcome.reason) == (False, "unknown_product")

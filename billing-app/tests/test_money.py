from decimal import Decimal

import pytest
from billing_app.domain.errors import InvalidAmount
from billing_app.domain.money import money, positive_money


def test_money_is_exact_with_two_fraction_digits():
    assert money("12.5") == Decimal("12.50")
    assert money(0.1) + money(0.2) == Decimal("0.30")
    assert money(1000) == Decimal("1000.00")


@pytest.mark.parametrize("value", ["12.345", "abc", "NaN", "Infinity", 0.001])
def test_refuses_amounts_finer_than_a_cent_or_not_numbers(value):
    with pytest.raises(InvalidAmount):
        money(value)


@pytest.mark.parametrize("value", [0, -1, "-0.01"])
def test_positive_money_refuses_zero_and_negative(value):
    with pytest.raises(InvalidAmount):
        positive_money(value)

from decimal import Decimal

import pytest
from billing_app.domain.account import Account
from billing_app.domain.errors import InsufficientFunds, InvalidAmount
from billing_app.domain.payment import OrderPayment

AT = "2030-01-01T00:00:00Z"


def test_charge_takes_money_and_records_the_order():
    account = Account("ann", Decimal("10.00"))
    account.charge(7, Decimal("2.50"), AT)
    assert account.balance == Decimal("7.50")
    assert account.history[-1].order_id == 7


def test_refuses_charge_beyond_balance_and_changes_nothing():
    account = Account("ann", Decimal("1.00"))
    with pytest.raises(InsufficientFunds):
        account.charge(7, Decimal("1.01"), AT)
    assert account.balance == Decimal("1.00")
    assert account.history == []


def test_refuses_refund_of_an_order_never_charged():
    with pytest.raises(InvalidAmount):
        Account("ann", Decimal("1.00")).refund(7, Decimal("1.00"), AT)


def test_refund_gives_back_exactly_what_the_charge_took():
    account = Account("ann", Decimal("5.00"))
    payment = OrderPayment(8)
    assert payment.charge(account, "ann", Decimal("3.33"), AT).ok
    outcome = payment.refund(account, AT)
    assert outcome.ok and outcome.details == {"refunded": "3.33"}
    assert account.balance == Decimal("5.00")
    assert payment.status == "refunded"


def test_refund_without_charge_leaves_a_tombstone_that_refuses_the_late_charge():
    account = Account("ann", Decimal("5.00"))
    payment = OrderPayment(9)
    assert payment.refund(None, AT).ok
    assert payment.status == "cancelled"
    late = payment.charge(account, "ann", Decimal("1.00"), AT)
    assert (late.ok, late.reason) == (False, "order_cancelled")
    assert account.balance == Decimal("5.00")


def test_charge_of_unknown_account_is_refused_with_a_reason():
    outcome = OrderPayment(10).charge(None, "ghost", Decimal("1.00"), AT)
    assert (outcome.ok, outcome.reason) == (False, "unknown_account")


def test_refund_after_refused_charge_refunds_nothing():
    account = Account("ann", Decimal("0.50"))
    payment = OrderPayment(11)
    assert payment.charge(account, "ann", Decimal("1.00"), AT).reason == "insufficient_funds"
    assert payment.refund(account, AT).details == {"refunded": "0.00"}
    assert account.balance == Decimal("0.50")

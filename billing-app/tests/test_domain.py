from decimal import Decimal

import pytest
from billing_app.domain.account import Account, Entry
from billing_app.domain.errors import InsufficientFunds, InvalidAmount
from billing_app.domain.payment import OrderPayment

AT = "2030-01-01T00:00:00Z"


def test_charge_takes_money_and_records_the_order():
    account = Account("ann", Decimal("10.00"), refilled=Decimal("10.00"))
    entry = account.charge(7, Decimal("2.50"), AT)
    assert account.balance == Decimal("7.50")
    assert entry == Entry("charge", Decimal("2.50"), 7, AT)
    assert account.pending == [entry]  # for the listing, with the account's next write
    assert account.adds_up()


def test_refuses_charge_beyond_balance_and_changes_nothing():
    account = Account("ann", Decimal("1.00"))
    with pytest.raises(InsufficientFunds):
        account.charge(7, Decimal("1.01"), AT)
    assert account.balance == Decimal("1.00")
    assert (account.charged, account.pending) == (Decimal(0), [])


def test_refund_of_an_order_never_charged_gives_nothing_back():
    """The order's payment record decides; the account keeps no history to scan."""
    account = Account("ann", Decimal("1.00"), refilled=Decimal("1.00"))
    payment = OrderPayment(7, login="ann")
    assert payment.refund(account, AT).details == {"refunded": "0.00"}
    assert (account.balance, account.pending, payment.status) == (Decimal("1.00"), [], "cancelled")


@pytest.mark.parametrize("amount", [0, "-1", "0.001"])
def test_refuses_refills_that_are_not_positive_cents(amount):
    account = Account("ann")
    with pytest.raises(InvalidAmount):
        account.refill(amount)
    assert account == Account("ann")


def test_every_movement_keeps_the_balance_equal_to_its_totals():
    account = Account("ann")
    account.refill(Decimal("10.00"))
    payments = [OrderPayment(n) for n in range(4)]
    for payment in payments:
        payment.charge(account, "ann", Decimal("3.00"), AT)  # the fourth is refused
    payments[1].refund(account, AT)
    payments[1].refund(account, AT)  # twice: nothing more
    payments[3].refund(account, AT)  # was refused: nothing
    assert [p.status for p in payments] == ["charged", "refunded", "charged", "refused"]
    assert (account.balance, account.refilled, account.charged, account.refunded) == (
        Decimal("4.00"),
        Decimal("10.00"),
        Decimal("9.00"),
        Decimal("3.00"),
    )
    assert account.adds_up()
    assert [(e.kind, e.order_id) for e in account.pending] == [
        ("charge", 0),
        ("charge", 1),
        ("charge", 2),
        ("refund", 1),
    ]


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

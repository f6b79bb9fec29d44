"""Money is an exact Decimal with at most two fraction digits."""

from decimal import Decimal, InvalidOperation

from billing_app.domain.errors import InvalidAmount

CENT = Decimal("0.01")


def money(value: object) -> Decimal:
    """Parse a number or numeric string; refuse anything finer than a cent (no silent rounding)."""
    try:
        # str() first: Decimal(0.1) would carry the float's binary error.
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite amount")
    if amount != amount.quantize(CENT):
        raise InvalidAmount(f"{value!r} has more than two fraction digits")
    return amount.quantize(CENT)


def positive_money(value: object) -> Decimal:
    amount = money(value)
    if amount <= 0:
        raise InvalidAmount(f"amount must be positive, got {amount}")
    return amount

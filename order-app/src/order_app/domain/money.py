"""Money is a Decimal with at most two fraction digits, never a float."""

from decimal import Decimal, InvalidOperation

from order_app.domain.errors import InvalidAmount

CENT = Decimal("0.01")
# Billing takes amounts of at most 14 digits (12 before the point): anything larger would
# be a saga doomed to time out, and quantizing it can overflow Decimal's context.
MAX_AMOUNT = Decimal("999999999999.99")


def parse_amount(value: object) -> Decimal:
    """A positive amount with at most 2 fraction digits, from a JSON number or a string.

    Floats go through `str` so `12.1` stays 12.1 rather than its binary approximation.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidAmount("amount must be a decimal number such as 12.50")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidAmount(f"amount {value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise InvalidAmount("amount must be a finite number")
    if amount <= 0:
        raise InvalidAmount("amount must be greater than 0")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"amount must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(CENT):
        raise InvalidAmount("amount may have at most 2 fraction digits")
    return amount.quantize(CENT)

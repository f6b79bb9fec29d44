"""Public request and response bodies; field names follow the assignment's client."""

from decimal import Decimal
from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

# Checked as sent, as the order app does (no stripping: the class has no whitespace).
# ASCII on purpose, the same class as the order app's: Python's `\w` also takes "ù",
# which the published JSON Schema (ECMA regex, ASCII `\w`) and the order app refuse,
# so such an account could never place an order.
Login = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+$"),
]
# At most two fraction digits, never rounded silently; JSON numbers on the way out.
AmountIn = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]


class RegisterRequest(BaseModel):
    login: Login


class RefillRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"login": "Edmond90", "amount": 1000}})

    login: Login
    # The assignment's client sends the amount added as `balance`.
    amount: AmountIn = Field(validation_alias=AliasChoices("amount", "balance"))


class AccountOut(BaseModel):
    login: str
    balance: MoneyOut


class PaymentOut(BaseModel):
    kind: str
    amount: MoneyOut
    order_id: int
    at: str


class OrderPaymentOut(BaseModel):
    order_id: int
    status: str
    login: str | None
    amount: MoneyOut | None

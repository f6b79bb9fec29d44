"""Public request and response shapes, with the assignment's field names first.

Requests accept `e_mail`/`email`, `id_product`/`product_id`, `quntity`/`quantity`;
responses use the names of the assignment's sample run (`e_mail`, `id_product`, `quantity`).
"""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from dapr_helpers.fields import Integer
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from order_app.domain import (
    InvalidEmail,
    Order,
    OrderRequest,
    OrderStatus,
    RejectionReason,
    StepRecord,
    parse_amount,
    parse_dtime,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Money goes out as a JSON number (api.md); two fraction digits survive a float.
JsonMoney = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class CreateOrder(BaseModel):
    model_config = ConfigDict(extra="ignore")

    login: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+$")
    email: str = Field(validation_alias=AliasChoices("e_mail", "email"), max_length=254)
    product_id: Integer = Field(gt=0, validation_alias=AliasChoices("id_product", "product_id"))
    quantity: Integer = Field(gt=0, le=1_000_000, validation_alias=AliasChoices("quntity", "quantity"))
    amount: Decimal = Field(description="decimal > 0 with at most 2 fraction digits, e.g. 12.50")
    dtime: datetime = Field(description='"2030-01-08 10:00:00" or ISO 8601; naive means UTC; future')

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise InvalidEmail(f"{value!r} is not an e-mail address")
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return parse_amount(value)

    @field_validator("dtime", mode="before")
    @classmethod
    def _dtime(cls, value: Any) -> datetime:
        return parse_dtime(value)

    def to_domain(self) -> OrderRequest:
        return OrderRequest(**self.model_dump())


class OrderOut(BaseModel):
    id: int
    login: str
    e_mail: str
    id_product: int
    quantity: int
    amount: JsonMoney
    dtime: datetime
    status: OrderStatus
    reason: RejectionReason | None
    message: str
    steps: list[StepRecord]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: Order) -> "OrderOut":
        return cls(
            **order.model_dump(exclude={"email", "product_id", "steps"}),
            e_mail=order.email,
            id_product=order.product_id,
            steps=list(order.steps),
        )


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int

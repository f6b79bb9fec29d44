"""Public request and response bodies; field names follow the assignment's client."""

from decimal import Decimal
from typing import Annotated

from dapr_helpers.fields import Integer, NotBlank
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation

Description = Annotated[str, StringConstraints(min_length=1, max_length=500), NotBlank]
PriceIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]
MAX_UNITS = 1_000_000_000
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"description": "apple", "quantity": 100}})

    description: Description
    # `quntity` is the assignment's spelling.
    quantity: Integer = Field(ge=0, le=MAX_UNITS, validation_alias=AliasChoices("quantity", "quntity"))
    price: PriceIn | None = None


class RestockRequest(BaseModel):
    quantity: Integer = Field(gt=0, le=MAX_UNITS, validation_alias=AliasChoices("quantity", "quntity"))


class ProductOut(BaseModel):
    id: int
    description: str
    quantity: int = Field(description="units available")
    reserved: int
    registered: int
    restocked: int
    price: MoneyOut | None = None

    @classmethod
    def of(cls, p: Product) -> "ProductOut":
        return cls(
            id=p.id,
            description=p.description,
            quantity=p.available,
            reserved=p.reserved,
            registered=p.registered,
            restocked=p.restocked,
            price=p.price,
        )


class ReservationOut(BaseModel):
    order_id: int
    quantity: int = Field(description="units the order holds now: 0 once released")
    status: str = Field(description="`reserved` (holds its units) or `released` (gave them back)")
    reserved: int = Field(description="units the order's reserve took")

    @classmethod
    def of(cls, r: OrderReservation) -> "ReservationOut":
        return cls(order_id=r.order_id, quantity=r.held, status=r.status, reserved=r.quantity or 0)


class OrderReservationOut(BaseModel):
    order_id: int
    status: str
    product_id: int | None
    quantity: int | None

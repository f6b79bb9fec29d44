"""The saga contract on `billing-commands` / `order-replies` (docs/messaging.md)."""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PARTICIPANT = "billing"


class _Command(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: int
    attempt: int = 1


class ChargeCommand(_Command):
    action: Literal["charge"]
    login: Annotated[str, Field(min_length=1)]
    amount: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]


class RefundCommand(_Command):
    action: Literal["refund"]


Command = Annotated[ChargeCommand | RefundCommand, Field(discriminator="action")]
parse_command = TypeAdapter(Command).validate_python


class Reply(BaseModel):
    order_id: int
    participant: Literal["billing"] = PARTICIPANT
    action: Literal["charge", "refund"]
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = {}

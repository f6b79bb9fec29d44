"""The saga contract on `delivery-commands` / `order-replies` (docs/messaging.md)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter

PARTICIPANT = "delivery"


class _Command(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: int
    attempt: int = 1


class ReserveCommand(_Command):
    action: Literal["reserve"]
    # ISO 8601, UTC on the hour; a naive time is taken as UTC, a time inside the hour means its slot.
    slot_start: datetime = Field(validation_alias=AliasChoices("slot_start", "dtime"))


class ReleaseCommand(_Command):
    action: Literal["release"]


Command = Annotated[ReserveCommand | ReleaseCommand, Field(discriminator="action")]
parse_command = TypeAdapter(Command).validate_python


class Reply(BaseModel):
    order_id: int
    participant: Literal["delivery"] = PARTICIPANT
    action: Literal["reserve", "release"]
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = {}

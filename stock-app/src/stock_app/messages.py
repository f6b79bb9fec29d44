"""The saga contract on `stock-commands` / `order-replies` (docs/messaging.md)."""

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter

PARTICIPANT = "stock"


class _Command(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: int
    attempt: int = 1


class ReserveCommand(_Command):
    action: Literal["reserve"]
    product_id: int = Field(validation_alias=AliasChoices("product_id", "id_product"))
    quantity: int = Field(gt=0, validation_alias=AliasChoices("quantity", "quntity"))


class ReleaseCommand(_Command):
    action: Literal["release"]


Command = Annotated[ReserveCommand | ReleaseCommand, Field(discriminator="action")]
parse_command = TypeAdapter(Command).validate_python


class Reply(BaseModel):
    order_id: int
    participant: Literal["stock"] = PARTICIPANT
    action: Literal["reserve", "release"]
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = {}

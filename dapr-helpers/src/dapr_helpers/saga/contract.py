"""The saga's messages, as docs/messaging.md defines them: one contract for the
orchestrator (order-app) and the participants (stock, delivery, billing).

A step's command (reserve, charge) is sent by service invocation to the participant's
`COMMANDS_METHOD`, which answers it with its `Reply` at once. A compensation (release,
refund) goes to `{participant}-commands`, and its `Reply` comes back on `order-replies`,
which the orchestrator raises on the saga as the workflow event `{participant}.{action}`.
Every participant takes any of its commands both ways. The commands serialize (`model_dump(mode="json")`)
to exactly the JSON the orchestrator has always sent: `order_id`, `action`, `attempt`, then
the action's own fields.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

REPLIES_TOPIC = "order-replies"
# The method each participant serves for Dapr service invocation: a command's JSON in, its `Reply` out.
COMMANDS_METHOD = "saga/commands"
CENT = Decimal("0.01")


def commands_topic(participant: str) -> str:
    return f"{participant}-commands"


def event_name(participant: str, action: str) -> str:
    """The workflow external event a reply to `{participant}.{action}` becomes."""
    return f"{participant}.{action}"


class SagaCommand(BaseModel):
    """The fields every command carries; `attempt` counts the orchestrator's re-sends."""

    model_config = ConfigDict(extra="ignore")

    order_id: int
    action: str
    attempt: int = 1


# -- stock: `stock-commands` ---------------------------------------------------------


class ReserveStock(SagaCommand):
    action: Literal["reserve"] = "reserve"
    product_id: int = Field(validation_alias=AliasChoices("product_id", "id_product"))
    quantity: int = Field(gt=0, validation_alias=AliasChoices("quantity", "quntity"))


class ReleaseStock(SagaCommand):
    """Releases whatever `reserve` took for this order."""

    action: Literal["release"] = "release"


StockCommand = Annotated[ReserveStock | ReleaseStock, Field(discriminator="action")]

# -- delivery: `delivery-commands` ---------------------------------------------------

# ISO 8601 on the wire (`datetime.isoformat`, so UTC is `+00:00`).
IsoDatetime = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]


class ReserveCourier(SagaCommand):
    action: Literal["reserve"] = "reserve"
    # ISO 8601, UTC on the hour; a naive time is taken as UTC, a time inside the hour means its slot.
    slot_start: IsoDatetime = Field(validation_alias=AliasChoices("slot_start", "dtime"))


class ReleaseCourier(SagaCommand):
    action: Literal["release"] = "release"


DeliveryCommand = Annotated[ReserveCourier | ReleaseCourier, Field(discriminator="action")]

# -- billing: `billing-commands` -----------------------------------------------------


def _amount(amount: Decimal) -> str:
    """A decimal as a string with two fraction digits (`"12.50"`), so no participant parses a float."""
    return str(amount.quantize(CENT))


Amount = Annotated[
    Decimal,
    Field(gt=0, max_digits=14, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(_amount, return_type=str, when_used="json"),
]


class ChargePayment(SagaCommand):
    action: Literal["charge"] = "charge"
    login: Annotated[str, Field(min_length=1)]
    amount: Amount


class RefundPayment(SagaCommand):
    """Refunds whatever `charge` took for this order."""

    action: Literal["refund"] = "refund"


BillingCommand = Annotated[ChargePayment | RefundPayment, Field(discriminator="action")]

# -- replies: `order-replies` --------------------------------------------------------


class Reply(BaseModel):
    """A participant's answer to one command. `reason`, when `ok` is false, is a stable code."""

    order_id: int
    participant: str
    action: str
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Participant:
    """One participant's part of the contract: its name, the action that does its step,
    the one that undoes it, and the parser of what arrives on its topic (raises
    `ValidationError` on anything that is not one of its commands)."""

    name: str
    do: str
    undo: str
    parse: Callable[[Any], SagaCommand]

    @property
    def topic(self) -> str:
        return commands_topic(self.name)


STOCK = Participant("stock", "reserve", "release", TypeAdapter(StockCommand).validate_python)
DELIVERY = Participant("delivery", "reserve", "release", TypeAdapter(DeliveryCommand).validate_python)
BILLING = Participant("billing", "charge", "refund", TypeAdapter(BillingCommand).validate_python)

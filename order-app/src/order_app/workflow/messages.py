"""The saga's messages, as docs/messaging.md defines them, and the workflow's input.

Each step of the saga is one participant's action and the action that undoes it;
`STEPS` is that table. A reply to `{participant}.{action}` arrives as the
workflow external event of the same name.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from order_app.domain import OrderStatus, RejectionReason, StepName, StepRecord, format_amount


@dataclass(frozen=True)
class StepSpec:
    participant: str
    action: str
    compensation: str

    @property
    def topic(self) -> str:
        return f"{self.participant}-commands"

    @property
    def reply_event(self) -> str:
        return event_name(self.participant, self.action)

    @property
    def compensation_event(self) -> str:
        return event_name(self.participant, self.compensation)


STEPS: dict[StepName, StepSpec] = {
    StepName.RESERVE_STOCK: StepSpec("stock", "reserve", compensation="release"),
    StepName.RESERVE_COURIER: StepSpec("delivery", "reserve", compensation="release"),
    StepName.CHARGE_PAYMENT: StepSpec("billing", "charge", compensation="refund"),
}


def event_name(participant: str, action: str) -> str:
    return f"{participant}.{action}"


# The name the saga's workflow is registered and started under; stored with every instance.
SAGA_WORKFLOW = "order_saga"


def instance_id(order_id: int) -> str:
    return f"order-{order_id}"


class Reply(BaseModel):
    """A participant's answer on `order-replies`."""

    order_id: int
    participant: str
    action: str
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class Command(BaseModel):
    """A command on `{participant}-commands`: the common fields plus the action's own."""

    topic: str
    body: dict[str, Any]
    undoes: bool = False  # a compensation: it must go out even if the order record is gone


class SagaTimeouts(BaseModel):
    """Part of the workflow input, so a replay sees the timeouts the saga started with."""

    step: timedelta
    compensation_first: timedelta
    compensation_max: timedelta
    compensation_rounds_per_run: int = 10  # then the saga continues as new

    def compensation_wait(self, attempt: int) -> timedelta:
        """Bounded exponential backoff: first, 2x first, 4x first, ... up to the cap."""
        doublings = min(attempt - 1, 32)  # past the cap anyway; keeps timedelta from overflowing
        return min(self.compensation_first * 2**doublings, self.compensation_max)


class Outcome(BaseModel):
    status: OrderStatus
    reason: RejectionReason | None = None
    message: str


class Resume(BaseModel):
    """Where a saga stands when it continues as new: in a long compensation, or
    with its outcome decided but not yet recorded (the store stayed away)."""

    steps: tuple[StepRecord, ...]
    attempt: int
    outcome: Outcome | None = None


class SagaInput(BaseModel):
    order_id: int
    login: str
    product_id: int
    quantity: int
    amount: Decimal
    slot_start: datetime
    timeouts: SagaTimeouts
    resume: Resume | None = None  # set only when a compensation continues as new

    def command(self, step: StepName, attempt: int = 1) -> Command:
        spec = STEPS[step]
        fields = {
            StepName.RESERVE_STOCK: {"product_id": self.product_id, "quantity": self.quantity},
            StepName.RESERVE_COURIER: {"slot_start": self.slot_start.isoformat()},
            StepName.CHARGE_PAYMENT: {"login": self.login, "amount": format_amount(self.amount)},
        }[step]
        body = {"order_id": self.order_id, "action": spec.action, "attempt": attempt, **fields}
        return Command(topic=spec.topic, body=body)

    def compensation(self, step: StepName, attempt: int) -> Command:
        spec = STEPS[step]
        body = {"order_id": self.order_id, "action": spec.compensation, "attempt": attempt}
        return Command(topic=spec.topic, body=body, undoes=True)


class SagaSnapshot(BaseModel):
    """What the saga knows at one moment, written to the order record by an activity,
    with the commands it sends once that is saved."""

    order_id: int
    at: datetime
    steps: tuple[StepRecord, ...]
    outcome: Outcome | None = None
    commands: tuple[Command, ...] = ()

"""The saga's messages, as docs/messaging.md defines them, and the workflow's input.

Each step of the saga is one participant's action and the action that undoes it;
`STEPS` is that table. A step's command is asked of its participant by service
invocation, and its `Answer` is the activity's result; a compensation is
published, and its acknowledgement arrives as the workflow external event
`{participant}.{action}`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from dapr_helpers.saga.contract import (
    BILLING,
    DELIVERY,
    STOCK,
    ChargePayment,
    RefundPayment,
    ReleaseCourier,
    ReleaseStock,
    Reply,
    ReserveCourier,
    ReserveStock,
    SagaCommand,
    commands_topic,
    event_name,
)
from pydantic import BaseModel

from order_app.domain import OrderStatus, RejectionReason, StepName, StepRecord, StepState


class Compensation(Protocol):
    """A compensation's command class: built from the order id and the attempt alone."""

    def __call__(self, *, order_id: int, attempt: int) -> SagaCommand: ...


@dataclass(frozen=True)
class StepSpec:
    participant: str
    action: str
    compensation: str
    undo: Compensation  # the compensation's command

    @property
    def topic(self) -> str:
        return commands_topic(self.participant)

    @property
    def compensation_event(self) -> str:
        return event_name(self.participant, self.compensation)


STEPS: dict[StepName, StepSpec] = {
    StepName.RESERVE_STOCK: StepSpec(STOCK.name, STOCK.do, STOCK.undo, ReleaseStock),
    StepName.RESERVE_COURIER: StepSpec(DELIVERY.name, DELIVERY.do, DELIVERY.undo, ReleaseCourier),
    StepName.CHARGE_PAYMENT: StepSpec(BILLING.name, BILLING.do, BILLING.undo, RefundPayment),
}


# The name the saga's workflow is registered and started under; stored with every instance.
SAGA_WORKFLOW = "order_saga"


def instance_id(order_id: int, generation: int = 0) -> str:
    """`order-{id}`; a saga that replaced one whose engine state was lost (see
    `order_app.service.recovery`) is `order-{id}-r{generation}`."""
    return f"order-{order_id}" if generation == 0 else f"order-{order_id}-r{generation}"


class Command(BaseModel):
    """A command to `participant` (`body`: one of `dapr_helpers.saga.contract`'s commands,
    as JSON), as the saga's activity input: invoked, or published on `topic`."""

    participant: str
    body: dict[str, Any]
    undoes: bool = False  # a compensation: it must go out even if the order record is gone

    @property
    def topic(self) -> str:
        return commands_topic(self.participant)


class Answer(BaseModel):
    """What became of an invoked command: the participant's reply, or why there is none
    (no answer by the deadline, or a refusal to read it)."""

    reply: Reply | None = None
    error: str = ""

    @property
    def granted(self) -> bool:
        return self.reply is not None and self.reply.ok


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


class Answers(BaseModel):
    """The activity's result: each request's answer, in the order asked, and the outcome
    in the order record that the saga must follow, if any: the snapshot's `if_granted`,
    recorded with the answers, or a completion found instead of sending compensations
    (an earlier run of the pivot's activity recorded it, and its answer was lost)."""

    answers: tuple[Answer, ...] = ()
    outcome: Outcome | None = None

    @classmethod
    def of(cls, result: Any) -> "Answers":
        """Read an activity's result; a plain list is what the activity returned before
        `outcome` existed, and a saga started then still replays it."""
        return cls(answers=result) if isinstance(result, list) else cls.model_validate(result or {})


class Resume(BaseModel):
    """Where a saga stands when it continues as new: in a long compensation, or
    with its outcome decided but not yet recorded (the store stayed away)."""

    steps: tuple[StepRecord, ...]
    attempt: int
    outcome: Outcome | None = None

    @classmethod
    def after_lost_state(cls, steps: tuple[StepRecord, ...], at: datetime) -> "Resume | None":
        """Where a replacement saga starts, from the order record alone: None (from the
        beginning) if nothing was requested yet. A step still awaiting its reply counts
        as timed out, since that reply may have been lost with the old saga's state,
        and is compensated like any timed-out step."""
        if all(step.state is StepState.NOT_STARTED for step in steps):
            return None
        lost = "its reply was lost with the saga's workflow state; compensated"
        return cls(
            steps=tuple(s.time_out(at, lost) if s.state is StepState.REQUESTED else s for s in steps),
            attempt=max(step.compensation_attempts for step in steps) + 1,
        )


class SagaInput(BaseModel):
    order_id: int
    login: str
    product_id: int
    quantity: int
    amount: Decimal
    slot_start: datetime
    timeouts: SagaTimeouts
    resume: Resume | None = None  # set only when a compensation continues as new
    # The W3C context of the request that placed the order: each activity's span continues
    # it, so the saga is one trace. Optional: sagas started before it was added have none.
    traceparent: str | None = None
    generation: int = 0  # which instance of the order's saga this is (`instance_id`)

    @property
    def instance_id(self) -> str:
        return instance_id(self.order_id, self.generation)

    def command(self, step: StepName, attempt: int = 1) -> Command:
        order_id = self.order_id
        message: SagaCommand
        if step is StepName.RESERVE_STOCK:
            message = ReserveStock(
                order_id=order_id, attempt=attempt, product_id=self.product_id, quantity=self.quantity
            )
        elif step is StepName.RESERVE_COURIER:
            message = ReserveCourier(order_id=order_id, attempt=attempt, slot_start=self.slot_start)
        else:
            message = ChargePayment(order_id=order_id, attempt=attempt, login=self.login, amount=self.amount)
        return Command(participant=STEPS[step].participant, body=message.model_dump(mode="json"))

    def compensation(self, step: StepName, attempt: int) -> Command:
        spec = STEPS[step]
        message = spec.undo(order_id=self.order_id, attempt=attempt)
        return Command(participant=spec.participant, body=message.model_dump(mode="json"), undoes=True)


class SagaSnapshot(BaseModel):
    """What the saga knows at one moment, written to the order record by an activity,
    with what it sends once that is saved: `requests` are invoked and answered within
    `answer_within`; `commands` (compensations) are published. If every request is
    granted, `if_granted` is the outcome the activity records at once (the pivot's)."""

    order_id: int
    at: datetime
    steps: tuple[StepRecord, ...]
    outcome: Outcome | None = None
    requests: tuple[Command, ...] = ()
    answer_within: timedelta = timedelta(seconds=30)
    commands: tuple[Command, ...] = ()
    if_granted: Outcome | None = None
    traceparent: str | None = None  # the saga's (`SagaInput.traceparent`)

    def granted(self, at: datetime) -> "SagaSnapshot":
        """This snapshot once every request is granted at `at`: the requested steps have
        succeeded, and `if_granted` is the outcome."""
        assert self.if_granted is not None
        steps = tuple(s.succeed(at) if s.state is StepState.REQUESTED else s for s in self.steps)
        return self.model_copy(
            update={"at": at, "steps": steps, "outcome": self.if_granted, "requests": (), "if_granted": None}
        )

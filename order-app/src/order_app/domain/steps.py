"""The saga's steps as the order shows them: what was done, and what was undone.

A step moves forward only:

    not_started -> requested -> succeeded | refused | timed_out
    succeeded | timed_out -> compensating -> compensated

A timed-out step is compensated like a succeeded one: its command was
published and may still take effect (Dapr has no activity timeout).
A refused step took nothing, and the participant keeps that refusal as the
outcome of (order, action), so it needs no compensation.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from order_app.domain.errors import InvalidTransition


class StepName(StrEnum):
    RESERVE_STOCK = "reserve_stock"
    RESERVE_COURIER = "reserve_courier"
    CHARGE_PAYMENT = "charge_payment"


class StepState(StrEnum):
    NOT_STARTED = "not_started"
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"


# How far along a step is; the three answers are equally far.
_PROGRESS = {
    StepState.NOT_STARTED: 0,
    StepState.REQUESTED: 1,
    StepState.SUCCEEDED: 2,
    StepState.REFUSED: 2,
    StepState.TIMED_OUT: 2,
    StepState.COMPENSATING: 3,
    StepState.COMPENSATED: 4,
}


class StepRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: StepName
    state: StepState = StepState.NOT_STARTED
    requested_at: datetime | None = None
    answered_at: datetime | None = None
    reason: str | None = None
    message: str | None = None
    compensation_attempts: int = 0
    compensation_requested_at: datetime | None = None
    compensated_at: datetime | None = None

    @property
    def needs_compensation(self) -> bool:
        return self.state in (StepState.SUCCEEDED, StepState.TIMED_OUT, StepState.COMPENSATING)

    def is_behind(self, other: "StepRecord") -> bool:
        """Less far along than `other`, a later record of the same step."""
        return (_PROGRESS[self.state], self.compensation_attempts) < (
            _PROGRESS[other.state],
            other.compensation_attempts,
        )

    def request(self, at: datetime) -> "StepRecord":
        self._expect(StepState.NOT_STARTED)
        return self._to(StepState.REQUESTED, requested_at=at)

    def succeed(self, at: datetime) -> "StepRecord":
        self._expect(StepState.REQUESTED)
        return self._to(StepState.SUCCEEDED, answered_at=at)

    def refuse(self, at: datetime, reason: str, message: str) -> "StepRecord":
        self._expect(StepState.REQUESTED)
        return self._to(StepState.REFUSED, answered_at=at, reason=reason, message=message)

    def time_out(self, at: datetime, message: str) -> "StepRecord":
        self._expect(StepState.REQUESTED)
        return self._to(StepState.TIMED_OUT, answered_at=at, reason="step_timeout", message=message)

    def compensation_sent(self, at: datetime) -> "StepRecord":
        """Each (re-)send of the compensating command counts one attempt."""
        if not self.needs_compensation:
            raise InvalidTransition(f"step {self.name} in state {self.state} needs no compensation")
        first = self.compensation_requested_at or at
        return self._to(
            StepState.COMPENSATING,
            compensation_attempts=self.compensation_attempts + 1,
            compensation_requested_at=first,
        )

    def compensate(self, at: datetime) -> "StepRecord":
        self._expect(StepState.COMPENSATING)
        return self._to(StepState.COMPENSATED, compensated_at=at)

    def _expect(self, state: StepState) -> None:
        if self.state is not state:
            raise InvalidTransition(f"step {self.name} is {self.state}, expected {state}")

    def _to(self, state: StepState, **changes: object) -> "StepRecord":
        return self.model_copy(update={"state": state, **changes})

"""An order, its outcome and the saga steps that led there.

pending -> completed | rejected      (final states never change)
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from order_app.domain.errors import InvalidTransition
from order_app.domain.steps import StepName, StepRecord


class OrderStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INSUFFICIENT_STOCK = "insufficient_stock"
    NO_COURIER_AVAILABLE = "no_courier_available"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_PRODUCT = "unknown_product"
    STEP_TIMEOUT = "step_timeout"
    ORDER_CANCELLED = "order_cancelled"
    STEP_FAILED = "step_failed"  # a participant refused with a code this service does not know


class OrderRequest(BaseModel):
    """What a customer asks for, validated; the same request always has the same fingerprint."""

    model_config = ConfigDict(frozen=True)

    login: str
    email: str
    product_id: int
    quantity: int
    amount: Decimal
    dtime: datetime

    def fingerprint(self) -> str:
        return self.model_dump_json()


def initial_steps() -> tuple[StepRecord, ...]:
    return tuple(StepRecord(name=name) for name in StepName)


class Order(OrderRequest):
    id: int
    status: OrderStatus = OrderStatus.PENDING
    reason: RejectionReason | None = None
    message: str = "The order is being processed."
    steps: tuple[StepRecord, ...] = initial_steps()
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(cls, order_id: int, request: OrderRequest, at: datetime) -> "Order":
        return cls(id=order_id, created_at=at, updated_at=at, **request.model_dump())

    @property
    def is_final(self) -> bool:
        return self.status is not OrderStatus.PENDING

    def record_steps(self, steps: tuple[StepRecord, ...], at: datetime) -> "Order":
        """The saga's progress while it runs; a finished order keeps its final steps, and
        a record never moves a step back (a late write of an activity run that the saga
        has already moved past, which would otherwise undo what came after it)."""
        if self.is_final or self._would_go_back(steps):
            return self
        return self.model_copy(update={"steps": steps, "updated_at": at})

    def _would_go_back(self, steps: tuple[StepRecord, ...]) -> bool:
        now = {step.name: step for step in self.steps}
        return any(step.is_behind(now[step.name]) for step in steps if step.name in now)

    def complete(self, steps: tuple[StepRecord, ...], at: datetime) -> "Order":
        return self._finish(OrderStatus.COMPLETED, None, "The order is completed.", steps, at)

    def reject(
        self, reason: RejectionReason, message: str, steps: tuple[StepRecord, ...], at: datetime
    ) -> "Order":
        return self._finish(OrderStatus.REJECTED, reason, message, steps, at)

    def _finish(
        self,
        status: OrderStatus,
        reason: RejectionReason | None,
        message: str,
        steps: tuple[StepRecord, ...],
        at: datetime,
    ) -> "Order":
        if self.is_final:
            if (self.status, self.reason) == (status, reason):
                return self  # the same outcome delivered twice (activities run at least once)
            raise InvalidTransition(f"order {self.id} is already {self.status}")
        if self._would_go_back(steps):  # decided on steps the saga has since moved past
            raise InvalidTransition(f"order {self.id} has moved past these steps")
        update = {"status": status, "reason": reason, "message": message, "steps": steps, "updated_at": at}
        return self.model_copy(update=update)

"""An order as the console shows it: a summary row, and its saga as a timeline.

Every time comes from the order's record (the saga's own timestamps), never
from when the console happened to read it.
"""

from datetime import datetime
from typing import Any

from order_app.domain import Order, OrderStatus
from order_app.domain.steps import StepRecord, StepState

ANSWERS = {
    StepState.SUCCEEDED: "ok",
    StepState.REFUSED: "refused",
    StepState.TIMED_OUT: "timed out",
}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def compensating(order: Order) -> bool:
    """A step's compensation was sent and not yet acknowledged."""
    return any(s.state is StepState.COMPENSATING for s in order.steps)


def summary(order: Order) -> dict[str, Any]:
    """One row of the orders table; `duration_seconds` is the saga's, once it finished."""
    return {
        "id": order.id,
        "status": order.status.value,
        "reason": order.reason.value if order.reason else None,
        "message": order.message,
        "amount": str(order.amount),
        "login": order.login,
        "product_id": order.product_id,
        "quantity": order.quantity,
        "slot": order.dtime.isoformat(),
        "created_at": _at(order.created_at),
        "updated_at": _at(order.updated_at),
        "duration_seconds": _seconds(order.created_at, order.updated_at) if order.is_final else None,
        "compensating": compensating(order),
    }


def step_events(step: StepRecord) -> list[dict[str, Any]]:
    """What happened to one step, in order: requested, answered, compensation sent, acknowledged."""
    events: list[dict[str, Any]] = []
    if step.requested_at is not None:
        events.append({"event": "requested", "at": _at(step.requested_at)})
    answer = ANSWERS.get(step.state)
    if answer is None and step.answered_at is not None:
        # compensating or compensated: it was answered ok, or timed out (reason says which)
        answer = "timed out" if step.reason == "step_timeout" else "ok"
    if answer is not None:
        events.append(
            {
                "event": "answered",
                "answer": answer,
                "at": _at(step.answered_at),
                "after_seconds": _seconds(step.requested_at, step.answered_at),
                "reason": step.reason,
                "message": step.message,
            }
        )
    if step.compensation_requested_at is not None:
        events.append(
            {
                "event": "compensation_sent",
                "at": _at(step.compensation_requested_at),
                "attempts": step.compensation_attempts,
            }
        )
    if step.compensated_at is not None:
        events.append(
            {
                "event": "compensation_acknowledged",
                "at": _at(step.compensated_at),
                "after_seconds": _seconds(step.compensation_requested_at, step.compensated_at),
                "attempts": step.compensation_attempts,
            }
        )
    return events


def timeline(order: Order, workflow_url: str) -> dict[str, Any]:
    """The order with each step's events; `workflow_url` is the console's view of its Dapr workflow."""
    return {
        **summary(order),
        "final": order.status is not OrderStatus.PENDING,
        "workflow_url": workflow_url,
        "steps": [
            {
                "name": step.name.value,
                "state": step.state.value,
                "compensation_attempts": step.compensation_attempts,
                "events": step_events(step),
            }
            for step in order.steps
        ],
    }

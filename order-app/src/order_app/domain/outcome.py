"""Why a saga's order was rejected, and how to say it to a human."""

from collections.abc import Iterable

from order_app.domain.order import RejectionReason
from order_app.domain.steps import StepRecord, StepState

_UNDONE = {
    "reserve_stock": "stock reservation released",
    "reserve_courier": "courier booking released",
    "charge_payment": "payment refunded",
}


def rejection(steps: Iterable[StepRecord]) -> tuple[RejectionReason, str]:
    """The first refusal explains a rejection best; otherwise a step went unanswered."""
    steps = tuple(steps)
    refused = [s for s in steps if s.state is StepState.REFUSED]
    culprit = refused[0] if refused else next(s for s in steps if s.reason == "step_timeout")
    reason = _reason(culprit.reason)
    undone = [_UNDONE[s.name] for s in steps if s.state is StepState.COMPENSATED]
    message = f"Rejected: {culprit.message or reason}."
    if undone:
        message += f" Undone: {', '.join(undone)}."
    return reason, message


def _reason(code: str | None) -> RejectionReason:
    try:
        return RejectionReason(code)  # type: ignore[arg-type]  # None: ValueError, as for an unknown code
    except ValueError:
        return RejectionReason.STEP_FAILED

"""The order saga's Prometheus metrics, read off the order record as it changes.

The saga's activity runs at least once and writes a full snapshot, so counting in
the workflow would count a re-run twice. Instead `observe_change` compares the
record the write read with the one it wrote: a re-run writes nothing new, so it
counts nothing. Steps answered, compensations sent and the outcome are all
visible in that difference (`StepRecord` keeps the times and attempts).

Module-level series in the default registry, served by `dapr_helpers.metrics`
(whose docstring says why); labels only take values from the domain's enums.
"""

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram

from order_app.domain import Order, StepRecord, StepState
from order_app.workflow.messages import STEPS

# Steps answer in milliseconds on a healthy system; a step timeout is seconds to minutes.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# A saga: three steps, or those and the compensations' rounds (which may wait minutes).
SAGA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

STARTED = Counter("saga_started", "Order sagas started (an idempotent replay starts none).")
FINISHED = Counter(
    "saga_finished",
    "Order sagas finished, by status and rejection reason (`none` for a completed one).",
    ["status", "reason"],
)
STEP_DURATION = Histogram(
    "saga_step_duration_seconds",
    "From a step's command to its answer (succeeded, refused, or timed_out).",
    ["step", "outcome"],
    buckets=STEP_BUCKETS,
)
SAGA_DURATION = Histogram(
    "saga_duration_seconds",
    "From an order's creation to its saga's recorded outcome, by status.",
    ["status"],
    buckets=SAGA_BUCKETS,
)
COMPENSATIONS = Counter(
    "saga_compensations_sent",
    "Compensating commands sent (each round's re-send counts), by the step they undo.",
    ["step"],
)
DEAD_LETTERS = Counter(
    "saga_dead_letters",
    "Replies dead-lettered (order-replies-dead), by the participant they claim to come from.",
    ["participant"],
)

PARTICIPANTS = frozenset(spec.participant for spec in STEPS.values())


class ObservedChange:
    """A change of the order record that remembers what it read and made, for `observe`.

    `OrderRepository.update` re-runs the change on a conflict: the last call is the
    write that went through.
    """

    def __init__(self, change: Callable[[Order], Order]) -> None:
        self.change = change
        self.seen: tuple[Order, Order] | None = None

    def __call__(self, before: Order) -> Order:
        after = self.change(before)
        self.seen = (before, after)
        return after

    def observe(self) -> None:
        if self.seen is not None:
            observe_change(*self.seen)


def saga_started() -> None:
    STARTED.inc()


def observe_change(before: Order, after: Order) -> None:
    """Count what one write of the order record changed (nothing, if it changed nothing)."""
    old = {step.name: step for step in before.steps}
    for step in after.steps:
        _observe_step(old.get(step.name, StepRecord(name=step.name)), step)
    if after.is_final and not before.is_final:
        reason = after.reason.value if after.reason is not None else "none"
        FINISHED.labels(after.status.value, reason).inc()
        seconds = (after.updated_at - after.created_at).total_seconds()
        SAGA_DURATION.labels(after.status.value).observe(max(seconds, 0.0))


def _observe_step(before: StepRecord, after: StepRecord) -> None:
    # A step may be answered and already compensating in the same write (no write between).
    if before.answered_at is None and after.answered_at is not None and after.requested_at is not None:
        seconds = (after.answered_at - after.requested_at).total_seconds()
        STEP_DURATION.labels(after.name.value, step_outcome(after)).observe(max(seconds, 0.0))
    if (sent := after.compensation_attempts - before.compensation_attempts) > 0:
        COMPENSATIONS.labels(after.name.value).inc(sent)


def step_outcome(step: StepRecord) -> str:
    """How an answered step was answered, even once it is compensating or compensated."""
    if step.state is StepState.REFUSED:
        return StepState.REFUSED.value
    if step.reason == "step_timeout":  # set by `StepRecord.time_out` only; a refusal never compensates
        return StepState.TIMED_OUT.value
    return StepState.SUCCEEDED.value


def dead_letter(data: Any) -> None:
    """One new dead-lettered reply; a participant name outside the saga's counts as `unknown`."""
    participant = data.get("participant") if isinstance(data, dict) else None
    known = isinstance(participant, str) and participant in PARTICIPANTS
    DEAD_LETTERS.labels(participant if known else "unknown").inc()

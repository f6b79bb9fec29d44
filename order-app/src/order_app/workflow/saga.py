"""The order saga, orchestrated by a Dapr Workflow (instance id `order-{order_id}`).

    1. reserve stock  ┐ in parallel: both commands go out, then both replies are
       reserve courier┘ awaited, each raced against its own durable timer
    2. charge payment   the pivot, only once stock and courier are both secured
    3. completed, or compensate every step that was started (release stock,
       release courier, refund) until each is acknowledged, then rejected

Commands leave through the `publish_command` activity; replies come back as
external events named `{participant}.{action}` (raised by the `order-replies`
subscription). Dapr has no activity timeout and cannot recall a published
command, so a step that timed out is compensated like one that succeeded;
participants keep tombstones, so a late command meets its compensation.

Compensations cannot fail for good: each is re-sent, with a growing but bounded
wait (`SagaTimeouts.compensation_wait`), until its acknowledgement arrives.

The order record lives in the order store, written only by the
`record_saga` activity: the saga holds the steps in memory (rebuilt on
replay) and saves a full snapshot at each phase. A full snapshot makes the
write idempotent, so an activity that runs twice is harmless, and the API
reads orders from one place without asking the workflow engine.

Determinism: time only from `ctx.current_utc_datetime`, all I/O in activities,
timeouts from the workflow input, logs only when `not ctx.is_replaying`.
"""

import contextlib
import logging
from collections.abc import Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, TaskFailedError, when_all, when_any

from order_app.domain import OrderStatus, StepName, StepRecord, StepState, rejection
from order_app.workflow.messages import STEPS, Command, Outcome, Reply, SagaInput, SagaSnapshot

PUBLISH_COMMAND = "publish_command"
RECORD_SAGA = "record_saga"

# Transient failures (sidecar or broker briefly away) are retried; business
# failures are raised as NonRetryableError by the activities and never are.
# `max_retry_interval` is set on purpose: without it some SDKs never retry (python-sdk#836).
PUBLISHING = RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=30),
    max_number_of_attempts=8,
)
RECORDING = RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=60),
    max_number_of_attempts=20,
)

RESERVATIONS = (StepName.RESERVE_STOCK, StepName.RESERVE_COURIER)
PIVOT = StepName.CHARGE_PAYMENT

log = logging.getLogger(__name__)

Steps = dict[StepName, StepRecord]
Yields = Generator[Any, Any, None]  # a part of the saga, run with `yield from`


def order_saga(ctx: DaprWorkflowContext, order: SagaInput) -> Generator[Any, Any, dict[str, Any]]:
    steps: Steps = {name: StepRecord(name=name) for name in StepName}

    # 1. Reserve stock and a courier slot in parallel.
    ctx.set_custom_status("reserving")
    yield from request(ctx, order, steps, RESERVATIONS)
    yield from await_replies(ctx, order, steps, RESERVATIONS)

    # 2. The pivot: take the money only once everything it pays for is secured.
    if all(steps[name].state is StepState.SUCCEEDED for name in RESERVATIONS):
        ctx.set_custom_status("charging")
        yield from request(ctx, order, steps, [PIVOT])
        yield from await_replies(ctx, order, steps, [PIVOT])

    # 3. Completed, or undo whatever was started, then say why.
    if all(step.state is StepState.SUCCEEDED for step in steps.values()):
        outcome = Outcome(status=OrderStatus.COMPLETED, message="The order is completed.")
    else:
        ctx.set_custom_status("compensating")
        yield from compensate(ctx, order, steps)
        reason, message = rejection(steps.values())
        outcome = Outcome(status=OrderStatus.REJECTED, reason=reason, message=message)

    yield from record(ctx, order, steps, outcome)
    ctx.set_custom_status(outcome.status)
    _log(ctx, order, "saga finished: %s %s", outcome.status, outcome.reason or "")
    return outcome.model_dump(mode="json")


def request(ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, names: Iterable[StepName]) -> Yields:
    """Record the steps as requested, then publish their commands."""
    names = list(names)
    for name in names:
        steps[name] = steps[name].request(now(ctx))
    yield from record(ctx, order, steps)
    failures = yield from publish_all(ctx, {name: order.command(name) for name in names})
    for name in names:
        if (err := failures.get(name)) is None:
            _log(ctx, order, "%s requested", name)
        else:
            # It may still have gone out before the failure: unanswered, so compensated.
            steps[name] = steps[name].time_out(now(ctx), f"command not sent: {err}")
            _log(ctx, order, "%s could not be requested: %s", name, err, level=logging.WARNING)


def publish_all(
    ctx: DaprWorkflowContext, commands: dict[StepName, Command]
) -> Generator[Any, Any, dict[StepName, TaskFailedError]]:
    """Publish the commands in parallel; returns the ones that could not be sent, with why.

    `when_all` stops at the first failure, so any command still in flight then is
    awaited on its own: every command ends sent or failed before the saga goes on.
    """
    tasks = {
        name: ctx.call_activity(PUBLISH_COMMAND, input=command, retry_policy=PUBLISHING)
        for name, command in commands.items()
    }
    with contextlib.suppress(TaskFailedError):
        yield when_all(list(tasks.values()))
    failures: dict[StepName, TaskFailedError] = {}
    for name, task in tasks.items():
        try:
            if not task.is_complete:
                yield task
            elif task.is_failed:
                raise task.get_exception()
        except TaskFailedError as err:
            failures[name] = err
    return failures


def await_replies(
    ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, names: Iterable[StepName]
) -> Yields:
    """Wait for each requested step's reply, or its durable timer, whichever comes first."""
    replies = {
        name: ctx.wait_for_external_event(STEPS[name].reply_event)
        for name in names
        if steps[name].state is StepState.REQUESTED
    }
    # Each wait gets its own timer (a task belongs to one pending when_any); all start now.
    timers = {name: ctx.create_timer(order.timeouts.step) for name in replies}
    races = {name: when_any([reply, timers[name]]) for name, reply in replies.items()}
    yield when_all(list(races.values()))

    for name, race in races.items():
        at = now(ctx)
        if race.get_result() is not replies[name]:
            steps[name] = steps[name].time_out(at, f"{STEPS[name].participant} did not reply in time")
        elif (reply := Reply.model_validate(replies[name].get_result())).ok:
            steps[name] = steps[name].succeed(at)
        else:
            steps[name] = steps[name].refuse(at, reply.reason or "step_failed", reply.message)
        _log(ctx, order, "%s %s", name, steps[name].state)


def compensate(ctx: DaprWorkflowContext, order: SagaInput, steps: Steps) -> Yields:
    """Undo every step that may have taken effect; re-send each until it is acknowledged.

    One wait per compensation lives across re-sends: a timed-out waiter that
    was replaced would swallow the late acknowledgement meant for its successor.
    """
    acks = {
        name: ctx.wait_for_external_event(STEPS[name].compensation_event)
        for name, step in steps.items()
        if step.needs_compensation
    }
    attempt = 1
    while acks:
        for name in acks:
            steps[name] = steps[name].compensation_sent(now(ctx))
        yield from record(ctx, order, steps)
        failures = yield from publish_all(ctx, {name: order.compensation(name, attempt) for name in acks})
        for name, err in failures.items():  # not sent this round; the next round re-sends it
            _log(ctx, order, "%s compensation not sent: %s", name, err, level=logging.WARNING)

        wait = order.timeouts.compensation_wait(attempt)
        races = {name: when_any([ack, ctx.create_timer(wait)]) for name, ack in acks.items()}
        yield when_all(list(races.values()))

        for name, race in races.items():
            if race.get_result() is not acks[name]:
                _log(ctx, order, "%s compensation unacknowledged after %s; re-sending", name, wait)
            elif Reply.model_validate(acks[name].get_result()).ok:
                steps[name] = steps[name].compensate(now(ctx))
                del acks[name]
                _log(ctx, order, "%s compensated", name)
            else:  # the contract says compensations always succeed: keep asking
                acks[name] = ctx.wait_for_external_event(STEPS[name].compensation_event)
                _log(ctx, order, "%s compensation refused; re-sending", name, level=logging.ERROR)
        attempt += 1


def record(
    ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, outcome: Outcome | None = None
) -> Yields:
    """Save the saga's progress (and its outcome, once known) to the order record."""
    snapshot = SagaSnapshot(
        order_id=order.order_id, at=now(ctx), steps=tuple(steps.values()), outcome=outcome
    )
    yield ctx.call_activity(RECORD_SAGA, input=snapshot, retry_policy=RECORDING)


def now(ctx: DaprWorkflowContext) -> datetime:
    """The workflow's deterministic clock, as an aware UTC time (the SDK hands out naive UTC)."""
    return ctx.current_utc_datetime.replace(tzinfo=UTC)


def _log(
    ctx: DaprWorkflowContext, order: SagaInput, msg: str, *args: object, level: int = logging.INFO
) -> None:
    if not ctx.is_replaying:
        log.log(level, msg, *args, extra={"order_id": order.order_id})

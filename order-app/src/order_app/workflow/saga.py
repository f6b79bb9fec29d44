"""The order saga, orchestrated by a Dapr Workflow (instance id `order-{order_id}`).

    1. reserve stock  ┐ in parallel: both commands go out, then both replies are
       reserve courier┘ awaited, each with its own timeout (a durable timer)
    2. charge payment   the pivot, only once stock and courier are both secured
    3. completed, or compensate every step that was started (release stock,
       release courier, refund) until each is acknowledged, then rejected

The saga touches the world through one activity, `record_and_send`: it saves a
full snapshot of the steps (at the end, with the outcome) to the order record,
then publishes the commands that snapshot requested. One activity per phase
rather than one per write keeps a successful saga to three activities and
about seven workflow turns. A full snapshot makes the write idempotent, so an
activity that runs twice is harmless (the commands it sends again are
duplicates, answered the same way), and the API reads orders from one place
without asking the workflow engine.

Replies come back as external events named `{participant}.{action}` (raised by
the `order-replies` subscription). Dapr has no activity timeout and cannot
recall a published command, so a step that timed out is compensated like one
that succeeded; participants keep tombstones, so a late command meets its
compensation.

Compensations cannot fail for good: each is re-sent, with a growing but bounded
wait (`SagaTimeouts.compensation_wait`), until its acknowledgement arrives;
after `compensation_rounds_per_run` rounds the saga continues as new with its
steps, so a long outage never grows the history without bound. Neither can the
final record: if the store stays away through all its retries, the saga
continues as new with its outcome and records it then.

Determinism: time only from `ctx.current_utc_datetime`, all I/O in activities,
timeouts from the workflow input, logs only when `not ctx.is_replaying`.
"""

import logging
from collections.abc import Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, TaskFailedError

# The SDK's marker for a failure its retry policy skips (raised by the activity).
from dapr.ext.workflow._durabletask.task import NonRetryableError

from order_app.domain import OrderStatus, StepName, StepRecord, StepState, rejection
from order_app.workflow.messages import STEPS, Command, Outcome, Reply, Resume, SagaInput, SagaSnapshot

RECORD_AND_SEND = "record_and_send"

# Transient failures (sidecar or broker briefly away) are retried; business
# failures are raised as NonRetryableError by the activity and never are.
# `max_retry_interval` is set on purpose: without it some SDKs never retry (python-sdk#836).
# Sending gives up sooner: its steps then count as timed out, and are compensated.
SENDING = RetryPolicy(
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


def order_saga(ctx: DaprWorkflowContext, order: SagaInput) -> Generator[Any, Any, dict[str, Any] | None]:
    if order.resume is None:
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
    else:  # continued as new (see `compensate` and `record`)
        steps = {step.name: step for step in order.resume.steps}

    # 3. Completed, or undo whatever was started, then say why (unless an earlier run decided).
    outcome = order.resume.outcome if order.resume else None
    if outcome is None:
        if all(step.state is StepState.SUCCEEDED for step in steps.values()):
            outcome = Outcome(status=OrderStatus.COMPLETED, message="The order is completed.")
        else:
            ctx.set_custom_status("compensating")
            if not (yield from compensate(ctx, order, steps)):
                return None  # continued as new, to carry on with a short history
            reason, message = rejection(steps.values())
            outcome = Outcome(status=OrderStatus.REJECTED, reason=reason, message=message)

    if not (yield from record(ctx, order, steps, outcome)):
        return None  # continued as new, to record it later
    ctx.set_custom_status(outcome.status)
    _log(ctx, order, "saga finished: %s %s", outcome.status, outcome.reason or "")
    return outcome.model_dump(mode="json")


def request(ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, names: Iterable[StepName]) -> Yields:
    """Record the steps as requested and send their commands, in one activity."""
    names = list(names)
    for name in names:
        steps[name] = steps[name].request(now(ctx))
    err = yield from record_and_send(ctx, order, steps, [order.command(name) for name in names])
    for name in names:
        if err is None:
            _log(ctx, order, "%s requested", name)
        else:
            # It may still have gone out before the failure: unanswered, so compensated.
            steps[name] = steps[name].time_out(now(ctx), f"command not sent: {err}")
            _log(ctx, order, "%s could not be requested: %s", name, err, level=logging.WARNING)


def await_replies(
    ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, names: Iterable[StepName]
) -> Yields:
    """Wait for each requested step's reply, or its step timeout, whichever comes first.

    Every wait and its durable timer start now, so taking them in turn lasts
    no longer than the slowest.
    """
    replies = {
        name: ctx.wait_for_external_event(STEPS[name].reply_event, timeout=order.timeouts.step)
        for name in names
        if steps[name].state is StepState.REQUESTED
    }
    for name, reply_task in replies.items():
        try:
            reply = Reply.model_validate((yield reply_task))
        except TimeoutError:
            steps[name] = steps[name].time_out(now(ctx), f"{STEPS[name].participant} did not reply in time")
        else:
            if reply.ok:
                steps[name] = steps[name].succeed(now(ctx))
            else:
                steps[name] = steps[name].refuse(now(ctx), reply.reason or "step_failed", reply.message)
        _log(ctx, order, "%s %s", name, steps[name].state)


def compensate(ctx: DaprWorkflowContext, order: SagaInput, steps: Steps) -> Generator[Any, Any, bool]:
    """Undo every step that may have taken effect; re-send each until it is acknowledged.

    A wait that times out is dropped by the SDK, so an acknowledgement that
    comes late is kept for the next round's wait, which takes it at once.
    Returns False when it continued the saga as new: a participant that stays
    away would otherwise grow the history (and each replay) without bound.
    """
    pending = [name for name, step in steps.items() if step.needs_compensation]
    attempt = order.resume.attempt if order.resume else 1
    rounds = order.timeouts.compensation_rounds_per_run
    for _ in range(rounds):
        if not pending:
            return True
        for name in pending:
            steps[name] = steps[name].compensation_sent(now(ctx))
        commands = [order.compensation(name, attempt) for name in pending]
        if err := (yield from record_and_send(ctx, order, steps, commands)):
            # Not sent this round; the next round sends them again.
            _log(ctx, order, "compensations not sent: %s", err, level=logging.WARNING)

        wait = order.timeouts.compensation_wait(attempt)
        acks = {
            name: ctx.wait_for_external_event(STEPS[name].compensation_event, timeout=wait)
            for name in pending
        }
        for name, ack in acks.items():
            try:
                reply = Reply.model_validate((yield ack))
            except TimeoutError:
                _log(ctx, order, "%s compensation unacknowledged after %s; re-sending", name, wait)
                continue
            if reply.ok:
                steps[name] = steps[name].compensate(now(ctx))
                pending.remove(name)
                _log(ctx, order, "%s compensated", name)
            else:  # the contract says compensations always succeed: keep asking
                _log(ctx, order, "%s compensation refused; re-sending", name, level=logging.ERROR)
        attempt += 1
    if not pending:
        return True
    # Unprocessed events (a late acknowledgement) go along to the new execution.
    resume = Resume(steps=tuple(steps.values()), attempt=attempt)
    ctx.continue_as_new(order.model_copy(update={"resume": resume}), save_events=True)
    _log(ctx, order, "still compensating after %s rounds; continued as new", rounds)
    return False


def record_and_send(
    ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, commands: list[Command]
) -> Generator[Any, Any, TaskFailedError | None]:
    """Save the steps, then publish the commands; returns why that failed, if it did."""
    snapshot = SagaSnapshot(
        order_id=order.order_id, at=now(ctx), steps=tuple(steps.values()), commands=tuple(commands)
    )
    try:
        yield ctx.call_activity(RECORD_AND_SEND, input=snapshot, retry_policy=SENDING)
    except TaskFailedError as err:
        return err
    return None


def record(
    ctx: DaprWorkflowContext, order: SagaInput, steps: Steps, outcome: Outcome
) -> Generator[Any, Any, bool]:
    """Save the outcome with the final steps (nothing to send); this must not give up either.

    If the store stays away through every retry, the saga continues as new with
    its outcome and tries again, so the order still ends final. Returns False
    then. A business failure (the record is gone) is not retried: it fails the saga.
    """
    snapshot = SagaSnapshot(
        order_id=order.order_id, at=now(ctx), steps=tuple(steps.values()), outcome=outcome
    )
    try:
        yield ctx.call_activity(RECORD_AND_SEND, input=snapshot, retry_policy=RECORDING)
    except TaskFailedError as err:
        if err.details.error_type == NonRetryableError.__name__:
            raise
        attempt = order.resume.attempt if order.resume else 1
        resume = Resume(steps=tuple(steps.values()), attempt=attempt, outcome=outcome)
        ctx.continue_as_new(order.model_copy(update={"resume": resume}))
        _log(ctx, order, "outcome not recorded (%s); continued as new", err, level=logging.WARNING)
        return False
    return True


def now(ctx: DaprWorkflowContext) -> datetime:
    """The workflow's deterministic clock, as an aware UTC time (the SDK hands out naive UTC)."""
    return ctx.current_utc_datetime.replace(tzinfo=UTC)


def _log(
    ctx: DaprWorkflowContext, order: SagaInput, msg: str, *args: object, level: int = logging.INFO
) -> None:
    if not ctx.is_replaying:
        log.log(level, msg, *args, extra={"order_id": order.order_id})

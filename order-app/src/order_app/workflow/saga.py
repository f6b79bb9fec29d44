"""The order saga, orchestrated by a Dapr Workflow (instance id `order-{order_id}`).

    1. reserve stock  ┐ in parallel: both are asked at once, each answered
       reserve courier┘ within the step timeout
    2. charge payment   the pivot, only once stock and courier are both secured;
                        once it is granted the order is completed, recorded with it
    3. or else compensate every step that was started (release stock, release
       courier, refund) until each is acknowledged, then rejected

`OrderSaga.run` reads as that list; the methods below it are the mechanics.

The saga touches the world through one activity, `record_and_send`: it saves a
full snapshot of the steps (at the end, with the outcome) to the order record,
then sends what that snapshot asks for. A step's command is asked of its
participant by service invocation, and the participant's reply (or its absence
by the step's deadline) is the activity's result. The pivot's activity also
records the order completed once the charge is granted: past the pivot nothing
can fail, so its grant is the outcome. A successful saga is two activities and
three workflow turns, with no timer and no event. Once recorded, that outcome
stands: if its answer is lost (a crash, retries run out), the saga takes the
charge for unanswered, and the activity that would send its compensations finds
the order completed instead, sends nothing, and the saga ends completed. The
record never moves a step back, so a run that comes after the saga moved on
records nothing. A full snapshot
makes the write idempotent, so an activity that runs twice is harmless (the
commands it sends again are duplicates, answered the same way), and the API
reads orders from one place without asking the workflow engine.

Compensations are published instead, because they must arrive however long a
participant stays away; their acknowledgements come back as external events
named `{participant}.{action}` (raised by the `order-replies` subscription).
An invocation cannot be recalled either, so a step that timed out is compensated
like one that succeeded; participants keep tombstones, so a late command meets
its compensation.

Compensations cannot fail for good: each is re-sent, with a growing but bounded
wait (`SagaTimeouts.compensation_wait`), until its acknowledgement arrives;
after `compensation_rounds_per_run` rounds the saga continues as new with its
steps, so a long outage never grows the history without bound. Neither can the
final record: if the store stays away through all its retries, the saga
continues as new with its outcome and records it then. A run that continued as
new ends there (`ContinuedAsNew`); the next run picks up from `SagaInput.resume`.

Determinism: time only from `ctx.current_utc_datetime`, all I/O in activities,
timeouts from the workflow input, logs only when `not ctx.is_replaying`. The
order of activities, timers and waits is part of every stored history: keep it.
"""

import logging
from collections.abc import Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, TaskFailedError

# The SDK's marker for a failure its retry policy skips (raised by the activity).
from dapr.ext.workflow._durabletask.task import NonRetryableError
from dapr_helpers.saga.contract import Reply

from order_app.domain import OrderStatus, StepName, StepRecord, StepState, rejection
from order_app.workflow.messages import (
    STEPS,
    Answer,
    Answers,
    Command,
    Outcome,
    Resume,
    SagaInput,
    SagaSnapshot,
)

RECORD_AND_SEND = "record_and_send"

# Transient failures (sidecar or broker briefly away) are retried; business
# failures are raised as NonRetryableError by the activity and never are.
# `max_retry_interval` is set on purpose: without it some SDKs never retry (python-sdk#836).

# Recording and sending: about a minute and a half of retries, then the steps count
# as timed out, and are compensated.
RETRY_BRIEFLY = RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=30),
    max_number_of_attempts=8,
)
# Recording the outcome: about fourteen minutes of retries, then the saga
# continues as new and tries again, so the order still ends final.
RETRY_PATIENTLY = RetryPolicy(
    first_retry_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    max_retry_interval=timedelta(seconds=60),
    max_number_of_attempts=20,
)

RESERVATIONS = (StepName.RESERVE_STOCK, StepName.RESERVE_COURIER)
PIVOT = StepName.CHARGE_PAYMENT
COMPLETED = Outcome(status=OrderStatus.COMPLETED, message="The order is completed.")

log = logging.getLogger(__name__)

Yields = Generator[Any, Any, None]  # a part of the saga, run with `yield from`


def order_saga(ctx: DaprWorkflowContext, order: SagaInput) -> Generator[Any, Any, dict[str, Any] | None]:
    """The registered workflow: one `OrderSaga` per run. Returns the outcome, or
    None for a run that continued as new (the next run returns it)."""
    try:
        return (yield from OrderSaga(ctx, order).run())
    except ContinuedAsNew:
        return None


class ContinuedAsNew(Exception):
    """This run has handed over to a new one (`ctx.continue_as_new`): stop here."""


class OrderSaga:
    def __init__(self, ctx: DaprWorkflowContext, order: SagaInput) -> None:
        self.ctx = ctx
        self.order = order
        resume = order.resume  # set when an earlier run continued as new
        self.resumed = resume is not None
        self.steps: dict[StepName, StepRecord] = (
            {step.name: step for step in resume.steps}
            if resume
            else {name: StepRecord(name=name) for name in StepName}
        )
        self.attempt = resume.attempt if resume else 1  # of the compensations
        self.outcome: Outcome | None = resume.outcome if resume else None
        self.recorded = False  # the outcome is in the order record

    def run(self) -> Generator[Any, Any, dict[str, Any]]:
        if not self.resumed:  # a resumed run is past these
            yield from self.reserve_stock_and_courier()
            if self.all_succeeded(RESERVATIONS):
                yield from self.charge_payment()
        if self.outcome is None:  # the pivot or an earlier run may have decided it
            self.outcome = yield from self.complete_or_undo()
        if not self.recorded:
            yield from self.record_outcome()
        self.ctx.set_custom_status(self.outcome.status)
        self.log("saga finished: %s %s", self.outcome.status, self.outcome.reason or "")
        return self.outcome.model_dump(mode="json")

    # -- the saga's steps ------------------------------------------------------

    def reserve_stock_and_courier(self) -> Yields:
        self.ctx.set_custom_status("reserving")
        yield from self.ask(RESERVATIONS)

    def charge_payment(self) -> Yields:
        """The pivot: take the money only once everything it pays for is secured. No step
        follows it, so if it is granted the order is completed, and the same activity
        records that (the order's wait ends one activity sooner)."""
        self.ctx.set_custom_status("charging")
        recorded = yield from self.ask([PIVOT], if_granted=COMPLETED)
        if recorded is not None:
            self.outcome, self.recorded = recorded, True

    def complete_or_undo(self) -> Generator[Any, Any, Outcome]:
        if self.all_succeeded(StepName):
            return COMPLETED
        recorded = yield from self.undo_started_steps()
        if recorded is not None:
            self.recorded = True  # the charge was granted after all, and nothing was undone
            return recorded
        reason, message = rejection(self.steps.values())
        return Outcome(status=OrderStatus.REJECTED, reason=reason, message=message)

    def undo_started_steps(self) -> Generator[Any, Any, Outcome | None]:
        """Undo every step that may have taken effect (a timed-out one may have), until
        acknowledged; or, if the order record is found completed instead, that outcome."""
        self.ctx.set_custom_status("compensating")
        return (
            yield from self.resend_until_acknowledged(
                [name for name, step in self.steps.items() if step.needs_compensation]
            )
        )

    def record_outcome(self) -> Yields:
        """Save the outcome with the final steps; this must not give up either.

        If the store stays away through every retry, the saga continues as new
        with its outcome and tries again. A business failure (the record is
        gone) is not retried: it fails the saga.
        """
        assert self.outcome is not None
        snapshot = self.snapshot(outcome=self.outcome)
        try:
            yield self.ctx.call_activity(RECORD_AND_SEND, input=snapshot, retry_policy=RETRY_PATIENTLY)
        except TaskFailedError as err:
            if err.details.error_type == NonRetryableError.__name__:
                raise
            self.log("outcome not recorded (%s); continued as new", err, level=logging.WARNING)
            self.continue_as_new()

    def all_succeeded(self, names: Iterable[StepName]) -> bool:
        return all(self.steps[name].state is StepState.SUCCEEDED for name in names)

    # -- the mechanics ---------------------------------------------------------

    def ask(
        self, names: Iterable[StepName], if_granted: Outcome | None = None
    ) -> Generator[Any, Any, Outcome | None]:
        """Record the steps as requested, ask each step of its participant and take the
        answers, in one activity; a step not answered by its deadline has timed out.
        Returns `if_granted` if every step was granted and the activity recorded it."""
        names = list(names)
        for name in names:
            self.steps[name] = self.steps[name].request(self.now())
        requests = [self.order.command(name) for name in names]
        result = yield from self.record_and_send(requests=requests, if_granted=if_granted)
        if isinstance(result, TaskFailedError):
            # It may still have been carried out before the failure: unanswered, so compensated.
            result = Answers(answers=(Answer(error=f"command not sent: {result}"),) * len(names))
        for name, answer in zip(names, result.answers, strict=True):
            self.steps[name] = self.answered(self.steps[name], answer)
            self.log("%s %s", name, self.steps[name].state)
        return result.outcome

    def answered(self, step: StepRecord, answer: Answer) -> StepRecord:
        if answer.reply is None:
            return step.time_out(self.now(), answer.error or f"{STEPS[step.name].participant} did not answer")
        if answer.reply.ok:
            return step.succeed(self.now())
        return step.refuse(self.now(), answer.reply.reason or "step_failed", answer.reply.message)

    def resend_until_acknowledged(self, pending: list[StepName]) -> Generator[Any, Any, Outcome | None]:
        """Send each compensation, then wait for its acknowledgement with a growing,
        bounded wait; re-send the unacknowledged ones each round.

        A wait that times out is dropped by the SDK, so an acknowledgement that
        comes late is kept for the next round's wait, which takes it at once.
        After `compensation_rounds_per_run` rounds the saga continues as new: a
        participant that stays away would otherwise grow the history (and each
        replay) without bound.

        The activity sends nothing, and returns the outcome, if it finds the order
        completed: a run of the pivot's activity recorded the grant whose answer the
        saga never got (the activity's records are serialized, so that comes first or
        never, and then nothing has been sent).
        """
        rounds = self.order.timeouts.compensation_rounds_per_run
        for _ in range(rounds):
            if not pending:
                return None
            for name in pending:
                self.steps[name] = self.steps[name].compensation_sent(self.now())
            commands = [self.order.compensation(name, self.attempt) for name in pending]
            result = yield from self.record_and_send(commands=commands)
            if isinstance(result, TaskFailedError):
                # Not sent this round; the next round sends them again.
                self.log("compensations not sent: %s", result, level=logging.WARNING)
            elif result.outcome is not None:
                self.log(
                    "the order is %s already; nothing to undo", result.outcome.status, level=logging.WARNING
                )
                return result.outcome

            wait = self.order.timeouts.compensation_wait(self.attempt)
            acks = {
                name: self.ctx.wait_for_external_event(STEPS[name].compensation_event, timeout=wait)
                for name in pending
            }
            for name, ack in acks.items():
                try:
                    reply = Reply.model_validate((yield ack))
                except TimeoutError:
                    self.log("%s compensation unacknowledged after %s; re-sending", name, wait)
                    continue
                if reply.ok:
                    self.steps[name] = self.steps[name].compensate(self.now())
                    pending.remove(name)
                    self.log("%s compensated", name)
                else:  # the contract says compensations always succeed: keep asking
                    self.log("%s compensation refused; re-sending", name, level=logging.ERROR)
            self.attempt += 1
        if pending:
            self.log("still compensating after %s rounds; continued as new", rounds)
            # Unprocessed events (a late acknowledgement) go along to the new run.
            self.continue_as_new(save_events=True)
        return None

    def record_and_send(
        self,
        requests: Iterable[Command] = (),
        commands: Iterable[Command] = (),
        if_granted: Outcome | None = None,
    ) -> Generator[Any, Any, Answers | TaskFailedError]:
        """Save the steps, then ask the requests and publish the commands: the requests'
        answers, or why that failed, if it did."""
        snapshot = self.snapshot(requests=tuple(requests), commands=tuple(commands), if_granted=if_granted)
        try:
            result = yield self.ctx.call_activity(RECORD_AND_SEND, input=snapshot, retry_policy=RETRY_BRIEFLY)
        except TaskFailedError as err:
            return err
        return Answers.of(result)

    def snapshot(
        self,
        requests: tuple[Command, ...] = (),
        commands: tuple[Command, ...] = (),
        outcome: Outcome | None = None,
        if_granted: Outcome | None = None,
    ) -> SagaSnapshot:
        return SagaSnapshot(
            order_id=self.order.order_id,
            at=self.now(),
            steps=tuple(self.steps.values()),
            requests=requests,
            answer_within=self.order.timeouts.step,
            commands=commands,
            outcome=outcome,
            if_granted=if_granted,
            traceparent=self.order.traceparent,
        )

    def continue_as_new(self, save_events: bool = False) -> None:
        """Hand over to a new run that starts where this one stands; ends this run."""
        resume = Resume(steps=tuple(self.steps.values()), attempt=self.attempt, outcome=self.outcome)
        self.ctx.continue_as_new(self.order.model_copy(update={"resume": resume}), save_events=save_events)
        raise ContinuedAsNew

    def now(self) -> datetime:
        """The workflow's deterministic clock, as an aware UTC time (the SDK hands out naive UTC)."""
        return self.ctx.current_utc_datetime.replace(tzinfo=UTC)

    def log(self, msg: str, *args: object, level: int = logging.INFO) -> None:
        if not self.ctx.is_replaying:
            log.log(level, msg, *args, extra={"order_id": self.order.order_id})

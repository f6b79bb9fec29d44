"""Test doubles: a fake DaprWorkflowContext that drives the saga without a sidecar.

The fake hands out the SDK's own task objects (`CompletableTask`, `TimerTask`),
so `when_all`/`when_any` behave exactly as in the worker; the test plays the
sidecar and the participants: it answers the activity's requests, raises events
and fires timers, and the driver feeds each finished task back into the saga
generator, as the worker does.
"""

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dapr.ext.workflow._durabletask import task as dt
from dapr.ext.workflow._durabletask.internal.helpers import new_failure_details
from order_app.workflow.messages import SagaInput, SagaTimeouts
from order_app.workflow.saga import RECORD_AND_SEND, order_saga
from pydantic import TypeAdapter

START = datetime(2030, 1, 1, 9, 0)  # naive, as the SDK hands out current_utc_datetime
STEP_TIMEOUT = timedelta(seconds=30)
COMPENSATION_FIRST = timedelta(seconds=10)
COMPENSATION_MAX = timedelta(seconds=40)


@dataclass
class ActivityCall:
    name: str
    input: Any
    retry_policy: Any
    task: dt.CompletableTask
    started_at: datetime = START
    # an activity that asks participants completes once each request has its answer
    answers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    records_granted: bool = True  # False: the write of `if_granted` fails (the store went away)

    @property
    def requests(self) -> list[tuple[str, str]]:
        return [(r["participant"], r["body"]["action"]) for r in (self.input or {}).get("requests", [])]

    def answer(self, request: tuple[str, str], answer: dict[str, Any]) -> None:
        self.answers.setdefault(request, answer)
        if set(self.answers) >= set(self.requests):
            answers = [self.answers[r] for r in self.requests]
            granted = all((a["reply"] or {}).get("ok") for a in answers)
            recorded = self.input.get("if_granted") if granted and self.records_granted else None
            self.task.complete({"answers": answers, "outcome": recorded})

    def deadline_passed(self) -> None:
        """What the activity returns at its deadline: the answers it has, none for the rest."""
        for request in self.requests:
            self.answer(request, {"reply": None, "error": f"{request[0]} did not answer in time"})


@dataclass
class Timer:
    created_at: datetime
    fire_at: datetime
    task: dt.TimerTask

    @property
    def wait(self) -> timedelta:
        return self.fire_at - self.created_at


@dataclass
class FakeWorkflowContext:
    current_utc_datetime: datetime
    instance_id: str = "order-7"
    is_replaying: bool = False
    custom_status: str | None = None
    continued: tuple[Any, bool] | None = None  # (new input, save_events) once continued as new
    activities: list[ActivityCall] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    waiting: dict[str, list[dt.CompletableTask]] = field(default_factory=dict)
    buffered: dict[str, list[Any]] = field(default_factory=dict)
    # activity name -> how many of its next calls fail (as if retries ran out)
    failing: dict[str, int] = field(default_factory=dict)
    # activity name -> the error its next call fails with, retry policy skipped (a business failure)
    fail_with: dict[str, Exception] = field(default_factory=dict)
    records_granted: bool = True  # False: activities fail to record an `if_granted` outcome
    # an outcome a compensating activity finds in the order record instead of sending anything
    found_completed: dict[str, Any] | None = None

    def call_activity(self, activity: str, *, input: Any = None, retry_policy: Any = None) -> dt.Task:
        payload = json.loads(input.model_dump_json()) if input is not None else None
        call = ActivityCall(activity, payload, retry_policy, dt.CompletableTask(), self.current_utc_datetime)
        call.records_granted = self.records_granted
        self.activities.append(call)
        if error := self.fail_with.pop(activity, None):
            call.task.fail(str(error), new_failure_details(error))
        elif self.failing.get(activity, 0) > 0:
            self.failing[activity] -= 1
            call.task.fail("activity failed", new_failure_details(ConnectionError("broker down")))
        elif not call.requests:
            found = self.found_completed if call.input and call.input["commands"] else None
            call.task.complete({"answers": [], "outcome": found})
        return call.task  # else: complete once its requests are answered (`SagaRun.reply`)

    def create_timer(self, fire_at: datetime | timedelta) -> dt.TimerTask:
        if isinstance(fire_at, timedelta):
            fire_at = self.current_utc_datetime + fire_at
        timer = Timer(self.current_utc_datetime, fire_at, dt.TimerTask())
        self.timers.append(timer)
        return timer.task

    def wait_for_external_event(self, name: str, *, timeout: timedelta | None = None) -> dt.Task:
        """As the SDK does: a buffered event completes the wait at once; a timeout adds a
        timer, and a wait that times out is dropped so a late event stays buffered."""
        event: dt.CompletableTask[Any] = dt.CompletableTask()
        key = name.casefold()
        if self.buffered.get(key):
            event.complete(self.buffered[key].pop(0))
        else:
            self.waiting.setdefault(key, []).append(event)
        if timeout is None or event.is_complete:
            return event

        def forget() -> None:
            if event in self.waiting.get(key, []):
                self.waiting[key].remove(event)

        timer = self.create_timer(timeout)
        return dt.ExternalEventWithTimeoutTask(
            event, timer, event_name=name, timeout=timeout, on_timeout=forget
        )

    def raise_event(self, name: str, data: Any) -> None:
        """As the worker does: the oldest waiter gets it, else it is buffered."""
        name = name.casefold()
        if self.waiting.get(name):
            self.waiting[name].pop(0).complete(data)
        else:
            self.buffered.setdefault(name, []).append(data)

    def set_custom_status(self, status: str) -> None:
        self.custom_status = status

    def continue_as_new(self, new_input: Any, *, save_events: bool = False) -> None:
        self.continued = (json.loads(new_input.model_dump_json()), save_events)


class SagaRun:
    """One saga, driven yield by yield."""

    def __init__(self, saga_input: SagaInput, failing: dict[str, int] | None = None) -> None:
        self.ctx = FakeWorkflowContext(current_utc_datetime=START, failing=dict(failing or {}))
        self.saga: Generator[Any, Any, Any] = order_saga(self.ctx, saga_input)  # type: ignore[arg-type]
        self.result: dict[str, Any] | None = None
        self._feed(lambda: next(self.saga))

    # -- the sidecar's side -------------------------------------------------
    def reply(self, participant: str, action: str, ok: bool = True, reason: str | None = None) -> None:
        """The participant's reply: the answer to the activity's request, if one asks for it
        now; else an acknowledgement on `order-replies`, raised as an event."""
        data = {"order_id": 7, "participant": participant, "action": action, "ok": ok}
        if reason:
            data |= {"reason": reason, "message": f"{participant} says {reason}"}
        asking = self._asking()
        if asking is not None and (participant, action) in asking.requests:
            asking.answer((participant, action), {"reply": data, "error": ""})
        else:
            self.ctx.raise_event(f"{participant}.{action}", data)
        self._resume()

    def elapse(self, delta: timedelta) -> None:
        """Time passes: every timer due by then fires, in order, and an activity whose
        requests are past their deadline returns."""
        self.ctx.current_utc_datetime += delta
        asking = self._asking()
        if asking is not None:
            within = TypeAdapter(timedelta).validate_python(asking.input["answer_within"])
            if asking.started_at + within <= self.ctx.current_utc_datetime:
                asking.deadline_passed()
        for timer in sorted(self.ctx.timers, key=lambda t: t.fire_at):
            if timer.fire_at <= self.ctx.current_utc_datetime and not timer.task.is_complete:
                timer.task.complete(None)
        self._resume()

    def _asking(self) -> ActivityCall | None:
        """The activity the saga waits on, if it still waits for answers."""
        calls = self.ctx.activities
        return calls[-1] if calls and calls[-1].requests and not calls[-1].task.is_complete else None

    # -- what the saga did --------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.result is not None

    def commands(self) -> list[tuple[str, str]]:
        """(participant, action) of every command sent, asked or published, in order."""
        return [(c["participant"], c["body"]["action"]) for c in self._sent()]

    def command_bodies(self) -> list[dict[str, Any]]:
        return [c["body"] for c in self._sent()]

    def snapshots(self) -> list[dict[str, Any]]:
        return [call.input for call in self.ctx.activities if call.name == RECORD_AND_SEND]

    def _sent(self) -> list[dict[str, Any]]:
        return [c for snapshot in self.snapshots() for c in snapshot["requests"] + snapshot["commands"]]

    def step_states(self) -> dict[str, str]:
        return {step["name"]: step["state"] for step in self.snapshots()[-1]["steps"]}

    # -- the worker's loop --------------------------------------------------
    def _resume(self) -> None:
        if self.finished or not self.current.is_complete:
            return
        if self.current.is_failed:
            exc = self.current.get_exception()
            self._feed(lambda: self.saga.throw(exc))
        else:
            result = self.current.get_result()
            self._feed(lambda: self.saga.send(result))

    def _feed(self, step: Callable[[], Any]) -> None:
        try:
            self.current = step()
        except StopIteration as stop:
            self.result = stop.value
            return
        self._resume()


def saga_input(**changes: Any) -> SagaInput:
    values: dict[str, Any] = {
        "order_id": 7,
        "login": "ann",
        "product_id": 3,
        "quantity": 2,
        "amount": Decimal("12.50"),
        "slot_start": datetime(2030, 1, 8, 10, tzinfo=UTC),
        "timeouts": SagaTimeouts(
            step=STEP_TIMEOUT, compensation_first=COMPENSATION_FIRST, compensation_max=COMPENSATION_MAX
        ),
    }
    return SagaInput(**(values | changes))


@pytest.fixture
def start_saga() -> Callable[..., SagaRun]:
    def start(failing: dict[str, int] | None = None, **changes: Any) -> SagaRun:
        return SagaRun(saga_input(**changes), failing)

    return start

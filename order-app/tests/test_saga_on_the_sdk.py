"""The registered saga, run by the SDK's own orchestration executor, with full replay.

A tiny in-memory backend plays the sidecar's part of the workflow protocol:
each turn hands the executor the whole history so far (replayed) plus the new
events, records every action as its confirming event (TaskScheduled,
TimerCreated with its origin), completes activities at once (with the
participants' answers to their requests) and fires timers when told. A
non-deterministic saga would fail here on replay.
"""

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from dapr.ext.workflow._durabletask import worker as dt_worker
from dapr.ext.workflow._durabletask.internal import helpers as ph
from dapr.ext.workflow._durabletask.internal import protos as pb
from google.protobuf import timestamp_pb2
from order_app.config import Settings
from order_app.domain import Order, OrderRequest
from order_app.service.orders import OrderService
from order_app.workflow.messages import SagaInput, SagaTimeouts
from order_app.workflow.runtime import build_runtime
from order_app.workflow.saga import RECORD_AND_SEND, RETRY_PATIENTLY

START = datetime(2030, 1, 1, 9, 0)
Origin = Literal["createTimer", "externalEvent", "activityRetry", "childWorkflowRetry"]
ORIGINS: tuple[Origin, ...] = ("createTimer", "externalEvent", "activityRetry", "childWorkflowRetry")
ROUNDS = SagaTimeouts.model_fields["compensation_rounds_per_run"].default  # before continuing as new


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(at)
    return ts


Answers = dict[tuple[str, str], dict[str, Any] | None]


class Backend:
    """`answers`: the participants' reply to a request, or None for one unanswered by its
    deadline; every request not named there is answered ok."""

    def __init__(
        self,
        saga_input: Any,
        answers: Answers | None = None,
        failing_records: int = 0,
        results_as_lists: bool = False,
    ) -> None:
        self.answers = answers or {}
        self.failing_records = failing_records  # how many of the next final records fail (the store is away)
        # the activity's result before it said whether it recorded an outcome: a plain list of answers
        self.results_as_lists = results_as_lists
        runtime = build_runtime(Settings())
        self.registry = runtime._WorkflowRuntime__worker._registry  # type: ignore[attr-defined]
        self.now = START
        self.history: list[pb.HistoryEvent] = []
        self.timers: dict[int, datetime] = {}
        self.activities: list[tuple[str, Any]] = []
        self.status: Any = None
        self.output: Any = None
        encoded = json.dumps(saga_input.model_dump(mode="json"))
        self._turn([ph.new_execution_started_event("order_saga", "order-7", encoded)])

    def raise_event(self, name: str, data: dict[str, Any]) -> None:
        self._turn([ph.new_event_raised_event(name, json.dumps(data))])

    def elapse(self, delta: timedelta) -> None:
        self.now += delta
        due = sorted((at, i) for i, at in self.timers.items() if at <= self.now)
        fired = []
        for at, timer_id in due:
            del self.timers[timer_id]
            fired.append(
                pb.HistoryEvent(
                    eventId=-1,
                    timestamp=timestamp(self.now),
                    timerFired=pb.TimerFiredEvent(fireAt=timestamp(at), timerId=timer_id),
                )
            )
        self._turn(fired)

    def sent(self) -> list[tuple[str, str]]:
        """(participant, action) of every command asked or published, in order."""
        sent = [
            c for name, i in self.activities if name == RECORD_AND_SEND for c in i["requests"] + i["commands"]
        ]
        return [(c["participant"], c["body"]["action"]) for c in sent]

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        participant, action = request["participant"], request["body"]["action"]
        reply = self.answers.get((participant, action), reply_to(participant, action))
        return {"reply": reply, "error": ""} if reply else {"reply": None, "error": "no answer in time"}

    def _turn(self, events: list[pb.HistoryEvent]) -> None:
        new = [ph.new_workflow_started_event(self.now), *events]
        executor = dt_worker._OrchestrationExecutor(self.registry, logging.getLogger("sdk-executor"))
        result = executor.execute("order-7", self.history, new)
        self.history += new
        completions = [self._confirm(action) for action in result.actions]
        if completed := [c for c in completions if c is not None]:
            self._turn(completed)

    def _confirm(self, action: pb.WorkflowAction) -> pb.HistoryEvent | None:
        """Record an action as its history event; an activity's completion is returned."""
        if action.HasField("scheduleTask"):
            task = action.scheduleTask
            self.history.append(ph.new_task_scheduled_event(action.id, task.name, task.input.value))
            payload = json.loads(task.input.value)
            self.activities.append((task.name, payload))
            if payload.get("outcome") and self.failing_records > 0:
                self.failing_records -= 1
                return ph.new_task_failed_event(action.id, ConnectionError("state store unreachable"))
            answers = [self.answer(request) for request in payload["requests"]]
            if self.results_as_lists:
                return ph.new_task_completed_event(action.id, json.dumps(answers))
            granted = all(answer["reply"] and answer["reply"]["ok"] for answer in answers)
            recorded = payload.get("if_granted") if granted and not self.failing_records else None
            result = {"answers": answers, "outcome": recorded}
            return ph.new_task_completed_event(action.id, json.dumps(result))
        if action.HasField("createTimer"):
            timer = pb.TimerCreatedEvent(fireAt=action.createTimer.fireAt, name=action.createTimer.name)
            for origin in ORIGINS:
                if action.createTimer.HasField(origin):
                    getattr(timer, origin).CopyFrom(getattr(action.createTimer, origin))
            self.history.append(pb.HistoryEvent(eventId=action.id, timerCreated=timer))
            fire_at = action.createTimer.fireAt.ToDatetime()
            if fire_at.year < 9999:  # an event wait's optional timer never fires
                self.timers[action.id] = fire_at
            return None
        if action.HasField("completeWorkflow"):
            done = action.completeWorkflow
            self.status = done.workflowStatus
            self.output = json.loads(done.result.value) if done.result.value else done.failureDetails
        return None


def reply_to(participant: str, action: str, ok: bool = True, reason: str | None = None) -> dict[str, Any]:
    return {"order_id": 7, "participant": participant, "action": action, "ok": ok, "reason": reason}


def a_saga_input() -> Any:
    request = OrderRequest(
        login="ann",
        email="ann@example.com",
        product_id=3,
        quantity=2,
        amount=Decimal("12.50"),
        dtime=datetime(2030, 1, 8, 10, 30, tzinfo=UTC),
    )
    order = Order.create(7, request, datetime(2030, 1, 1, tzinfo=UTC))
    service = OrderService(None, None, None, None, Settings(step_timeout_seconds=30))  # type: ignore[arg-type]
    return service.saga_input(order)


def test_the_registered_saga_completes_on_the_sdk_executor():
    backend = Backend(a_saga_input())

    assert backend.sent() == [("stock", "reserve"), ("delivery", "reserve"), ("billing", "charge")]
    assert backend.timers == {} and not any(e.HasField("timerCreated") for e in backend.history)
    assert backend.status == pb.ORCHESTRATION_STATUS_COMPLETED
    assert backend.output["status"] == "completed"
    activities = [i for name, i in backend.activities if name == RECORD_AND_SEND]
    assert len(activities) == 2  # the charge's records the outcome
    assert activities[-1]["if_granted"]["status"] == "completed"
    assert activities[-1]["steps"][0]["answered_at"].endswith("Z")  # aware UTC, not the SDK's naive time


def test_a_saga_started_before_the_pivot_recorded_its_outcome_still_replays():
    # Its history holds the activity's results as plain lists: the saga records the outcome itself.
    backend = Backend(a_saga_input(), results_as_lists=True)

    assert backend.status == pb.ORCHESTRATION_STATUS_COMPLETED
    assert backend.output["status"] == "completed"
    activities = [i for name, i in backend.activities if name == RECORD_AND_SEND]
    assert len(activities) == 3 and activities[-1]["outcome"]["status"] == "completed"


def test_a_step_timeout_and_a_resent_compensation_on_the_sdk_executor():
    # No courier answer by the deadline: both reservations are undone.
    backend = Backend(a_saga_input(), answers={("delivery", "reserve"): None})

    assert backend.sent()[2:] == [("stock", "release"), ("delivery", "release")]
    backend.raise_event("delivery.release", reply_to("delivery", "release"))
    backend.elapse(timedelta(seconds=10))  # stock's release unacknowledged: re-sent
    assert backend.sent()[4:] == [("stock", "release")]

    backend.raise_event("stock.release", reply_to("stock", "release"))

    assert backend.status == pb.ORCHESTRATION_STATUS_COMPLETED  # the workflow ran to its end
    assert backend.output["reason"] == "step_timeout"


def test_a_long_compensation_continues_as_new_on_the_sdk_executor():
    refused = reply_to("delivery", "reserve", ok=False, reason="no_courier_available")
    backend = Backend(a_saga_input(), answers={("delivery", "reserve"): refused})
    for _ in range(ROUNDS):
        backend.elapse(timedelta(seconds=300))  # the stock release is never acknowledged

    assert backend.status == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    resumed = SagaInput.model_validate(backend.output)
    assert resumed.resume is not None and resumed.resume.attempt == ROUNDS + 1
    assert backend.sent().count(("stock", "release")) == ROUNDS


def test_an_outcome_recorded_only_after_its_retries_ran_out_on_the_sdk_executor():
    # The store is away throughout.
    backend = Backend(a_saga_input(), failing_records=RETRY_PATIENTLY.max_number_of_attempts)
    for _ in range(RETRY_PATIENTLY.max_number_of_attempts):
        backend.elapse(RETRY_PATIENTLY.max_retry_interval)  # type: ignore[arg-type]  # each retry waits on a durable timer

    records = [i for name, i in backend.activities if name == RECORD_AND_SEND and i["outcome"]]
    assert len(records) == RETRY_PATIENTLY.max_number_of_attempts
    assert backend.status == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    resumed = SagaInput.model_validate(backend.output)
    assert resumed.resume is not None and resumed.resume.outcome is not None

    after = Backend(resumed)  # the store is back
    assert after.sent() == []
    assert after.status == pb.ORCHESTRATION_STATUS_COMPLETED
    assert after.output["status"] == "completed"


class DaprdBackend(Backend):
    """The backend, plus two things daprd does: a send that fails (the broker is away), and
    its dedup: an activity whose result is already in the history is not dispatched again."""

    def __init__(self, saga_input: Any, failing_sends: int) -> None:
        self.failing_sends = failing_sends
        super().__init__(saga_input)

    def _confirm(self, action: pb.WorkflowAction) -> pb.HistoryEvent | None:
        if action.HasField("scheduleTask"):
            task = action.scheduleTask
            resolved = any(
                (e.HasField("taskCompleted") and e.taskCompleted.taskScheduledId == action.id)
                or (e.HasField("taskFailed") and e.taskFailed.taskScheduledId == action.id)
                for e in self.history
            )
            if resolved or self.failing_sends > 0:
                self.history.append(ph.new_task_scheduled_event(action.id, task.name, task.input.value))
                if resolved:
                    return None  # dedup.IsTaskAlreadyResolved: not dispatched
                self.failing_sends -= 1
                return ph.new_task_failed_event(action.id, ConnectionError("sidecar unreachable"))
        return super()._confirm(action)


def test_an_activity_result_before_its_schedule_is_kept_on_the_sdk_executor():
    """`make soak RUNTIME=dapr --seed 1` (docs/soak.md): Postgres killed while a failed send
    was being retried left order 140 pending for good. daprd dispatched the retry's activity,
    failed to save that turn, and the next turn brought the activity's result before the
    retry timer that schedules it (order_app.workflow.early_results)."""
    backend = DaprdBackend(a_saga_input(), failing_sends=1)
    assert backend.sent() == []  # the first send failed: its retry timer waits
    [(timer_id, fire_at)] = backend.timers.items()
    del backend.timers[timer_id]
    backend.now = fire_at
    fired = pb.HistoryEvent(
        eventId=-1,
        timestamp=timestamp(fire_at),
        timerFired=pb.TimerFiredEvent(fireAt=timestamp(fire_at), timerId=timer_id),
    )
    # The timer's turn: its activity is dispatched (and fails, the store being down too),
    # but the turn is never saved.
    executor = dt_worker._OrchestrationExecutor(backend.registry, logging.getLogger("sdk-executor"))
    lost = executor.execute("order-7", backend.history, [ph.new_workflow_started_event(fire_at), fired])
    [send] = [a for a in lost.actions if a.HasField("scheduleTask")]
    ghost = ph.new_task_failed_event(send.id, ConnectionError("state store unreachable"))

    backend._turn([ghost, fired])  # the retried turn: the result first, then the timer
    backend.elapse(timedelta(seconds=10))  # the next retry

    assert backend.sent() == [("stock", "reserve"), ("delivery", "reserve"), ("billing", "charge")]
    assert backend.status == pb.ORCHESTRATION_STATUS_COMPLETED
    assert backend.output["status"] == "completed"

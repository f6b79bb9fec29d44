"""An activity's result that reaches the saga before the activity is scheduled is kept, not dropped.

daprd 1.18.2 dispatches a turn's activities before it saves the turn. If the
save fails (the state store is down), the activity runs all the same, and its
result waits in the inbox while the event that started the turn (a retry
timer firing) is retried. The next turn then brings both, the result first:
`[TaskFailed(7), TimerFired(6)]`. The SDK's executor drops a result for a task
it has not scheduled yet ("Ignoring unexpected taskFailed event"); the timer
then schedules task 7 again, and daprd, finding task 7's result already in the
history, does not dispatch it a second time (`dedup.IsTaskAlreadyResolved`,
pkg/actors/targets/workflow/orchestrator). The saga would wait for task 7
forever. Found by `make soak RUNTIME=dapr` (docs/soak.md): a Postgres kill
while retries of a failed publish were under way.

The result is the outcome of exactly that activity call (same task id, same
input: the saga is deterministic), so it is kept and delivered as soon as the
saga schedules the task. Every replay does the same, so replays agree.
"""

from __future__ import annotations

from typing import Any

from dapr.ext.workflow._durabletask import worker as dt_worker
from dapr.ext.workflow._durabletask.internal import protos as pb

RESULTS = ("taskCompleted", "taskFailed")
_EARLY = "_saga_early_results"  # on the SDK's per-turn orchestration context


def install() -> None:
    """Wrap the SDK executor's event handling once per process."""
    executor: Any = dt_worker._OrchestrationExecutor
    if getattr(executor.process_event, "keeps_early_results", False):
        return
    original = executor.process_event

    def process_event(self: Any, ctx: Any, event: pb.HistoryEvent) -> None:
        kind = event.WhichOneof("eventType")
        if kind in RESULTS:
            task_id = getattr(event, kind).taskScheduledId
            if task_id not in ctx._pending_tasks:
                ctx.__dict__.setdefault(_EARLY, {})[task_id] = event
                return
        original(self, ctx, event)
        early: dict[int, pb.HistoryEvent] = ctx.__dict__.get(_EARLY, {})
        while ready := [i for i in early if _activity_scheduled(ctx, i)]:
            for task_id in ready:  # the event just handled scheduled it: now it can be resolved
                original(self, ctx, early.pop(task_id))

    process_event.keeps_early_results = True  # type: ignore[attr-defined]
    executor.process_event = process_event


def _activity_scheduled(ctx: Any, task_id: int) -> bool:
    """An activity call, not a timer or an event wait, waits under this id (ids restart when a
    saga continues as new: a stray result must never resolve something else)."""
    action = ctx._pending_actions.get(task_id)
    return task_id in ctx._pending_tasks and action is not None and action.HasField("scheduleTask")

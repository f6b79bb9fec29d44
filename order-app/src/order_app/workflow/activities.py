"""The saga's activity: the only place where it touches the world.

It runs at least once, so it is safe to repeat: the snapshot overwrites the
record with the same content, and a command sent again is a duplicate that
participants answer the same way.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from dapr.ext.workflow import WorkflowActivityContext

# The SDK's own marker: an activity failure of this type skips the retry policy.
from dapr.ext.workflow._durabletask.task import NonRetryableError
from dapr_helpers.logging import bind_order
from dapr_helpers.pubsub import Publisher
from dapr_helpers.tracing import child_span, continued_span
from opentelemetry.trace import SpanKind

from order_app.adapters.repository import OrderRepository
from order_app.domain import InvalidTransition, Order, OrderNotFound, OrderStatus
from order_app.service.metrics import ObservedChange
from order_app.workflow.messages import Answer, Answers, Command, Outcome, SagaSnapshot
from order_app.workflow.saga import RECORD_AND_SEND

log = logging.getLogger(__name__)


class Participants(Protocol):
    """Asks a step's command of its participant (`order_app.adapters.participants`)."""

    async def ask(self, command: Command, within: timedelta) -> Answer: ...


class SagaActivities:
    """`on_final(order_id)` is called once an outcome is in the record (see `order_app.service.outcomes`)."""

    def __init__(
        self,
        publisher: Publisher,
        participants: Participants,
        orders: OrderRepository,
        on_final: Callable[[int], None] | None = None,
    ) -> None:
        self.publisher = publisher
        self.participants = participants
        self.orders = orders
        self.on_final = on_final

    async def record_and_send(self, ctx: WorkflowActivityContext, snapshot: Any) -> dict[str, Any]:
        """Save the snapshot to the order record, then ask its requests and publish its
        commands, all in parallel; returns the requests' answers (`Answers`).

        Saved first, so the record shows a step requested before it can be answered.
        A request that gets no answer in time is answered as such; if a publish fails,
        the whole activity is retried. (A snapshot carries either requests, a forward
        step's, or commands, compensations.) If every request is granted and the
        snapshot says what that decides (`if_granted`), that outcome is recorded too,
        and the saga follows it.
        """
        snapshot = SagaSnapshot.model_validate(snapshot)
        # A span of the trace of the request that placed the order (never in the orchestrator,
        # which replays); the commands sent within it carry it to the participants.
        span = continued_span(
            f"saga {RECORD_AND_SEND}",
            snapshot.traceparent,
            attributes={
                "order.id": snapshot.order_id,
                "saga.commands": " ".join(
                    f"{c.participant}:{c.body.get('action')}" for c in snapshot.requests + snapshot.commands
                ),
                "saga.outcome": snapshot.outcome.status.value if snapshot.outcome else "",
            },
        )
        with bind_order(snapshot.order_id), span as current:
            try:
                order = await self._record(snapshot)
            except (OrderNotFound, InvalidTransition) as err:
                # A business failure: retrying cannot fix it. Compensations still go
                # out (they undo effects that exist); anything else stops here.
                undoes_only = snapshot.commands and all(command.undoes for command in snapshot.commands)
                if snapshot.requests or not undoes_only:
                    raise NonRetryableError(str(err)) from err
                log.error(
                    "order %s not recorded (%s); sending its compensations anyway", snapshot.order_id, err
                )
                order = None
            if snapshot.commands and order is not None and order.status is OrderStatus.COMPLETED:
                # A run of the pivot's activity recorded its grant, but its answer never
                # reached the saga (a crash, or retries that ran out): the order stands,
                # and nothing may be undone. Nothing was: this write came first.
                log.warning("order %s is completed: its compensations are not sent", order.id)
                return Answers(outcome=outcome_of(order)).model_dump(mode="json")
            within = snapshot.answer_within
            answers = await asyncio.gather(*(self._ask(command, within) for command in snapshot.requests))
            await asyncio.gather(*(self._publish(command) for command in snapshot.commands))
            outcome = None
            if snapshot.if_granted is not None and all(answer.granted for answer in answers):
                outcome = await self._record_granted(snapshot, datetime.now(UTC))
                if outcome is not None:
                    current.set_attribute("saga.outcome", outcome.status.value)
            return Answers(answers=tuple(answers), outcome=outcome).model_dump(mode="json")

    async def _record(self, snapshot: SagaSnapshot) -> Order:
        change = ObservedChange(lambda o: apply(o, snapshot))
        order = await self.orders.update(snapshot.order_id, change)
        change.observe()  # counts what this write changed: a re-run activity changes nothing
        log.debug("order %s recorded: %s", order.id, order.status)
        if order.is_final and self.on_final is not None:
            self.on_final(order.id)
        return order

    async def _record_granted(self, snapshot: SagaSnapshot, at: datetime) -> Outcome | None:
        """Record the outcome every request's grant decided; None if it was not.

        A run that comes too late (the saga took it for unanswered and went on to undo
        the steps) records nothing: an order is never finished on steps it has moved
        past (`Order.complete`). The answers are what the saga must not lose: if this
        write fails, the saga gets them anyway, and records the outcome itself, patiently.
        """
        try:
            order = await self._record(snapshot.granted(at))
        except Exception as err:
            log.warning("order %s: outcome not recorded with the answers: %s", snapshot.order_id, err)
            return None
        return outcome_of(order) if order.is_final else None

    async def _ask(self, command: Command, within: timedelta) -> Answer:
        name = f"invoke {command.participant}.{command.body.get('action')}"
        with child_span(name, SpanKind.CLIENT, {"rpc.service": command.participant}):
            answer = await self.participants.ask(command, within)
        log.debug("%s answered %s", name, answer)
        return answer

    async def _publish(self, command: Command) -> None:
        name = f"{command.topic} {command.body.get('action')}"
        with child_span(name, SpanKind.PRODUCER, {"messaging.destination.name": command.topic}):
            await self.publisher.publish(command.topic, command.body)
        log.debug("published %s to %s", command.body["action"], command.topic)


def apply(order: Order, snapshot: SagaSnapshot) -> Order:
    outcome = snapshot.outcome
    if outcome is None:
        return order.record_steps(snapshot.steps, snapshot.at)
    if outcome.status is OrderStatus.COMPLETED:
        return order.complete(snapshot.steps, snapshot.at)
    assert outcome.reason is not None
    return order.reject(outcome.reason, outcome.message, snapshot.steps, snapshot.at)


def outcome_of(order: Order) -> Outcome:
    return Outcome(status=order.status, reason=order.reason, message=order.message)

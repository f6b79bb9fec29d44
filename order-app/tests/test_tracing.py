"""The saga as one trace: its input carries the request's context to every activity's span,
and the commands an activity publishes carry that span's."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dapr_helpers import tracing
from dapr_helpers.tracing import current_traceparent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from order_app.adapters.repository import OrderRepository
from order_app.domain import Order, OrderRequest, StepName, StepRecord
from order_app.workflow.activities import SagaActivities
from order_app.workflow.messages import Answer, Command, SagaInput, SagaSnapshot
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.order import AnsweringParticipants

from .conftest import saga_input  # type: ignore[import-not-found]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)


def test_every_activity_of_the_saga_carries_the_requests_context(start_saga: Any) -> None:
    run = start_saga(traceparent=TRACEPARENT)
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge")
    assert run.finished
    snapshots = run.snapshots()
    assert len(snapshots) == 2  # the pivot's records the outcome too
    assert {SagaSnapshot.model_validate(s).traceparent for s in snapshots} == {TRACEPARENT}


def test_an_input_from_before_the_context_was_carried_still_parses() -> None:
    stored = saga_input().model_dump(mode="json")
    del stored["traceparent"]
    assert SagaInput.model_validate(stored).traceparent is None


class ContextRecordingPublisher(RecordingPublisher):
    """Notes the context each publish is made in: what the sidecar call would carry."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[str | None] = []

    async def publish(self, topic: str, data: Any) -> None:
        self.contexts.append(current_traceparent())
        await super().publish(topic, data)


class ContextRecordingParticipants(AnsweringParticipants):
    """Notes the context each request is asked in: what the invocation would carry."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[str | None] = []

    async def ask(self, command: Command, within: timedelta) -> Answer:
        self.contexts.append(current_traceparent())
        return await super().ask(command, within)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()

    def exporter(name: str) -> SpanExporter:
        return memory

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    monkeypatch.setattr(tracing, "_exporter", exporter)
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(tracing, "_configured", False)
    provider = tracing.setup_tracing("order")
    assert provider is not None
    yield memory
    provider.shutdown()


async def test_the_activitys_span_continues_the_saga_and_its_commands_carry_it(
    spans: InMemorySpanExporter,
) -> None:
    orders = OrderRepository(InMemoryStateStore())
    request = OrderRequest(
        login="ann", email="a@b.cd", product_id=1, quantity=1, amount=Decimal(5), dtime=NOW
    )
    await orders.add(Order.create(7, request, NOW))
    publisher, participants = ContextRecordingPublisher(), ContextRecordingParticipants()
    activities = SagaActivities(publisher, participants, orders)
    run = saga_input(traceparent=TRACEPARENT)
    steps = (StepRecord(name=StepName.RESERVE_STOCK).request(NOW),)

    def snapshot(**sent: tuple[Command, ...]) -> Any:
        return SagaSnapshot(order_id=7, at=NOW, steps=steps, traceparent=run.traceparent, **sent)

    asked = (run.command(StepName.RESERVE_STOCK), run.command(StepName.RESERVE_COURIER))
    await activities.record_and_send(None, snapshot(requests=asked).model_dump(mode="json"))  # type: ignore[arg-type]
    released = (run.compensation(StepName.RESERVE_STOCK, 1),)
    await activities.record_and_send(None, snapshot(commands=released).model_dump(mode="json"))  # type: ignore[arg-type]

    assert tracing._provider is not None
    tracing._provider.force_flush()
    finished = spans.get_finished_spans()
    first, second = [s for s in finished if s.name == "saga record_and_send"]
    for activity in (first, second):
        assert format(activity.context.trace_id, "032x") == TRACE_ID
        assert activity.parent is not None and format(activity.parent.span_id, "016x") == "00f067aa0ba902b7"
        assert activity.attributes is not None and activity.attributes["order.id"] == 7
    by_name: dict[str, ReadableSpan] = {s.name: s for s in finished}
    invocations = [by_name["invoke stock.reserve"], by_name["invoke delivery.reserve"]]
    for invocation in invocations:
        assert invocation.kind is SpanKind.CLIENT
        assert invocation.parent is not None and invocation.parent.span_id == first.context.span_id
    publish = by_name["stock-commands release"]
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is not None and publish.parent.span_id == second.context.span_id

    def traceparent(span: ReadableSpan) -> str:
        return f"00-{TRACE_ID}-{format(span.context.span_id, '016x')}-01"

    assert sorted(participants.contexts) == sorted(traceparent(s) for s in invocations)  # type: ignore[type-var]
    assert publisher.contexts == [traceparent(publish)]

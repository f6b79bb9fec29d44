"""Tracing from the environment: what is exported, and how the context travels."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dapr_helpers import tracing
from dapr_helpers.service import service_app
from dapr_helpers.tracing import (
    child_span,
    continued_span,
    current_traceparent,
    exporter_names,
    inject,
    message_span,
    service_name,
)
from fastapi import Request
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "Zipkin, otlp"}, ["zipkin", "otlp"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z:9411/api/v2/spans"}, ["zipkin"]),
    ],
)
def test_the_environment_names_the_exporters(env: dict[str, str], names: list[str]) -> None:
    assert exporter_names(env) == names


def test_each_exporter_reads_its_own_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.zipkin.json import ZipkinExporter

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://zipkin:9411/api/v2/spans")
    otlp, zipkin = tracing._exporter("otlp"), tracing._exporter("zipkin")
    assert isinstance(otlp, OTLPSpanExporter) and otlp._endpoint == "http://collector:4318/v1/traces"
    assert isinstance(zipkin, ZipkinExporter) and zipkin.endpoint == "http://zipkin:9411/api/v2/spans"
    assert tracing._exporter("jaeger") is None  # unknown: warned about and left out


def test_the_service_is_named_by_otel_then_by_the_app_id() -> None:
    assert service_name("stock", {}) == "stock"
    assert service_name("stock", {"APP_ID": "stock-app"}) == "stock-app"
    assert service_name("stock", {"APP_ID": "stock-app", "OTEL_SERVICE_NAME": "s"}) == "s"


def test_without_an_exporter_nothing_is_set_up_or_instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_ZIPKIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(tracing, "_configured", False)
    app = service_app("quiet", "no tracing")
    assert tracing._provider is None and tracing._configured
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert current_traceparent() is None
    assert inject({"content-type": "application/json"}) == {"content-type": "application/json"}


Finished = Callable[[], list[ReadableSpan]]


@pytest.fixture
def finished(monkeypatch: pytest.MonkeyPatch) -> Iterator[Finished]:
    """A provider set up as `OTEL_TRACES_EXPORTER=zipkin` would, exporting to memory;
    the fixture is the spans finished so far."""
    memory = InMemorySpanExporter()

    def exporter(name: str) -> SpanExporter:
        assert name == "zipkin"
        return memory

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    monkeypatch.setattr(tracing, "_exporter", exporter)
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(tracing, "_configured", False)
    provider = tracing.setup_tracing("test")
    assert provider is not None

    def spans() -> list[ReadableSpan]:
        provider.force_flush()
        return list(memory.get_finished_spans())

    yield spans
    provider.shutdown()


def test_a_request_continues_the_callers_trace_and_passes_it_on(finished: Finished) -> None:
    """The server span is the caller's child; a call made while serving carries the server span."""
    app = service_app("svc", "traced")
    seen: dict[str, Any] = {}

    @app.get("/svc/work")
    async def work(request: Request) -> dict[str, str]:
        seen.update(inject({}))
        return {}

    with TestClient(app) as client:
        assert client.get("/svc/work", headers={"traceparent": PARENT}).status_code == 200
        assert client.get("/healthz").status_code == 200
    (server,) = finished()
    assert server.kind is SpanKind.SERVER
    assert server.resource.attributes["service.name"] == "test"  # the first app's set-up names them
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == "b7ad6b7169203331"
    assert seen["traceparent"] == f"00-{TRACE_ID}-{format(server.context.span_id, '016x')}-01"


def test_a_continued_span_is_the_carried_contexts_child_or_a_root(finished: Finished) -> None:
    with (
        continued_span("activity", PARENT, attributes={"order.id": 7}) as span,
        child_span("publish", SpanKind.PRODUCER),
    ):
        carried = current_traceparent()
    with continued_span("orphan", None), continued_span("garbled", "00-zz"):
        pass
    by_name = {s.name: s for s in finished()}
    activity, publish = by_name["activity"], by_name["publish"]
    assert format(activity.context.trace_id, "032x") == TRACE_ID
    assert activity.attributes == {"order.id": 7}
    assert publish.parent is not None and publish.parent.span_id == span.get_span_context().span_id
    assert carried == f"00-{TRACE_ID}-{format(publish.context.span_id, '016x')}-01"
    assert by_name["orphan"].parent is None and by_name["garbled"].parent is None
    assert by_name["orphan"].context.trace_id != activity.context.trace_id


def test_a_message_continues_the_delivery_else_the_cloud_events_context(finished: Finished) -> None:
    envelope = {"traceparent": PARENT, "data": {}}
    with message_span("from the event", envelope):
        pass
    delivery = f"00-{'1' * 32}-{'2' * 16}-01"
    with continued_span("delivery", delivery), message_span("within the delivery", envelope):
        pass
    with continued_span("untraced delivery", None), message_span("after an untraced delivery", envelope):
        pass
    by_name = {s.name: s for s in finished()}
    from_event = by_name["from the event"]
    assert from_event.kind is SpanKind.CONSUMER
    assert format(from_event.context.trace_id, "032x") == TRACE_ID
    assert format(by_name["within the delivery"].context.trace_id, "032x") == "1" * 32
    after = by_name["after an untraced delivery"]
    assert format(after.context.trace_id, "032x") == TRACE_ID
    assert [link.context.span_id for link in after.links] == [by_name["untraced delivery"].context.span_id]

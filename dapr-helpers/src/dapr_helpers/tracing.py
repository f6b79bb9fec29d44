"""OpenTelemetry traces, configured by the standard environment; one saga is one trace.

`OTEL_TRACES_EXPORTER` names the exporters (`otlp`, `zipkin`, `none`; a comma-separated
list). Left unset, an exporter is chosen by the endpoint that is set
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: OTLP over HTTP;
`OTEL_EXPORTER_ZIPKIN_ENDPOINT`: Zipkin), and with neither nothing is set up: no span is
made and a request costs nothing more. The service name is `OTEL_SERVICE_NAME`, else the
Dapr app id (`APP_ID`), else the app's name; the sampler, batching and resource come from
the other `OTEL_*` variables, as the SDK reads them.

Context travels the way Dapr carries it: W3C `traceparent` on every call to the sidecar
(`inject`), which daprd copies into the CloudEvents it publishes and the calls it makes
to apps, and back from the delivery's header (the FastAPI instrumentation) or the
CloudEvent (`message_span`). A workflow carries it in its input (`continued_span`).
"""

import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

# Only W3C trace context: what daprd reads and writes (no baggage, whatever OTEL_PROPAGATORS says).
_W3C = TraceContextTextMapPropagator()
# Probes and scrapes would be most of the spans and tell nothing.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"

# The process's provider, made once: the global one cannot be replaced, and tests build
# many apps in one process (the first app's name names them all, which only tests see).
_provider: TracerProvider | None = None
_configured = False


def exporter_names(env: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters the environment asks for; [] for none."""
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names:
        if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            names = ["otlp"]
        elif env.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT"):
            names = ["zipkin"]
    return [n for n in names if n != "none"]


def _exporter(name: str) -> SpanExporter | None:
    """Each exporter reads its own endpoint variables (OTLP adds `/v1/traces` to the base one)."""
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "zipkin":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter()
    log.warning("unknown trace exporter %r ignored (expected otlp, zipkin or none)", name)
    return None


def service_name(default: str, env: Mapping[str, str] = os.environ) -> str:
    return env.get("OTEL_SERVICE_NAME") or env.get("APP_ID") or default


def setup_tracing(name: str) -> TracerProvider | None:
    """The process's tracer provider, set up from the environment on the first call;
    None when no exporter is configured."""
    global _provider, _configured
    if _configured:
        return _provider
    _configured = True
    exporters = [e for e in map(_exporter, exporter_names()) if e is not None]
    if not exporters:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name(name)}))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def instrument(app: FastAPI, name: str) -> None:
    """Server spans for `app`'s requests, continuing the caller's `traceparent`; nothing
    without an exporter (so an untraced app pays nothing per request)."""
    provider = setup_tracing(name)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],  # one span a request, not three
    )


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """`headers` with the current span's `traceparent` (and `tracestate`), if there is one."""
    _W3C.inject(headers)
    return headers


def current_traceparent() -> str | None:
    """The current span's context as a W3C `traceparent`, to carry where headers do not go."""
    return inject({}).get("traceparent")


def _context_of(traceparent: Any) -> Context | None:
    if not isinstance(traceparent, str) or not traceparent:
        return None
    context = _W3C.extract({"traceparent": traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


@contextmanager
def continued_span(
    name: str,
    traceparent: str | None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int | bool] | None = None,
) -> Iterator[Span]:
    """The current span for work done later on behalf of `traceparent` (a workflow's
    activity): its child; a root without one."""
    parent = _context_of(traceparent) or Context()  # never the worker's own current span
    with _tracer().start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as span:
        yield span


@contextmanager
def child_span(
    name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, str | int | bool] | None = None
) -> Iterator[Span]:
    """A span of the current one (a publish within a handler: `SpanKind.PRODUCER`)."""
    with _tracer().start_as_current_span(name, kind=kind, attributes=attributes) as span:
        yield span


@contextmanager
def message_span(
    name: str, envelope: Any, attributes: Mapping[str, str | int | bool] | None = None
) -> Iterator[Span]:
    """The current span for handling one delivered CloudEvent.

    Its parent is the current span: the delivery's server span, which continued the
    `traceparent` header daprd sets from the CloudEvent's. When that span starts a trace
    of its own (the subscriber's sidecar sent no context: `samplingRate: "0"`), the
    message continues the CloudEvent's `traceparent` instead, linked to the server span."""
    current = trace.get_current_span()
    parent, links = None, None
    event = (
        _context_of(envelope.get("traceparent") or envelope.get("traceid"))
        if isinstance(envelope, dict)
        else None
    )
    # An SDK span has `parent`; a root one (or the no-op span of an untraced app) has None.
    if event is not None and getattr(current, "parent", None) is None:
        parent = event
        if current.get_span_context().is_valid:
            links = [Link(current.get_span_context())]
    with _tracer().start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes, links=links
    ) as span:
        yield span


def _tracer() -> trace.Tracer:
    # Looked up at each use: the provider may be set up after this module is imported. Ours
    # first: the global one may have been set (once and for all) by someone else.
    provider = _provider or trace.get_tracer_provider()
    return provider.get_tracer("dapr_helpers")

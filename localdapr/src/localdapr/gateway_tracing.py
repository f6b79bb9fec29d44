"""The gateway's own span for each request, as an ingress controller with OpenTelemetry on
makes one: the first span of a saga's trace, before the order app's.

Configured by the same standard environment as the apps (`OTEL_TRACES_EXPORTER`, or an
`OTEL_EXPORTER_ZIPKIN_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` alone); the service name
is `gateway`. Without an exporter there is no tracer and the gateway only passes a
caller's `traceparent` on. A provider of its own, not the global one: under localdapr
the gateway shares its process with the sidecars, which export nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

SERVICE = "gateway"
TRACE_HEADERS = ("traceparent", "tracestate")


def exporter_names(env: Mapping[str, str]) -> list[str]:
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names:
        if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            names = ["otlp"]
        elif env.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT"):
            names = ["zipkin"]
    return [n for n in names if n in ("otlp", "zipkin")]


class GatewayTracer:
    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = provider.get_tracer("localdapr.gateway")
        self.w3c = TraceContextTextMapPropagator()  # W3C only, as ingress-nginx and daprd

    @contextmanager
    def span(
        self, method: str, path: str, headers: Mapping[str, str]
    ) -> Iterator[tuple[Span, dict[str, str]]]:
        """A server span continuing the caller's context; yields it and the headers that
        carry it upstream."""
        from opentelemetry.trace import SpanKind

        parent = self.w3c.extract({k.lower(): v for k, v in headers.items() if k.lower() in TRACE_HEADERS})
        attributes = {"http.request.method": method, "url.path": path}
        with self.tracer.start_as_current_span(
            f"{method} {path}", context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            self.w3c.inject(carrier)
            yield span, carrier

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what is still batched


def tracer_from_env(env: Mapping[str, str] = os.environ) -> GatewayTracer | None:
    names = exporter_names(env)
    if not names:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: SERVICE}))
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            from opentelemetry.exporter.zipkin.json import ZipkinExporter

            provider.add_span_processor(BatchSpanProcessor(ZipkinExporter()))
    return GatewayTracer(provider)

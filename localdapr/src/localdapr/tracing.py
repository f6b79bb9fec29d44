"""W3C trace context as daprd propagates it, from the `tracing` of a sidecar's Configuration.

localdapr exports no spans; what it mirrors is what an app or subscriber can see: the
`traceparent` of published CloudEvents, of calls into the app and of HTTP API responses.
dapr/dapr `pkg/runtime/runtime.go` setupTracing registers an OpenTelemetry TracerProvider only
when an exporter is configured (stdout, zipkin or otel endpoint) or `samplingRate` is set at
all; its sampler is `ParentBased(TraceIDRatioBased(rate))` (`pkg/diagnostics/tracing_sampler.go`).
Without a provider every span is OpenTelemetry's no-op one: it carries the incoming context
unchanged, or none (an invalid context: "" in a CloudEvent, zeros in a header). The HTTP trace
middleware runs unless the rate is explicitly 0 (`pkg/api/http/server.go` useTracing,
`pkg/diagnostics/http_tracing.go`); the default rate of an unparsable or empty one is 1e-4.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

ZEROS = "00-00000000000000000000000000000000-0000000000000000-00"
_W3C = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
DEFAULT_RATE = 1e-4  # pkg/diagnostics/utils/trace_utils.go defaultSamplingRate


@dataclass(frozen=True)
class SpanContext:
    trace_id: str
    span_id: str
    flags: int
    state: str = ""

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)

    def w3c(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def parse_traceparent(value: str | None, state: str | None = None) -> SpanContext | None:
    """diagnostics SpanContextFromW3CString: a valid context, or None (ids of zeros are invalid)."""
    m = _W3C.match((value or "").strip().lower())
    if m is None or m.group(1) == "ff" or set(m.group(2)) == {"0"} or set(m.group(3)) == {"0"}:
        return None
    return SpanContext(m.group(2), m.group(3), int(m.group(4), 16), state or "")


def parse_grpc_metadata(metadata: dict[str, Any]) -> SpanContext | None:
    """diagnostics SpanContextFromIncomingGRPCMetadata: `grpc-trace-bin` (OpenCensus binary:
    version 0, then fields 0 trace id, 1 span id, 2 options), else `traceparent`/`tracestate`."""
    binary = metadata.get("grpc-trace-bin")
    if isinstance(binary, bytes):
        if len(binary) >= 29 and binary[0] == 0 and binary[1] == 0 and binary[18] == 1 and binary[27] == 2:
            return parse_traceparent(f"00-{binary[2:18].hex()}-{binary[19:27].hex()}-{binary[28]:02x}")
        return None
    return parse_traceparent(metadata.get("traceparent"), metadata.get("tracestate"))


def _rate(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return DEFAULT_RATE


@dataclass(frozen=True)
class Tracing:
    provider: bool  # a TracerProvider is registered: spans get ids of their own
    middleware: bool  # the HTTP API sets `traceparent` on its responses
    rate: float

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Tracing:
        spec = spec or {}
        zipkin = (spec.get("zipkin") or {}).get("endpointAddress")
        otel = spec.get("otel") or {}
        exporter = (
            bool(spec.get("stdout"))
            or bool(zipkin)
            or bool(otel.get("endpointAddress") and otel.get("protocol"))
        )
        sampling = spec.get("samplingRate")
        rate = _rate(sampling)
        return cls(provider=exporter or sampling not in (None, ""), middleware=rate != 0, rate=rate)

    def span(self, parent: SpanContext | None) -> SpanContext | None:
        """The span daprd starts for a request with this parent context (None: invalid)."""
        if not self.provider:
            return parent  # the no-op tracer hands the parent's context on as it is
        trace_id = parent.trace_id if parent else os.urandom(16).hex()
        if parent is not None:
            sampled = parent.sampled
        else:
            # TraceIDRatioBased: the trace id's low 8 bytes, shifted right once, against rate * 2^63.
            sampled = self.rate >= 1 or (int(trace_id[16:], 16) >> 1) < int(self.rate * (1 << 63))
        return SpanContext(trace_id, os.urandom(8).hex(), 1 if sampled else 0, parent.state if parent else "")


def header_value(span: SpanContext | None) -> str:
    """The `traceparent` daprd writes into headers: zeros for an invalid context."""
    return span.w3c() if span is not None else ZEROS


# Where an HTTP API request keeps its span (see request_span).
SPAN_KEY = "localdapr.span"


def request_span(tracing: Tracing, request: web.Request) -> SpanContext | None:
    """The request's span: set by the trace middleware, else made here (the middleware is off
    when samplingRate is 0, but the API still starts spans)."""
    if SPAN_KEY in request:
        span: SpanContext | None = request[SPAN_KEY]
        return span
    parent = parse_traceparent(request.headers.get("traceparent"), request.headers.get("tracestate"))
    return tracing.span(parent)

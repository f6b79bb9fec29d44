"""The `traceparent` a subscriber's sidecar sends with a delivery, in every tracing set-up
(the contract tests check the same against daprd where a runtime can show it)."""

from __future__ import annotations

import re

from localdapr.pubsub.delivery import delivery_traceparent
from localdapr.tracing import ZEROS, Tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
W3C = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

UNTRACED = Tracing.from_spec(None)  # a Configuration without `tracing`: no-op spans
TRACED = Tracing.from_spec({"samplingRate": "1"})  # a TracerProvider
OFF = Tracing.from_spec({"samplingRate": "0"})  # no callback span at all


def test_untraced_the_events_context_is_handed_on_as_it_is() -> None:
    assert delivery_traceparent(UNTRACED, {"traceparent": PARENT, "tracestate": "a=1"}) == PARENT
    assert delivery_traceparent(UNTRACED, {"traceid": PARENT}) == PARENT  # the older field
    # An empty one still makes a span, whose invalid context (marked remote) is written.
    assert delivery_traceparent(UNTRACED, {"traceparent": ""}) == ZEROS
    assert delivery_traceparent(UNTRACED, {"traceparent": "", "traceid": PARENT}) == ZEROS
    assert delivery_traceparent(UNTRACED, {"traceparent": "garbage"}) == ZEROS
    # No trace field: no span, no header.
    assert delivery_traceparent(UNTRACED, {}) is None


def test_traced_the_delivery_is_a_span_of_the_events_trace() -> None:
    m = W3C.match(delivery_traceparent(TRACED, {"traceparent": PARENT}) or "")
    assert m is not None
    assert m.group(1) == PARENT.split("-")[1] and m.group(2) != PARENT.split("-")[2]
    assert m.group(3) == "00"  # ParentBased: the parent's decision
    root = W3C.match(delivery_traceparent(TRACED, {"traceparent": ""}) or "")
    assert root is not None and root.group(3) == "01"  # a new trace, sampled at rate 1


def test_with_sampling_off_no_context_is_sent() -> None:
    assert delivery_traceparent(OFF, {"traceparent": PARENT}) is None

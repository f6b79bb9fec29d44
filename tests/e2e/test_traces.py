"""One saga is one trace, across the order app, its workflow's activities, the commands and
replies on pub/sub, and the three participants, on either runtime, in a real Zipkin.

The apps export with `OTEL_TRACES_EXPORTER=zipkin`. The sidecars only carry the W3C context
(the CloudEvent's `traceparent`, the delivery's and invocation's headers): localdapr exports
no spans, so its Configuration has no tracing, and daprd's spans then hand the context on
unchanged. Real daprd is also given a Zipkin exporter, so its own spans join the trace.

This module runs its own stack (tracing is on from the start), once per runtime.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import Api, future_slot
from .stack import ROOT, STACK_ENV, Stack, make_stack
from .zipkin import Span, Zipkin, running_zipkin

SERVICES = {"gateway", "order", "stock", "delivery", "billing"}
# The instrumentation scopes of the apps' spans: the server spans', and dapr_helpers.tracing's.
# The apps' spans, and the gateway's (an ingress controller with OpenTelemetry on).
APP_SCOPES = {"opentelemetry.instrumentation.fastapi", "dapr_helpers", "localdapr.gateway"}


@pytest.fixture(scope="session")
def zipkin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zipkin]:
    with running_zipkin(tmp_path_factory.mktemp("zipkin")) as z:
        yield z


def traced_configuration(workdir: Path, zipkin: Zipkin) -> Path:
    """The run's Configuration with daprd's own spans sampled and sent to the same Zipkin."""
    docs = list(yaml.safe_load_all((ROOT / "config.yaml").read_text()))
    for doc in docs:
        if doc and doc.get("kind") == "Configuration":
            doc.setdefault("spec", {})["tracing"] = {
                "samplingRate": "1",
                "zipkin": {"endpointAddress": zipkin.spans_url},
            }
    path = workdir / "traced-config.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def traced_stack(runtime: str, zipkin: Zipkin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp(f"traced-{runtime}")
    env = {
        **STACK_ENV,
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": zipkin.spans_url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds: spans reach Zipkin soon after they end
    }
    config = traced_configuration(workdir, zipkin) if runtime == "dapr" else ROOT / "config.yaml"
    # The sidecars' environment reaches the gateway too (localdapr's sidecars export nothing;
    # daprd reads only OTLP variables, and its Configuration says Zipkin).
    otel = {k: v for k, v in env.items() if k.startswith("OTEL_")}
    stack = make_stack(runtime, workdir, env=env, sidecar_env=otel, config=config)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def api(traced_stack: Stack) -> Iterator[Api]:
    client = Api(traced_stack.url)
    yield client
    client.http.close()


def app_spans(spans: list[Span]) -> dict[str, set[str]]:
    """The names of the apps' own spans (daprd's carry the same service names), by service."""
    by_service: dict[str, set[str]] = {}
    for span in spans:
        if span.get("tags", {}).get("otel.scope.name") in APP_SCOPES:
            by_service.setdefault(span["localEndpoint"]["serviceName"], set()).add(span["name"])
    return by_service


def wait_for_trace(
    fetch: Callable[[], list[Span]], complete: Callable[[list[Span]], bool], timeout: float = 30
) -> list[Span]:
    """The trace once `complete` holds: its spans arrive in batches, from several processes."""
    deadline = time.monotonic() + timeout
    spans = fetch()
    while not complete(spans) and time.monotonic() < deadline:
        time.sleep(0.5)
        spans = fetch()
    return spans


def gaps(spans: list[Span], outside: set[str]) -> list[Span]:
    """The spans whose parent is neither in the trace nor one of `outside`: gaps in the tree."""
    ids = {s["id"] for s in spans} | outside
    return [s for s in spans if s.get("parentId") and s["parentId"] not in ids]


# Each step: invoked by the order app's activity and handled by its participant; each
# compensation: published by the activity, handled by its participant, whose reply is
# published and then handled by the order app (span names are Zipkin's, lower case).
INVOKED = "post /saga/commands"
COMPLETED = {
    "gateway": {"post /orders/"},
    "order": {
        "post /orders/",
        "saga record_and_send",
        "invoke stock.reserve",
        "invoke delivery.reserve",
        "invoke billing.charge",
    },
    "stock": {INVOKED},
    "delivery": {INVOKED},
    "billing": {INVOKED},
}


def ancestors(span: Span, spans: list[Span]) -> list[Span]:
    by_id = {s["id"]: s for s in spans}
    chain = []
    while (parent := by_id.get(span.get("parentId", ""))) is not None:
        chain.append(parent)
        span = parent
    return chain


def handled_within(spans: list[Span], service: str, name: str, kind: str) -> list[tuple[str, str]]:
    """The apps' spans above each `service` span `name` of `kind`, as (service, name), nearest first."""
    handlers = [
        s
        for s in spans
        if s["localEndpoint"]["serviceName"] == service and s["name"] == name and s["kind"] == kind
    ]
    assert handlers, (service, name, kind)
    return [
        (a["localEndpoint"]["serviceName"], a["name"])
        for h in handlers
        for a in ancestors(h, spans)
        if a.get("tags", {}).get("otel.scope.name") in APP_SCOPES
    ]


def has_all(expected: dict[str, set[str]]) -> Callable[[list[Span]], bool]:
    def complete(spans: list[Span]) -> bool:
        seen = app_spans(spans)
        return all(names <= seen.get(service, set()) for service, names in expected.items())

    return complete


def test_a_completed_saga_is_one_trace_from_the_callers_context(api: Api, zipkin: Zipkin) -> None:
    """The caller's `traceparent` goes through the gateway to the order app; every span of the
    saga, in all four services, is in that trace and hangs from the caller's span."""
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    login, product = api.new_account(100), api.new_product(5)
    r = api.create_order(login, product, 1, 10, future_slot(), traceparent=f"00-{trace_id}-{caller}-01")
    assert r.status_code in (200, 201, 202), r.text
    assert api.wait_final(r.json()["id"])["status"] == "completed"

    spans = wait_for_trace(
        lambda: zipkin.trace(trace_id), lambda s: has_all(COMPLETED)(s) and not gaps(s, {caller})
    )
    assert not gaps(spans, {caller})
    seen = app_spans(spans)
    for service, names in COMPLETED.items():
        assert names <= seen.get(service, set()), (service, seen)
    assert {s["localEndpoint"]["serviceName"] for s in spans} >= SERVICES
    (gateway,) = [s for s in spans if s["localEndpoint"]["serviceName"] == "gateway"]
    assert gateway["parentId"] == caller and gateway["kind"] == "SERVER"
    (request,) = [s for s in spans if s["name"] == "post /orders/" and s is not gateway]
    assert request["parentId"] == gateway["id"] and request["kind"] == "SERVER"
    # A step's handling continues its invocation.
    for participant, action in (("stock", "reserve"), ("delivery", "reserve"), ("billing", "charge")):
        assert ("order", f"invoke {participant}.{action}") in handled_within(
            spans, participant, INVOKED, "SERVER"
        )
    # Two activities: reserve both, then charge and record the outcome; each a child of the request.
    activities = [s for s in spans if s["name"] == "saga record_and_send"]
    assert len(activities) >= 2 and {a["parentId"] for a in activities} == {request["id"]}
    assert "completed" in {a["tags"].get("saga.outcome") for a in activities}


def test_a_rejected_sagas_trace_has_its_compensations(api: Api, zipkin: Zipkin) -> None:
    """Found by the order id the participants' spans are tagged with; the gateway's span of
    the request is its root, and the releases of stock and courier are in it."""
    login, product = api.new_account(0), api.new_product(5)  # no money: the charge is refused
    r = api.create_order(login, product, 1, 10, future_slot())
    assert r.status_code in (200, 201, 202), r.text
    order_id = r.json()["id"]
    assert api.wait_final(order_id)["status"] == "rejected"

    def find() -> list[Span]:
        traces = zipkin.traces("stock", annotationQuery=f"order.id={order_id}", lookback=3_600_000)
        return zipkin.trace(traces[0][0]["traceId"]) if traces else []

    expected = {
        "order": {"post /orders/", "saga record_and_send", "order-replies stock.release"},
        "stock": {INVOKED, "stock-commands release"},
        "delivery": {INVOKED, "delivery-commands release"},
        "billing": {INVOKED},
    }
    spans = wait_for_trace(find, has_all(expected))
    seen = app_spans(spans)
    for service, names in expected.items():
        assert names <= seen.get(service, set()), (service, seen)
    (root,) = [s for s in spans if not s.get("parentId")]
    assert (root["name"], root["localEndpoint"]["serviceName"]) == ("post /orders/", "gateway")
    outcomes = {s["tags"].get("saga.outcome") for s in spans if s["name"] == "saga record_and_send"}
    assert "rejected" in outcomes

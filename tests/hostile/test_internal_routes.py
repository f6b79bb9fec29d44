"""Internal routes (pub/sub handlers, /dapr/subscribe, health, ...) stay unreachable from outside.

The routes come from each app's own route table, so a new internal route is
covered without touching this file. Through the gateway each must answer the
gateway's own 404 (the app never sees it), while the same route answers on the
app's port (so the 404 proves the gateway, not a missing route). The chart's
Ingress must route only gateway.yaml's public prefixes (the four APIs, the
console, and `/` alone: pathType Exact), none of which holds an internal path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import Stack
from tests.k8s import helmtool

from .routes import AppRoute, gateway_routes, internal_routes, is_public, public_prefixes, public_routes

INTERNAL = internal_routes()
GATEWAY_404 = "404 page not found\n"
# What the sidecars serve: never part of the public surface either.
SIDECAR_PATHS = [
    "/v1.0/healthz",
    "/v1.0/metadata",
    "/v1.0/state/order-store/order-1",
    "/v1.0/publish/pubsub/billing-commands",
    "/v1.0/invoke/billing/method/billing/account/x",
    "/v1.0-beta1/workflows/dapr/order-1",
]
CHART = next(c for c in helmtool.chart_dirs() if c.name == "order-saga")
VALUES_CASES: dict[str, list[Path]] = {"default": []} | {f.stem: [f] for f in helmtool.values_files(CHART)}


def test_every_app_has_internal_routes_to_check() -> None:
    # A route table read wrongly would make the tests below vacuous.
    for app_id in public_prefixes():
        paths = {r.path for r in INTERNAL if r.app_id == app_id}
        assert {"/dapr/subscribe", "/healthz"} <= paths, app_id
        assert any(p.startswith("/events/") for p in paths), app_id


@pytest.mark.parametrize("route", INTERNAL, ids=str)
def test_internal_route_answers_404_through_the_gateway_and_reaches_no_app(
    route: AppRoute, stack: Stack
) -> None:
    direct = httpx.request(route.method, f"{stack.app_url(route.app_id)}{route.path}", json={}, timeout=10)
    assert direct.status_code != 404, f"{route} is not served by the app itself: the check proves nothing"

    through = httpx.request(route.method, f"{stack.url}{route.path}", json={}, timeout=10)
    assert (through.status_code, through.text) == (404, GATEWAY_404)


# Paths an ingress must normalise before matching (the gateway does: normalize_path).
SNEAKY = [
    pytest.param("{prefix}/../{tail}", id="dot-segments"),
    pytest.param("{prefix}/%2e%2e/{tail}", id="encoded-dots"),
    pytest.param("{prefix}/x/%2E%2E/.%2e/{tail}", id="encoded-dots-two-levels"),
    pytest.param("{prefix}/..%2f{tail}", id="encoded-slash"),
    pytest.param("{prefix}%2f..%2f{tail}", id="encoded-slashes"),
    pytest.param("//{tail}", id="double-slash"),
]


@pytest.mark.parametrize("pattern", SNEAKY)
@pytest.mark.parametrize("route", INTERNAL, ids=str)
def test_internal_route_is_not_reached_by_a_dotted_or_encoded_public_path(
    route: AppRoute, pattern: str, stack: Stack
) -> None:
    sneaky = pattern.format(prefix=public_prefixes()[route.app_id], tail=route.path.lstrip("/"))
    # Sent as is: httpx would otherwise resolve the dots itself.
    url = httpx.URL(stack.url).copy_with(raw_path=sneaky.encode())
    r = httpx.request(route.method, url, json={}, timeout=10)
    assert r.status_code == 404, f"{sneaky} -> {r.status_code} {r.text[:200]}"


@pytest.mark.parametrize("path", SIDECAR_PATHS)
def test_sidecar_apis_are_not_reachable_through_the_gateway(path: str, stack: Stack) -> None:
    for method in ("GET", "POST"):
        r = httpx.request(method, f"{stack.url}{path}", json={}, timeout=10)
        assert (r.status_code, r.text) == (404, GATEWAY_404)


@pytest.mark.parametrize("route", [r for r in public_routes() if r.method == "GET"], ids=str)
def test_public_routes_still_reach_their_app(route: AppRoute, stack: Stack) -> None:
    with httpx.stream("GET", f"{stack.url}{route.path}", timeout=10) as r:
        kind = r.headers["content-type"]
        # An event stream never ends: its headers are the answer.
        text = "" if kind.startswith("text/event-stream") else r.read().decode()
    # The app answered (its JSON, its pages and their assets, or its console's stream),
    # whatever the record's existence.
    assert text != GATEWAY_404
    assert r.status_code in (200, 404, 422)
    assert kind.startswith(
        (
            "application/json",
            "application/problem+json",
            "text/html",
            "text/css",
            "text/javascript",
            "text/event-stream",
        )
    )


def _route_key(path: dict[str, Any]) -> str:
    """An ingress path as gateway.yaml writes it: `=/path` for pathType Exact."""
    return f"={path['path']}" if path["pathType"] == "Exact" else path["path"]


def _ingress_paths(values: dict[str, Any]) -> list[dict[str, Any]]:
    ingresses = [m.obj for m in helmtool.render(CHART, values) if m.kind == "Ingress"]
    assert len(ingresses) == 1
    spec = ingresses[0]["spec"]
    assert "defaultBackend" not in spec  # nothing unrouted falls through to an app
    return [p for rule in spec["rules"] for p in rule["http"]["paths"]]


@pytest.mark.parametrize("case", sorted(VALUES_CASES))
def test_ingress_routes_only_the_public_prefixes(case: str) -> None:
    paths = _ingress_paths(helmtool.load_values(VALUES_CASES[case]))
    assert sorted(_route_key(p) for p in paths) == sorted(gateway_routes())
    assert {p["pathType"] for p in paths} <= {"Prefix", "Exact"}


@pytest.mark.parametrize("case", sorted(VALUES_CASES))
def test_no_internal_route_is_under_a_prefix_the_ingress_routes(case: str) -> None:
    routed = [_route_key(p) for p in _ingress_paths(helmtool.load_values(VALUES_CASES[case]))]
    exposed = [f"{r} (under {prefix})" for r in INTERNAL for prefix in routed if is_public(r.path, prefix)]
    assert exposed == []

"""The local gateway: the Kubernetes ingress (pathType Prefix, no rewriting) on localhost.

Public prefixes from the routes file go straight to the apps' ports; a prefix
matches whole path segments; anything unrouted, internal routes included, is
404; bodies stream through; X-Forwarded-* headers are added as ingress-nginx does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from localdapr.config import load_gateway_routes
from localdapr.gateway import Gateway, match_route, normalize_path
from localdapr.gateway_tracing import exporter_names, tracer_from_env

from .fixtures.runs import LocalDaprRun, echo_command, free_port, write_run_file


def _run_file(
    tmp_path: Path, routes: str | None = "routes:\n  /alpha: alpha\n  /beta/api: beta\n"
) -> tuple[Path, int, int]:
    alpha, beta = free_port(), free_port()
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir(exist_ok=True)
    apps = [
        {"appID": "alpha", "appDirPath": "./alpha", "appPort": alpha, "command": echo_command()},
        {"appID": "beta", "appDirPath": "./beta", "appPort": beta, "command": echo_command()},
    ]
    if routes is not None:
        (tmp_path / "gateway.yaml").write_text(routes)
    return write_run_file(tmp_path, apps), alpha, beta


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalDaprRun]]:
    run_file, _, _ = _run_file(tmp_path_factory.mktemp("gateway"))
    port = free_port()
    with LocalDaprRun(run_file, "--gateway-port", str(port)) as run:
        run.wait_ready()
        yield f"http://127.0.0.1:{port}", run
        assert run.stop() == 0


def test_prefix_routes_to_the_app_without_rewriting(gateway: tuple[str, LocalDaprRun]) -> None:
    """`/alpha`, `/alpha/` and `/alpha/x?q=1` reach app alpha with the path and query unchanged."""
    url, _ = gateway
    # The query passes through still encoded, control characters and all (found by fuzzing).
    queries = [
        ("/alpha", ""),
        ("/alpha/", ""),
        ("/alpha/orders/7", "q=1&r=2"),
        ("/alpha/x", "a=%13%F2%B7&b=c%20d"),
    ]
    for path, query in queries:
        r = httpx.get(f"{url}{path}" + (f"?{query}" if query else ""))
        assert r.status_code == 200
        assert (r.json()["app"], r.json()["path"], r.json()["query"]) == ("alpha", path, query)
    assert httpx.get(f"{url}/beta/api/x").json()["app"] == "beta"


@pytest.mark.parametrize("path", ["/", "/alphabet", "/beta", "/beta/apix", "/dapr/subscribe", "/healthz"])
def test_unrouted_paths_are_404(gateway: tuple[str, LocalDaprRun], path: str) -> None:
    """Prefixes match whole segments only; internal routes are never exposed."""
    assert httpx.get(f"{gateway[0]}{path}").status_code == 404


def test_verbs_bodies_status_and_forwarded_headers(gateway: tuple[str, LocalDaprRun]) -> None:
    """The verb, body and app status pass through; X-Forwarded-For/Host/Proto are set."""
    url, _ = gateway
    body = b"x" * (3 * 1024 * 1024)  # large enough to be streamed in chunks
    r = httpx.put(f"{url}/alpha/upload", content=body, headers={"Host": "arch.homework"})
    seen = r.json()
    assert (seen["method"], len(seen["body"])) == ("PUT", len(body))
    assert seen["headers"]["host"] == "arch.homework"
    assert seen["headers"]["x-forwarded-host"] == "arch.homework"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert httpx.delete(f"{url}/alpha/status/409").status_code == 409


def test_apps_are_reached_directly_not_through_the_sidecar(gateway: tuple[str, LocalDaprRun]) -> None:
    """Like an ingress, the gateway calls the app port: no dapr-caller-app-id header."""
    seen = httpx.get(f"{gateway[0]}/alpha/direct").json()
    assert "dapr-caller-app-id" not in seen["headers"]


def test_ready_line_names_the_gateway(gateway: tuple[str, LocalDaprRun]) -> None:
    url, run = gateway
    port = url.rsplit(":", 1)[1]
    assert f"gateway http://localhost:{port}" in run.wait_ready()


def test_no_gateway_without_a_routes_file(tmp_path: Path) -> None:
    """Without gateway.yaml beside the run file and no --gateway-routes, no gateway is started."""
    run_file, _, _ = _run_file(tmp_path, routes=None)
    port = free_port()
    with LocalDaprRun(run_file, "--gateway-port", str(port)) as run:
        assert "gateway http" not in run.wait_ready()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/alpha", timeout=1)
        assert run.stop() == 0


def test_explicit_routes_file(tmp_path: Path) -> None:
    """--gateway-routes names another file, which replaces the default one."""
    run_file, _, _ = _run_file(tmp_path)
    other = tmp_path / "other-routes.yaml"
    other.write_text("routes:\n  /only-beta: beta\n")
    port = free_port()
    with LocalDaprRun(run_file, "--gateway-port", str(port), "--gateway-routes", str(other)) as run:
        run.wait_ready()
        assert httpx.get(f"http://127.0.0.1:{port}/only-beta/x").json()["app"] == "beta"
        assert httpx.get(f"http://127.0.0.1:{port}/alpha").status_code == 404
        assert run.stop() == 0


def test_route_to_unknown_app_is_a_one_line_error(tmp_path: Path) -> None:
    run_file, _, _ = _run_file(tmp_path, routes="routes:\n  /x: nobody\n")
    with LocalDaprRun(run_file, "--gateway-port", str(free_port())) as run:
        assert run.finish(timeout=15) == 2
    assert run.stderr.strip().count("\n") == 0 and "nobody" in run.stderr


def test_match_route_prefers_the_longest_prefix() -> None:
    routes = {"/": 1, "/orders": 2, "/orders/admin": 3}
    assert [match_route(routes, p) for p in ["/x", "/orders", "/orders/", "/orders/admin/1", "/ordersx"]] == [
        1,
        2,
        2,
        3,
        1,
    ]
    assert match_route({"/orders": 2}, "/other") is None


def test_an_exact_route_matches_its_path_alone_and_wins() -> None:
    """`=/` is pathType Exact: `/` reaches the app, `/healthz` and `//x` stay unrouted."""
    routes = {"=/": 1, "/orders": 2, "=/orders/last": 3}
    assert [match_route(routes, p) for p in ["/", "/healthz", "/orders", "/orders/last", "/orders/7"]] == [
        1,
        None,
        2,
        3,
        2,
    ]
    assert match_route({"/": 1, "=/": 2}, "/") == 2


def test_an_exact_route_is_read_from_the_routes_file(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("routes:\n  /alpha/: alpha\n  =/: alpha\n")
    assert load_gateway_routes(tmp_path / "gateway.yaml") == {"/alpha": "alpha", "=/": "alpha"}


async def test_unreachable_app_is_502() -> None:
    """An app that does not answer gives 502 Bad Gateway, as ingress-nginx does."""
    gateway = Gateway({"/down": free_port()}, port=free_port())
    await gateway.start()
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{gateway.port}/down/x")
        assert r.status_code == 502
    finally:
        await gateway.stop()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("/orders", "/orders"),
        ("/orders/", "/orders/"),
        ("/orders/7/.", "/orders/7/"),
        ("/stock/../events/pubsub/x", "/events/pubsub/x"),
        ("/a/b/..", "/a/"),
        ("/..", "/"),
        ("/x/../../healthz", "/healthz"),
    ],
)
def test_dot_segments_are_resolved_before_matching(raw: str, normalised: str) -> None:
    """An ingress matches the normalised path (RFC 3986 §5.2.4), so `..` cannot climb out of a prefix."""
    assert normalize_path(raw) == normalised


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z/api/v2/spans"}, []),
        ({"OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z:9411/api/v2/spans"}, ["zipkin"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "zipkin,otlp"}, ["zipkin", "otlp"]),
    ],
)
def test_the_gateway_traces_only_when_an_exporter_is_configured(
    env: dict[str, str], exporters: list[str]
) -> None:
    assert exporter_names(env) == exporters
    tracer = tracer_from_env(env)
    assert (tracer is not None) == bool(exporters)
    if tracer is not None:
        tracer.shutdown()

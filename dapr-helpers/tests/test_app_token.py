"""The app-token check on internal routes (dapr_helpers.app_token)."""

import pytest
from dapr_helpers.app_token import AppTokenMiddleware, is_open, require_app_token
from fastapi import FastAPI
from fastapi.testclient import TestClient

TOKEN = "s3cret-app-token"
INTERNAL = [("GET", "/dapr/subscribe"), ("POST", "/events/pubsub/shop-commands")]


def make_app(token: str | None) -> FastAPI:
    app = FastAPI(docs_url="/shop/docs", openapi_url="/shop/openapi.json")

    @app.get("/shop/items")
    async def items() -> list[int]:
        return [1]

    @app.get("/dapr/subscribe")
    async def subscribe() -> list[str]:
        return []

    @app.post("/events/pubsub/shop-commands")
    async def on_command() -> dict[str, str]:
        return {"status": "SUCCESS"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    require_app_token(app, "/shop", token=token)
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app(TOKEN))


@pytest.mark.parametrize(("method", "path"), INTERNAL)
def test_an_internal_route_refuses_a_call_without_the_token(
    client: TestClient, method: str, path: str
) -> None:
    for headers in ({}, {"dapr-api-token": "wrong"}, {"dapr-api-token": ""}):
        resp = client.request(method, path, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path"), INTERNAL)
def test_an_internal_route_answers_the_sidecar_that_sends_the_token(
    client: TestClient, method: str, path: str
) -> None:
    assert client.request(method, path, headers={"dapr-api-token": TOKEN}).status_code == 200


def test_an_unknown_path_outside_the_prefix_is_guarded_too(client: TestClient) -> None:
    # A route added later outside the public prefix is covered without being listed.
    assert client.get("/internal/new").status_code == 401
    assert client.get("/internal/new", headers={"dapr-api-token": TOKEN}).status_code == 404


def test_the_public_api_its_docs_and_health_stay_open(client: TestClient) -> None:
    for path in ("/shop/items", "/shop/docs", "/shop/openapi.json", "/healthz"):
        assert client.get(path).status_code == 200, path


def test_without_a_token_configured_nothing_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_API_TOKEN", raising=False)
    client = TestClient(make_app(None))
    assert client.get("/dapr/subscribe").status_code == 200


def test_the_token_comes_from_app_api_token_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    client = TestClient(make_app(None))
    assert client.get("/dapr/subscribe").status_code == 401
    assert client.get("/dapr/subscribe", headers={"dapr-api-token": TOKEN}).status_code == 200


def test_an_empty_token_is_never_a_password() -> None:
    with pytest.raises(ValueError):
        AppTokenMiddleware(FastAPI(), token="", public_prefix="/shop")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/shop", True),
        ("/shop/", True),
        ("/shop/x", True),
        ("/shopx", False),
        ("/healthz", True),
        ("/healthz/x", False),
        ("/readyz", True),
        ("/", False),
    ],
)
def test_the_prefix_matches_whole_segments(path: str, expected: bool) -> None:
    assert is_open(path, "/shop") is expected


def test_several_public_prefixes_and_an_exact_path_are_open() -> None:
    """As gateway.yaml writes them: `=/` is `/` alone, so `/healthz`-like paths stay guarded."""
    public = ("/shop", "/console", "=/")
    assert [is_open(p, public) for p in ("/", "/console/api", "/shop/1", "/dapr/subscribe", "/x")] == [
        True,
        True,
        True,
        False,
        False,
    ]

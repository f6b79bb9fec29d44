"""DaprHttp against a small HTTP server standing in for the sidecar."""

import socket

import pytest
from aiohttp import web
from dapr.conf import settings
from dapr_helpers.client import DaprHttp, DaprHttpError, DaprUnavailable


@pytest.fixture
async def sidecar(monkeypatch):
    seen: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append({"path": request.path_qs, "token": request.headers.get("dapr-api-token")})
        if request.path.endswith("/missing"):
            return web.Response(status=204)
        if request.path.endswith("/conflict"):
            body = {"errorCode": "ERR_STATE_SAVE", "message": "possible etag mismatch"}
            return web.json_response(body, status=409)
        return web.Response(body=b'{"a": 1}', headers={"ETag": "4"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setattr(settings, "DAPR_HTTP_PORT", port)
    monkeypatch.setattr(settings, "DAPR_HTTP_ENDPOINT", None)
    yield seen
    await runner.cleanup()


async def test_answers_with_status_body_and_etag_and_sends_the_api_token(sidecar, monkeypatch):
    monkeypatch.setattr(settings, "DAPR_API_TOKEN", "s3cret")
    dapr = DaprHttp()  # nothing connects here
    assert await dapr.request("GET", "/state/s/k") == (200, b'{"a": 1}', "4")
    assert await dapr.request("GET", "/state/s/missing") == (204, b"", None)
    assert sidecar == [
        {"path": "/v1.0/state/s/k", "token": "s3cret"},
        {"path": "/v1.0/state/s/missing", "token": "s3cret"},
    ]
    await dapr.close()


async def test_an_error_status_raises_with_daprs_error_code(sidecar):
    dapr = DaprHttp()
    with pytest.raises(DaprHttpError) as err:
        await dapr.request("POST", "/state/s/conflict", [{"key": "a"}])
    assert (err.value.status, err.value.code, err.value.is_conflict) == (409, "ERR_STATE_SAVE", True)
    await dapr.close()


async def test_a_sidecar_that_is_not_there_is_unavailable_at_once(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(settings, "DAPR_HTTP_PORT", port)
    monkeypatch.setattr(settings, "DAPR_HTTP_ENDPOINT", None)
    dapr = DaprHttp()
    with pytest.raises(DaprUnavailable):
        await dapr.request("GET", "/state/s/k")
    await dapr.close()

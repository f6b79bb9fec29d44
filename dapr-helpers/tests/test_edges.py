import logging

from dapr_helpers.problems import (
    Problem,
    install_http_problem_handlers,
    install_problem_handlers,
    map_errors,
    map_http_errors,
)
from dapr_helpers.pubsub import DaprStatus, handle_cloud_event
from dapr_helpers.service import hide_internal_routes, service_app
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_validator

log = logging.getLogger("test")


class Thing(BaseModel):
    order_id: int
    size: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    def create(thing: Thing) -> Thing:
        if thing.size > 10:
            raise Problem(409, "too_big", f"size {thing.size} is over 10", limit=10)
        return thing

    return app


def test_problem_becomes_problem_json_with_code():
    resp = TestClient(_app()).post("/things", json={"order_id": 1, "size": 11})
    assert resp.status_code == 409
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "too_big"
    assert resp.json()["limit"] == 10


def test_invalid_request_is_422_naming_the_field():
    resp = TestClient(_app()).post("/things", json={"order_id": 1, "size": "big"})
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"
    assert resp.json()["errors"][0]["field"] == "size"


async def test_malformed_event_is_dropped_and_never_handled():
    handled = []

    async def handle(thing: Thing) -> None:
        handled.append(thing)

    reply = await handle_cloud_event({"data": {"order_id": "x"}}, Thing.model_validate, handle, log)
    assert reply.status == DaprStatus.DROP
    assert handled == []


async def test_failing_handler_asks_for_retry_and_good_one_for_success():
    async def boom(thing: Thing) -> None:
        raise ConnectionError("sidecar down")

    async def fine(thing: Thing) -> None:
        return None

    event = {"data": {"order_id": 3, "size": 1}}
    assert (await handle_cloud_event(event, Thing.model_validate, boom, log)).status == DaprStatus.RETRY
    assert (await handle_cloud_event(event, Thing.model_validate, fine, log)).status == DaprStatus.SUCCESS


def test_unreachable_sidecar_is_503_not_500():
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/down")
    def down() -> None:
        raise TimeoutError("Dapr health check timed out")

    resp = TestClient(app).get("/down")
    assert resp.status_code == 503
    assert resp.json()["code"] == "dapr_unavailable"


def test_invalid_json_body_names_the_body():
    resp = TestClient(_app()).post("/things", content=b"{oops", headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "body"


class _Refused(Exception):
    code = "refused"


class _Missing(_Refused):
    code = "missing"


def test_mapped_domain_errors_keep_their_code_and_status():
    app = FastAPI()
    map_errors(app, _Refused, {_Missing: 404})

    @app.get("/{what}")
    def fail(what: str) -> None:
        raise _Missing("gone") if what == "missing" else _Refused("no")

    client = TestClient(app)
    assert (client.get("/missing").status_code, client.get("/missing").json()["code"]) == (404, "missing")
    assert (client.get("/other").status_code, client.get("/other").json()["code"]) == (409, "refused")


class _BadField(ValueError):
    code = "bad_size"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = "size"


class _Sized(BaseModel):
    size: int

    @field_validator("size")
    @classmethod
    def small(cls, size: int) -> int:
        if size > 10:
            raise _BadField(f"size {size} is over 10")
        return size


def _http_app() -> FastAPI:
    app = service_app("things", "Things.", prefix="/things", problems=http_problems, probes=False)
    map_http_errors(app, {_Refused: 409}, field="Idempotency-Key")

    @app.post("/things")
    def create(thing: _Sized) -> _Sized:
        return thing

    @app.get("/things/{what}")
    def fail(what: str) -> None:
        raise {"refused": _Refused("no"), "down": TimeoutError("t"), "crash": RuntimeError("x")}[what]

    @app.get("/internal")
    def internal() -> None: ...

    hide_internal_routes(app, "/things")
    return app


def http_problems(app: FastAPI) -> None:
    install_http_problem_handlers(app, field_error=_BadField)


def test_http_problems_are_titled_by_status_and_name_the_instance():
    client = TestClient(_http_app(), raise_server_exceptions=False)
    resp = client.post("/things", content=b"{oops", headers={"content-type": "application/json"})
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert (resp.status_code, body["title"], body["code"], body["field"]) == (
        400,
        "Bad Request",
        "malformed_body",
        "body",
    )
    assert body["instance"] == "/things"
    body = client.post("/things", json={"size": 11}).json()
    assert (body["status"], body["code"], body["field"]) == (422, "bad_size", "size")
    body = client.post("/things", json={"size": "big"}).json()
    assert (body["status"], body["code"], body["field"]) == (422, "invalid_size", "size")
    assert client.post("/things", json={}).json()["code"] == "missing_field"
    body = client.get("/things/refused").json()
    assert (body["status"], body["title"], body["code"], body["field"]) == (
        409,
        "Conflict",
        "refused",
        "Idempotency-Key",
    )
    assert client.get("/things/down").json()["code"] == "dependency_unavailable"
    assert (client.get("/things/crash").status_code, client.get("/things/crash").json()["code"]) == (
        500,
        "internal_error",
    )
    assert client.get("/nowhere").json() | {"detail": None} == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": None,
        "code": "not_found",
        "instance": "/nowhere",
    }


def test_service_app_serves_its_docs_under_its_prefix_and_hides_the_internal_routes():
    client = TestClient(_http_app())
    paths = client.get("/things/openapi.json").json()["paths"]
    assert sorted(paths) == ["/things", "/things/{what}"]
    assert client.get("/healthz").status_code == 404  # probes=False: the app answers its own

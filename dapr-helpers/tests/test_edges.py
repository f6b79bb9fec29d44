import logging

from dapr_helpers.problems import Problem, install_problem_handlers, map_errors
from dapr_helpers.pubsub import DaprStatus, handle_cloud_event
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

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

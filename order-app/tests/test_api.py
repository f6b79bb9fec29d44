"""The public API and the reply subscription, on in-memory fakes (no sidecar)."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.main import create_app
from order_app.service.orders import OrderService
from saga_testkit.dapr import InMemoryStateStore
from saga_testkit.order import FakeDirectory, FakeSagas

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ORDER = {
    "login": "Edmond90",
    "e_mail": "Willie53@hotmail.com",
    "id_product": 1,
    "quntity": 1,
    "amount": 1,
    "dtime": "2030-01-08 10:00:00",
}


@dataclass
class Harness:
    http: TestClient
    store: InMemoryStateStore
    directory: FakeDirectory
    sagas: FakeSagas
    orders: OrderRepository

    def post(self, body: Any = None, headers: dict[str, str] | None = None, path: str = "/orders", **kw: Any):
        return self.http.post(path, json=body if body is not None else ORDER, headers=headers, **kw)


@pytest.fixture
def api() -> Iterator[Harness]:
    store, directory, sagas = InMemoryStateStore(), FakeDirectory(), FakeSagas()
    orders = OrderRepository(store)
    settings = Settings(step_timeout_seconds=12, max_wait_seconds=1)
    service = OrderService(orders, IdempotencyKeys(store), directory, sagas, settings, clock=lambda: NOW)
    with TestClient(create_app(settings, service=service)) as http:
        yield Harness(http, store, directory, sagas, orders)


def assert_problem(resp, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == code
    assert body["status"] == status
    if field:
        assert body["field"] == field
    return body


# -- creating an order ------------------------------------------------------


def test_creates_a_pending_order_from_the_assignments_request(api):
    resp = api.post(path="/orders/")

    assert resp.status_code == 201
    assert resp.headers["location"] == "/orders/1"
    body = resp.json()
    assert body | {"steps": None, "created_at": None, "updated_at": None} == {
        "id": 1,
        "login": "Edmond90",
        "e_mail": "Willie53@hotmail.com",
        "id_product": 1,
        "quantity": 1,
        "amount": 1.0,
        "dtime": "2030-01-08T10:00:00Z",
        "status": "pending",
        "reason": None,
        "message": "The order is being processed.",
        "steps": None,
        "created_at": None,
        "updated_at": None,
    }
    assert [s["state"] for s in body["steps"]] == ["not_started"] * 3


def test_starts_one_saga_with_the_orders_data_and_the_configured_timeout(api):
    api.post({**ORDER, "amount": "12.50", "dtime": "2030-01-08T10:45:00+00:00"})

    (saga,) = api.sagas.started
    assert (saga.order_id, saga.login, saga.product_id, saga.quantity) == (1, "Edmond90", 1, 1)
    assert str(saga.amount) == "12.50"
    assert saga.slot_start == datetime(2030, 1, 8, 10, tzinfo=UTC)
    assert saga.timeouts.step.total_seconds() == 12


def test_accepts_the_canonical_field_names_too(api):
    body = {
        "login": "ann",
        "email": "ann@example.com",
        "product_id": 2,
        "quantity": 3,
        "amount": 9.5,
        "dtime": "2030-01-08T10:00:00",
    }
    resp = api.post(body)

    assert resp.status_code == 201
    assert (resp.json()["id_product"], resp.json()["quantity"]) == (2, 3)


def test_order_ids_count_up(api):
    assert [api.post().json()["id"] for _ in range(3)] == [1, 2, 3]


# -- refused requests change nothing ----------------------------------------


BAD_BODIES = [
    ({**ORDER, "amount": -5}, "invalid_amount", "amount"),
    ({**ORDER, "amount": 0}, "invalid_amount", "amount"),
    ({**ORDER, "amount": "1.005"}, "invalid_amount", "amount"),
    ({**ORDER, "amount": "lots"}, "invalid_amount", "amount"),
    # Found by fuzzing: quantizing this overflowed Decimal's context (a 500).
    ({**ORDER, "amount": 1.65799178761907e70}, "invalid_amount", "amount"),
    ({**ORDER, "dtime": "2020-01-08 10:00:00"}, "dtime_in_past", "dtime"),
    ({**ORDER, "dtime": "soon"}, "invalid_dtime", "dtime"),
    ({**ORDER, "quntity": 0}, "invalid_quntity", "quntity"),
    ({**ORDER, "id_product": "one"}, "invalid_id_product", "id_product"),
    # A boolean is no count or id (pydantic would read true as 1).
    ({**ORDER, "quntity": True}, "invalid_quntity", "quntity"),
    ({**ORDER, "id_product": True}, "invalid_id_product", "id_product"),
    # Nor is a string, which the API document does not allow (pydantic would read "1" as 1).
    ({**ORDER, "quntity": "1"}, "invalid_quntity", "quntity"),
    ({**ORDER, "id_product": "1"}, "invalid_id_product", "id_product"),
    ({**ORDER, "e_mail": "not-an-address"}, "invalid_email", "e_mail"),
    ({**ORDER, "login": ""}, "invalid_login", "login"),
    ({k: v for k, v in ORDER.items() if k != "amount"}, "missing_field", "amount"),
    ({k: v for k, v in ORDER.items() if k != "quntity"}, "missing_field", "quntity"),
    ({**ORDER, "login": "nobody"}, "unknown_account", "login"),
    ({**ORDER, "id_product": 99}, "unknown_product", "id_product"),
    ([ORDER], "invalid_body", "body"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_BODIES, ids=[c for _, c, _ in BAD_BODIES])
def test_refuses_a_bad_order_with_a_problem_naming_the_field_and_changes_nothing(api, body, code, field):
    assert_problem(api.post(body), 422, code, field)

    assert api.store.data == {}
    assert api.sagas.started == []


def test_refuses_a_malformed_body_with_400(api):
    resp = api.http.post("/orders", content=b"{not json", headers={"content-type": "application/json"})

    assert_problem(resp, 400, "malformed_body")
    assert api.store.data == {}


def test_answers_503_when_billing_cannot_be_asked_and_changes_nothing(api):
    api.directory.down = True

    assert_problem(api.post(), 503, "dependency_unavailable")
    assert api.store.data == {}


def test_removes_the_order_again_when_its_saga_cannot_start(api):
    api.sagas.start_fails = True

    assert_problem(api.post(headers={"Idempotency-Key": "k1"}), 503, "saga_unavailable")
    assert api.http.get("/orders/1").status_code == 404
    assert api.http.get("/orders", params={"login": "Edmond90"}).json()["items"] == []
    api.sagas.start_fails = False
    assert api.post(headers={"Idempotency-Key": "k1"}).status_code == 201  # the key is free again


# -- idempotency ------------------------------------------------------------


def test_a_retry_with_the_same_idempotency_key_and_body_returns_the_same_order(api):
    first = api.post(headers={"Idempotency-Key": "abc"})
    again = api.post({**ORDER, "quantity": ORDER["quntity"]}, headers={"Idempotency-Key": "abc"})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == "/orders/1"
    assert again.json()["id"] == first.json()["id"]
    assert len(api.sagas.started) == 1


def test_the_same_idempotency_key_with_another_body_is_refused_and_changes_nothing(api):
    api.post(headers={"Idempotency-Key": "abc"})
    before = api.store.snapshot()

    resp = api.post({**ORDER, "amount": 2}, headers={"Idempotency-Key": "abc"})

    assert_problem(resp, 422, "idempotency_key_reused", "Idempotency-Key")
    assert api.store.snapshot() == before
    assert len(api.sagas.started) == 1


def test_different_idempotency_keys_make_different_orders(api):
    assert api.post(headers={"Idempotency-Key": "a"}).json()["id"] == 1
    assert api.post(headers={"Idempotency-Key": "b"}).json()["id"] == 2


# -- reading orders ---------------------------------------------------------


def test_reads_an_order_and_404s_an_unknown_one(api):
    api.post()

    assert api.http.get("/orders/1").json()["status"] == "pending"
    assert_problem(api.http.get("/orders/2"), 404, "not_found")


def test_waiting_for_a_pending_order_is_bounded(api):
    api.post()

    resp = api.http.get("/orders/1", params={"wait": 3600})  # capped at max_wait_seconds (1)

    assert resp.status_code == 200
    assert resp.json()["status"] == "pending"


def test_waiting_returns_the_final_status_at_once_when_the_saga_is_done(api):
    api.post()
    api.http.portal.call(api.orders.update, 1, lambda o: o.complete(o.steps, NOW))

    assert api.http.get("/orders/1", params={"wait": 30}).json()["status"] == "completed"


def app_waiting_an_hour_between_reads() -> tuple[Any, OrderRepository]:
    """An order app whose `?wait=` re-reads the record only hourly: anything that ends a
    wait sooner is the signal under test."""
    store = InMemoryStateStore()
    orders = OrderRepository(store)
    settings = Settings(max_wait_seconds=30, wait_poll_seconds=3600)
    service = OrderService(
        orders, IdempotencyKeys(store), FakeDirectory(), FakeSagas(), settings, clock=lambda: NOW
    )
    return create_app(settings, service=service), orders


def test_a_waiting_request_ends_when_this_process_records_the_outcome():
    """Woken by the activity's signal, not by re-reading the record (its poll is an hour)."""
    app, orders = app_waiting_an_hour_between_reads()
    with TestClient(app) as http, ThreadPoolExecutor(1) as pool:
        http.post("/orders", json=ORDER)
        waiting = pool.submit(http.get, "/orders/1", params={"wait": 30})
        while app.state.outcomes.waiting() == 0:
            time.sleep(0.01)
        http.portal.call(orders.update, 1, lambda o: o.complete(o.steps, NOW))  # type: ignore[union-attr]
        app.state.outcomes.recorded(1)

        resp = waiting.result(timeout=15)  # the wait's own deadline is 30 s

    assert resp.json()["status"] == "completed"
    assert app.state.outcomes.waiting() == 0


def test_a_waiting_request_ends_at_once_when_shutdown_begins_then_new_ones_get_503():
    """A long-poll must not hold uvicorn's shutdown: it answers the record as it is then."""
    app, _ = app_waiting_an_hour_between_reads()
    with TestClient(app) as http, ThreadPoolExecutor(1) as pool:
        http.post("/orders", json=ORDER)
        waiting = pool.submit(http.get, "/orders/1", params={"wait": 30})
        while app.state.outcomes.waiting() == 0:
            time.sleep(0.01)
        started = time.monotonic()
        app.state.shutdown.set()  # what SIGTERM does (dapr_helpers.shutdown)

        resp = waiting.result(timeout=15)
        assert time.monotonic() - started < 5  # not the wait's 30 s, nor its hour-long poll
        assert (resp.status_code, resp.json()["status"]) == (200, "pending")

        refused = http.get("/orders/1")
        assert_problem(refused, 503, "shutting_down")
        assert refused.headers["Retry-After"] == "1"


def test_waiting_on_an_order_that_does_not_exist_is_a_404_at_once(api):
    api.sagas.engine_down = True  # not even the engine is needed to say so

    assert_problem(api.http.get("/orders/5", params={"wait": 30}), 404, "not_found")


def test_last_is_the_most_recent_order(api):
    assert_problem(api.http.get("/orders/last"), 404, "not_found")
    api.post()
    api.post({**ORDER, "login": "ann"})

    assert api.http.get("/orders/last").json()["id"] == 2


def test_lists_a_logins_orders_newest_first_in_pages(api):
    for _ in range(3):
        api.post()
    api.post({**ORDER, "login": "ann"})

    page = api.http.get("/orders", params={"login": "Edmond90", "limit": 2, "offset": 1}).json()

    assert [o["id"] for o in page["items"]] == [2, 1]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [o["id"] for o in api.http.get("/orders").json()["items"]] == [4, 3, 2, 1]


def test_refuses_a_bad_page_size(api):
    assert_problem(api.http.get("/orders", params={"limit": 0}), 422, "invalid_limit", "limit")


# -- replies from the participants --------------------------------------------


def cloud_event(data: Any) -> dict[str, Any]:
    return {"id": "e1", "source": "stock", "type": "com.dapr.event.sent", "specversion": "1.0", "data": data}


REPLY = {"order_id": 1, "participant": "stock", "action": "reserve", "ok": True}


def test_advertises_the_replies_subscription_with_a_dead_letter_topic_it_also_reads(api):
    sub, dead = api.http.get("/dapr/subscribe").json()

    assert (sub["pubsubname"], sub["topic"], sub["deadLetterTopic"]) == (
        "pubsub",
        "order-replies",
        "order-replies-dead",
    )
    assert (dead["pubsubname"], dead["topic"], dead.get("deadLetterTopic")) == (
        "pubsub",
        "order-replies-dead",
        None,
    )
    assert not sub["route"].startswith("/orders") and not dead["route"].startswith("/orders")


def test_a_dead_lettered_reply_is_counted_once_and_listed_newest_first_in_a_bounded_record(api):
    route = api.http.get("/dapr/subscribe").json()[1]["route"]
    assert api.http.get("/orders/dead-letters").json() == {"count": 0, "recent": []}

    for n in range(25):
        event = cloud_event(REPLY | {"order_id": n}) | {"id": f"dead-{n}"}
        assert api.http.post(route, json=event).json() == {"status": "SUCCESS"}
    assert api.http.post(route, json=cloud_event("not a reply") | {"id": "dead-24"}).json() == {
        "status": "SUCCESS"
    }  # a redelivery of the last one: not counted again

    dead = api.http.get("/orders/dead-letters").json()
    assert dead["count"] == 25
    assert [e["reply"]["order_id"] for e in dead["recent"]] == [str(n) for n in range(24, 4, -1)]
    assert dead["recent"][0]["reply"] == {
        "order_id": "24",
        "participant": "stock",
        "action": "reserve",
        "ok": "True",
    }


def test_a_reply_becomes_the_workflow_event_participant_dot_action(api):
    api.post()
    route = api.http.get("/dapr/subscribe").json()[0]["route"]

    resp = api.http.post(route, json=cloud_event(REPLY))

    assert resp.json() == {"status": "SUCCESS"}
    ((order_id, name, data),) = api.sagas.events
    assert (order_id, name, data["ok"]) == (1, "stock.reserve", True)


def test_a_reply_for_a_finished_or_unknown_saga_is_acknowledged_not_raised(api):
    api.post()
    api.sagas.finished.add(1)
    route = api.http.get("/dapr/subscribe").json()[0]["route"]

    assert api.http.post(route, json=cloud_event(REPLY)).json() == {"status": "SUCCESS"}
    assert api.http.post(route, json=cloud_event(REPLY | {"order_id": 99})).json() == {"status": "SUCCESS"}
    assert api.sagas.events == []


def test_an_unreadable_reply_goes_to_the_dead_letter_topic(api):
    route = api.http.get("/dapr/subscribe").json()[0]["route"]

    assert api.http.post(route, json=cloud_event({"hello": "world"})).json() == {"status": "DROP"}


def test_a_reply_is_redelivered_later_when_the_workflow_engine_is_away(api):
    api.post()
    api.sagas.engine_down = True
    route = api.http.get("/dapr/subscribe").json()[0]["route"]

    assert api.http.post(route, json=cloud_event(REPLY)).json() == {"status": "RETRY"}


def test_the_public_api_document_shows_only_public_routes(api):
    # /dapr/subscribe and the reply handler were listed, though no ingress routes them.
    paths = api.http.get("/orders/openapi.json").json()["paths"]
    assert paths and all(p.startswith("/orders") for p in paths), sorted(paths)


def test_health_is_served_outside_the_public_prefix(api):
    assert api.http.get("/healthz").json()["status"] == "ok"
    assert api.http.get("/orders/docs").status_code == 200


def test_readiness_follows_the_saga_workers_connection_and_liveness_does_not():
    """Kubernetes' readiness probe: no orders while the worker is away from the sidecar."""
    from fastapi.testclient import TestClient
    from order_app.config import Settings
    from order_app.main import create_app

    app = create_app(Settings())  # the real wiring; without the lifespan the worker never connects
    http = TestClient(app)
    assert (http.get("/healthz").status_code, http.get("/healthz").json()["workflow_worker"]) == (200, False)
    unready = http.get("/readyz")
    assert (unready.status_code, unready.json()) == (503, {"status": "unready", "workflow_worker": False})

    app.state.worker.ready = True
    assert http.get("/readyz").json() == {"status": "ready", "workflow_worker": True}

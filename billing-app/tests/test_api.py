"""Public routes under /billing, with the assignment's request shapes."""

import pytest


def test_register_by_query_as_the_assignment_sends_it(client, login):
    resp = client.post(f"/billing/register?login={login}")
    assert resp.status_code == 201
    assert resp.json() == {"login": login, "balance": 0.0}


def test_register_by_json_body(client, login):
    assert client.post("/billing/register", json={"login": login}).json()["login"] == login


def test_refuses_second_registration_of_a_login(client, login, store):
    client.post(f"/billing/register?login={login}")
    before = store.snapshot()
    resp = client.post(f"/billing/register?login={login}")
    assert resp.status_code == 409
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "account_exists"
    assert store.snapshot() == before


def test_refuses_register_without_login(client, store):
    assert client.post("/billing/register").status_code == 422
    assert store.data == {}


@pytest.mark.parametrize("login", ["ù", "ann smith", "änn", "a/b", " ann", "ann\t"])
def test_refuses_a_login_the_order_app_would_refuse(client, store, login):
    """Letters outside ASCII too: the order app takes only A-Z, a-z, 0-9 and `_.@+-`."""
    assert client.post("/billing/register", params={"login": login}).status_code == 422
    assert store.data == {}


def test_refill_accepts_balance_as_the_amount_alias(client, login):
    client.post(f"/billing/register?login={login}")
    resp = client.post("/billing/refill", json={"login": login, "balance": 1000})
    assert resp.status_code == 200
    assert resp.json() == {"login": login, "balance": 1000.0}
    resp = client.post("/billing/refill", json={"login": login, "amount": "0.10"})
    assert resp.json()["balance"] == 1000.1


@pytest.mark.parametrize("amount", [0, -5, "12.345", "abc", None])
def test_refuses_bad_refill_amount_and_changes_nothing(client, login, store, amount):
    client.post(f"/billing/register?login={login}")
    before = store.snapshot()
    resp = client.post("/billing/refill", json={"login": login, "amount": amount})
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"
    assert "amount" in resp.json()["detail"]
    assert store.snapshot() == before


def test_refuses_refill_of_unknown_account(client, store):
    resp = client.post("/billing/refill", json={"login": "ghost-account", "amount": 5})
    assert resp.status_code == 404
    assert resp.json()["code"] == "unknown_account"
    assert store.data == {}


def test_unknown_account_is_404_problem(client):
    resp = client.get("/billing/account/nobody-at-all")
    assert resp.status_code == 404
    assert resp.json()["code"] == "unknown_account"


def test_openapi_is_served_under_the_prefix(client):
    assert client.get("/billing/openapi.json").status_code == 200
    assert client.get("/billing/docs").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_subscribes_to_commands_with_a_dead_letter_topic(client):
    [sub] = client.get("/dapr/subscribe").json()
    assert (sub["topic"], sub["deadLetterTopic"], sub["pubsubname"]) == (
        "billing-commands",
        "billing-commands-dead",
        "pubsub",
    )


@pytest.mark.parametrize(
    "body", [b'{"login": "x", "amount": 1e400}', b'{"login": "x", "amount": 1e30}', b"{nope"]
)
def test_refuses_absurd_or_broken_refill_bodies_with_422(client, login, store, body):
    client.post(f"/billing/register?login={login}")
    before = store.snapshot()
    resp = client.post("/billing/refill", content=body.replace(b'"x"', f'"{login}"'.encode()))
    assert resp.status_code == 422
    assert store.snapshot() == before


def test_public_api_document_shows_only_billing_routes(client):
    paths = client.get("/billing/openapi.json").json()["paths"]
    assert paths and all(path.startswith("/billing/") for path in paths)


def test_the_directory_answers_whether_an_account_exists_with_200_either_way(client, login):
    """The order app's lookup: an unknown account is an answer, never a failure status
    that Dapr's resiliency would retry and count towards its circuit breaker."""
    assert client.get("/directory/account", params={"login": login}).json() == {"exists": False}
    client.post(f"/billing/register?login={login}")
    resp = client.get("/directory/account", params={"login": login})
    assert (resp.status_code, resp.json()) == (200, {"exists": True})

"""Each refused request of api.md: a 4xx naming the problem, and nothing changed.

Through the gateway against the real stack, so "nothing changed" is checked
on the services' real state: the account (balance and payments), the product,
the courier bookings and the latest order.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import Api, future_slot


def snapshot(api: Api, login: str, product: int) -> dict[str, Any]:
    return {
        "account": api.http.get(f"/billing/account/{login}").json(),
        "payments": api.http.get(f"/billing/account/{login}/payments").json(),
        "product": api.http.get(f"/stock/{product}").json(),
        "bookings": api.http.get("/delivery").json(),
        "orders": api.http.get("/orders", params={"login": login}).json(),
        # Any order created by the request, whoever it names, would be the latest one.
        "last": api.http.get("/orders/last").json(),
    }


def order_body(user: str, product: int, **changes: Any) -> dict[str, Any]:
    """A valid order body with `changes` applied; a change to None removes the field."""
    body = {
        "login": user,
        "e_mail": "a@example.com",
        "id_product": product,
        "quntity": 1,
        "amount": 5,
        "dtime": future_slot().strftime("%Y-%m-%d %H:%M:%S"),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


CASES: dict[str, tuple[str, str, Any, set[int]]] = {
    # name: (method, path, json body (a callable of login, product) or raw text, accepted statuses)
    "order malformed json": ("POST", "/orders", "{not json", {400, 422}),
    "order missing field": ("POST", "/orders", lambda lo, p: order_body(lo, p, login=None), {422}),
    "order negative amount": ("POST", "/orders", lambda lo, p: order_body(lo, p, amount=-1), {422}),
    "order three decimals": ("POST", "/orders", lambda lo, p: order_body(lo, p, amount="1.005"), {422}),
    "order zero quantity": ("POST", "/orders", lambda lo, p: order_body(lo, p, quntity=0), {422}),
    "order in the past": (
        "POST",
        "/orders",
        lambda lo, p: order_body(lo, p, dtime="2020-01-08 10:00:00"),
        {422},
    ),
    "order unknown login": (
        "POST",
        "/orders",
        lambda lo, p: order_body(f"nobody-{uuid.uuid4().hex}", p),
        {422},
    ),
    "order unknown product": ("POST", "/orders", lambda lo, p: order_body(lo, 10**9), {422}),
    "refill zero": ("POST", "/billing/refill", lambda lo, p: {"login": lo, "amount": 0}, {422}),
    "refill negative": ("POST", "/billing/refill", lambda lo, p: {"login": lo, "amount": -5}, {422}),
    "refill three decimals": (
        "POST",
        "/billing/refill",
        lambda lo, p: {"login": lo, "amount": "1.001"},
        {422},
    ),
    "refill unknown account": (
        "POST",
        "/billing/refill",
        lambda lo, p: {"login": f"nobody-{uuid.uuid4().hex}", "amount": 5},
        {404},
    ),
    "register existing login": ("POST", "/billing/register?login={login}", None, {409}),
    "restock unknown product": ("POST", "/stock/999999999/restock", lambda lo, p: {"quantity": 1}, {404}),
    "restock negative": ("POST", "/stock/{product}/restock", lambda lo, p: {"quantity": -1}, {422}),
    "register product negative": (
        "POST",
        "/stock/register",
        lambda lo, p: {"description": "x", "quantity": -1},
        {422},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_request_names_the_problem_and_changes_nothing(api: Api, case: str) -> None:
    login, product = api.new_account(50), api.new_product(5)
    method, path, body, statuses = CASES[case]
    before = snapshot(api, login, product)

    url = path.format(login=login, product=product)
    if isinstance(body, str):
        r = api.http.request(method, url, content=body, headers={"content-type": "application/json"})
    else:
        r = api.http.request(method, url, json=body(login, product) if body else None)

    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    problem = r.json()
    assert problem.get("code") and problem.get("detail"), problem
    assert snapshot(api, login, product) == before


def test_idempotency_key_reused_with_another_body_is_refused(api: Api) -> None:
    login, product = api.new_account(50), api.new_product(5)
    key = str(uuid.uuid4())
    first = api.http.post("/orders", json=order_body(login, product), headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    api.wait_final(first.json()["id"])
    before = snapshot(api, login, product)

    again = api.http.post(
        "/orders", json=order_body(login, product, amount=6), headers={"Idempotency-Key": key}
    )

    assert again.status_code == 422, again.text
    assert again.json()["code"] == "idempotency_key_reused"
    assert snapshot(api, login, product) == before


def test_unknown_order_is_404(api: Api) -> None:
    r = api.http.get("/orders/999999999999")
    assert r.status_code == 404
    assert r.json()["code"]


def test_an_unknown_account_or_product_is_422_every_time_and_welcome_once_it_exists(api: Api) -> None:
    """Dapr's resiliency must not turn "no such account" into an outage.

    daprd counts every non-2xx answer of an invoked app as a failure: retried, and
    counted by the circuit breaker keyed by `app:method path`. When the existence
    checks answered 404, the second order of an unknown login tripped the breaker
    and, for 30 s, every order of that login was a 503, even once the account
    existed. The checks now answer 200 `{"exists": false}`, and retries match only
    transient statuses (components/resiliency.yaml, the chart's resiliency).
    """
    login, product = f"late-{uuid.uuid4().hex[:10]}", api.new_product(5)
    missing_product = 10**9 + uuid.uuid4().int % 10**6
    for _ in range(6):  # more than the breaker's trip count of 5
        r = api.create_order(login, product, 1, 1, future_slot())
        assert (r.status_code, r.json()["code"]) == (422, "unknown_account"), r.text
    owner = api.new_account(100)
    for _ in range(6):
        r = api.create_order(owner, missing_product, 1, 1, future_slot())
        assert (r.status_code, r.json()["code"]) == (422, "unknown_product"), r.text

    assert api.http.post("/billing/register", params={"login": login}).status_code == 201
    assert api.http.post("/billing/refill", json={"login": login, "amount": 10}).status_code == 200
    created = api.create_order(login, product, 1, 1, future_slot())
    assert created.status_code == 201, created.text
    assert api.wait_final(created.json()["id"])["status"] == "completed"

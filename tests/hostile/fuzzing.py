"""Fuzzing one app's public API from its own OpenAPI document, through the gateway.

Each example is checked for: no 5xx, a response body that matches the schema
where one is documented, invalid input refused, and - for a refused (4xx)
request that could write - no change in any public state. That last check is
sound because nothing else moves the state between the two snapshots: examples
run one at a time, and an accepted order is waited on until its saga is final
(compensations included) before the next example starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from tests.e2e.stack import Stack

PREFIXES = {"order": "/orders", "billing": "/billing", "stock": "/stock", "delivery": "/delivery"}
# Seeded so the documented examples (`Edmond90`, product 1) reach existing records, not just 404s.
SEED_LOGIN = "Edmond90"
READ_ONLY = {"GET", "HEAD", "OPTIONS"}
# Bounded for `make test`: examples per operation (about 20 operations in all).
FUZZ_SETTINGS = settings(
    max_examples=30,
    deadline=None,  # a request through the gateway and a sidecar has no fixed latency
    suppress_health_check=list(HealthCheck),
    database=None,  # no example database in the work tree; every run starts fresh
    # CI replays the same examples, so a landing is never decided by a new draw;
    # a developer's `make test` explores new ones each run, and prints any failure's input.
    derandomize=bool(os.environ.get("CI")),
)

Snapshot = dict[str, Any]


def load_schema(stack: Stack, app_id: str) -> schemathesis.BaseSchema:
    """The app's published document, restricted to its public prefix (what the gateway routes)."""
    prefix = PREFIXES[app_id]
    schema = schemathesis.openapi.from_url(f"{stack.url}{prefix}/openapi.json")
    return schema.include(path_regex=f"^{prefix}(/|$)")


def seed(http: httpx.Client) -> None:
    """An account with money and a product in stock, for the documented examples to land on."""
    if http.get(f"/billing/account/{SEED_LOGIN}").status_code == 404:
        assert http.post("/billing/register", params={"login": SEED_LOGIN}).status_code == 201
        assert http.post("/billing/refill", json={"login": SEED_LOGIN, "amount": 1000}).status_code == 200
    if not http.get("/stock").json():
        r = http.post("/stock/register", json={"description": "apple", "quantity": 100})
        assert r.status_code == 201, r.text


def grounded_order(case: Case, hours_ahead: int, cents: int) -> Case:
    """An order for the seeded account and product, in a future slot, for a sane amount.

    Random logins and product ids almost never exist, and the schema's amount is
    any string: without this the fuzzer would only meet the 422/404 paths and
    never start a saga. Quantity and unknown extra fields stay as generated.
    """
    if isinstance(case.body, dict):
        slot = datetime.now(UTC) + timedelta(hours=hours_ahead)
        case.body.update(
            login=SEED_LOGIN,
            e_mail=f"{SEED_LOGIN}@example.com",
            id_product=1,
            dtime=slot.strftime("%Y-%m-%d %H:00:00"),
            amount=f"{cents / 100:.2f}",
        )
        for alias in ("email", "product_id"):
            case.body.pop(alias, None)
    return case


def _logins(case: Case) -> set[str]:
    """The accounts (and their orders) a request names, wherever it names them."""
    found = {SEED_LOGIN}
    for source in (case.query, case.path_parameters, case.body):
        value = source.get("login") if isinstance(source, dict) else None
        if isinstance(value, str):
            found |= {value, value.strip()}
    return {login for login in found if login and login not in (".", "..")}


def _read(http: httpx.Client, path: str, **params: Any) -> tuple[int, Any]:
    r = http.get(path, params=params)
    return r.status_code, r.json() if r.headers.get("content-type", "").endswith("json") else r.text


def snapshot(http: httpx.Client, case: Case) -> Snapshot:
    """Every public record a request could have touched: all lists, and the accounts it names."""
    state: Snapshot = {
        "stock": _read(http, "/stock"),
        "bookings": _read(http, "/delivery"),
        "couriers": _read(http, "/delivery/couriers"),
        "orders": _read(http, "/orders", limit=100),
        "last order": _read(http, "/orders/last"),
    }
    for login in sorted(_logins(case)):
        quoted = quote(login, safe="")
        state[f"account {login!r}"] = _read(http, f"/billing/account/{quoted}")
        state[f"payments {login!r}"] = _read(http, f"/billing/account/{quoted}/payments")
        state[f"orders of {login!r}"] = _read(http, "/orders", login=login, limit=100)
    return state


def refused_request_changes_nothing(before: Snapshot, after: Callable[[], Snapshot]) -> Any:
    """A check comparing the public state around a refused request."""

    def refused_request_changed_nothing(ctx: CheckContext, response: Response, case: Case) -> bool | None:
        if not 400 <= response.status_code < 500 or case.method.upper() in READ_ONLY:
            return None
        now = after()
        changed = {key: (before.get(key), now.get(key)) for key in before.keys() | now.keys()}
        changed = {key: pair for key, pair in changed.items() if pair[0] != pair[1]}
        assert not changed, f"refused with {response.status_code}, yet changed: {changed}"
        return True

    return refused_request_changed_nothing


def wait_for_saga(http: httpx.Client, case: Case, response: Response) -> None:
    """An accepted order runs a saga: wait until it is final, so it moves no state later."""
    if case.method.upper() == "POST" and case.path == "/orders/" and response.status_code in (200, 201):
        order_id = response.json()["id"]
        final = http.get(f"/orders/{order_id}", params={"wait": 30}).json()
        assert final["status"] in ("completed", "rejected"), final


def run_example(case: Case, stack: Stack, http: httpx.Client) -> None:
    writes = case.method.upper() not in READ_ONLY
    before = snapshot(http, case) if writes else {}
    response = case.call(base_url=stack.url, timeout=60)
    wait_for_saga(http, case, response)
    checks = [not_a_server_error, response_schema_conformance, negative_data_rejection]
    if writes:
        checks.append(refused_request_changes_nothing(before, lambda: snapshot(http, case)))
    case.validate_response(response, checks=checks)


def fuzz(stack: Stack, http: httpx.Client, app_id: str) -> list[str]:
    """Fuzz every public operation of one app, valid and invalid input mixed; the failures found.

    Plain Hypothesis over schemathesis' strategies: its pytest integration cannot
    load a schema from a fixture under this pytest (it sets `Function._nodeid`).
    """
    failures = []
    for result in load_schema(stack, app_id).get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        valid = operation.as_strategy(GenerationMode.POSITIVE)
        strategies = [*operation.get_strategies_from_examples(), valid]
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
        if operation.method.upper() == "POST" and operation.path == "/orders/":
            hours, cents = st.integers(2, 500_000), st.integers(1, 200_000)
            strategies.append(st.builds(grounded_order, valid, hours, cents))
        cases = st.one_of(*strategies)

        @FUZZ_SETTINGS
        @given(case=cases)
        def examples(case: Case) -> None:
            run_example(case, stack, http)

        try:
            examples()
        except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {exc}")
    return failures
